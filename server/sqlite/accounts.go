package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/captureapi/capture/server/store"
)

// CreateAccount makes an account.
func (db *DB) CreateAccount(ctx context.Context, name string, prospectLimit int64, rateLimit int) (_ *store.Account, err error) {
	defer unavailable(&err)
	a := &store.Account{ID: store.NewID("acct_"), Name: name, ProspectLimit: prospectLimit, RateLimit: rateLimit,
		WebhookEndpointLimit: store.DefaultWebhookEndpointLimit, Created: now()}
	_, err = db.exec(ctx,
		`INSERT INTO accounts (id, name, prospect_limit, rate_limit, created) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.ProspectLimit, a.RateLimit, a.Created.Unix())
	if err != nil {
		if isUnique(err) {
			return nil, fmt.Errorf("account %q exists already", name)
		}
		return nil, err
	}
	return a, nil
}

const accountCols = `id, name, prospect_limit, rate_limit, webhook_endpoint_limit, live_prospects, created, retention_days`

func scanAccount(row scanner) (*store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.ProspectLimit, &a.RateLimit, &a.WebhookEndpointLimit, &a.ProspectCount, &created,
		&a.RetentionDays); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	a.Created = time.Unix(created, 0)
	return &a, nil
}

// AccountByName finds an account by name.
func (db *DB) AccountByName(ctx context.Context, name string) (_ *store.Account, err error) {
	defer unavailable(&err)
	return scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = ?`, name))
}

// Account finds an account by id.
func (db *DB) Account(ctx context.Context, id string) (_ *store.Account, err error) {
	defer unavailable(&err)
	return scanAccount(db.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

// CountAccounts counts accounts.
func (db *DB) CountAccounts(ctx context.Context) (n int, err error) {
	defer unavailable(&err)
	err = db.read.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, err
}

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

// SetRetentionDays sets the account's retention.
func (db *DB) SetRetentionDays(ctx context.Context, accountID string, days *int) (err error) {
	defer unavailable(&err)
	res, err := db.exec(ctx, `UPDATE accounts SET retention_days = ? WHERE id = ?`, days, accountID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetWebhookEndpointLimit sets how many webhook endpoints the account may have.
func (db *DB) SetWebhookEndpointLimit(ctx context.Context, accountID string, limit int) (err error) {
	defer unavailable(&err)
	res, err := db.exec(ctx, `UPDATE accounts SET webhook_endpoint_limit = ? WHERE id = ?`, limit, accountID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
