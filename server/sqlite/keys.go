package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/captureapi/capture/server/store"
)

// CreateKey makes a key and returns its secret once.
func (db *DB) CreateKey(ctx context.Context, accountID string, role store.Role) (_ *store.APIKey, _ string, err error) {
	defer unavailable(&err)
	if !role.Valid() {
		return nil, "", fmt.Errorf("role must be admin or standard, not %q", role)
	}
	k := &store.APIKey{ID: store.NewID("key_"), AccountID: accountID, Role: role, Created: now()}
	secret := store.NewSecret()
	_, err = db.exec(ctx,
		`INSERT INTO api_keys (id, account_id, hash, role, created) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, store.HashSecret(secret), string(k.Role), k.Created.Unix())
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// KeyBySecret finds a key by its secret's hash.
func (db *DB) KeyBySecret(ctx context.Context, secret string) (_ *store.APIKey, err error) {
	defer unavailable(&err)
	want := store.HashSecret(secret)
	var k store.APIKey
	var hash []byte
	var role string
	var created int64
	var revoked sql.NullInt64
	err = db.queryRow(ctx, `SELECT k.id, k.account_id, k.hash, k.role, k.created, k.revoked_at, a.rate_limit
		FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hash = ?`, want).
		Scan(&k.ID, &k.AccountID, &hash, &role, &created, &revoked, &k.RateLimit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// The index lookup already matched; compare again in constant time so that no
	// code path decides on a secret with an early-exit comparison.
	if subtle.ConstantTimeCompare(hash, want) != 1 {
		return nil, store.ErrNotFound
	}
	k.Role, k.Created, k.Revoked = store.Role(role), time.Unix(created, 0), revoked.Valid
	return &k, nil
}

// RevokeKey revokes a key.
func (db *DB) RevokeKey(ctx context.Context, id string) (err error) {
	defer unavailable(&err)
	res, err := db.exec(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
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
