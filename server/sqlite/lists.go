package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/captureapi/capture/server/store"
)

// ListAccounts returns every account, oldest first.
func (db *DB) ListAccounts(ctx context.Context) (_ []store.Account, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// ListKeys returns the keys of an account (every account's when accountID is
// empty), oldest first.
func (db *DB) ListKeys(ctx context.Context, accountID string) (_ []store.APIKey, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT id, account_id, role, created, revoked_at FROM api_keys
		WHERE ? = '' OR account_id = ? ORDER BY created, id`, accountID, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		var k store.APIKey
		var role string
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.AccountID, &role, &created, &revoked); err != nil {
			return nil, err
		}
		k.Role, k.Created = store.Role(role), time.Unix(created, 0)
		if revoked.Valid {
			k.Revoked, k.RevokedAt = true, time.Unix(revoked.Int64, 0)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
