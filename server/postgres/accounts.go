package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// CreateAccount makes an account; its name is unique.
func (db *DB) CreateAccount(ctx context.Context, name string, prospectLimit int64, rateLimit int) (_ *store.Account, err error) {
	defer unavailable(ctx, &err)
	a := &store.Account{ID: store.NewID("acct_"), Name: name, ProspectLimit: prospectLimit, RateLimit: rateLimit,
		WebhookEndpointLimit: store.DefaultWebhookEndpointLimit, Created: now()}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, prospect_limit, rate_limit, created) VALUES ($1, $2, $3, $4, $5)`,
			a.ID, a.Name, a.ProspectLimit, a.RateLimit, a.Created)
		return err
	})
	if isUniqueViolation(err, "") {
		return nil, fmt.Errorf("account %q exists already", name)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

const accountCols = `id, name, prospect_limit, rate_limit, webhook_endpoint_limit, live_prospects, created, retention_days`

func scanAccount(row pgx.Row) (*store.Account, error) {
	var a store.Account
	if err := row.Scan(&a.ID, &a.Name, &a.ProspectLimit, &a.RateLimit, &a.WebhookEndpointLimit, &a.ProspectCount, &a.Created,
		&a.RetentionDays); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	return &a, nil
}

// AccountByName finds an account by name.
func (db *DB) AccountByName(ctx context.Context, name string) (a *store.Account, err error) {
	defer unavailable(ctx, &err)
	err = db.with(ctx, func(q querier) error {
		a, err = scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = $1`, name))
		return err
	})
	return a, err
}

// Account finds an account by id.
func (db *DB) Account(ctx context.Context, id string) (a *store.Account, err error) {
	defer unavailable(ctx, &err)
	err = db.with(ctx, func(q querier) error {
		a, err = scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
		return err
	})
	return a, err
}

// CountAccounts counts accounts.
func (db *DB) CountAccounts(ctx context.Context) (n int, err error) {
	defer unavailable(ctx, &err)
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	})
	return n, err
}

// ListAccounts returns every account, oldest first.
func (db *DB) ListAccounts(ctx context.Context) (out []store.Account, err error) {
	defer unavailable(ctx, &err)
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY created, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			out = append(out, *a)
		}
		return rows.Err()
	})
	return out, err
}

// SetRetentionDays sets the account's retention.
func (db *DB) SetRetentionDays(ctx context.Context, accountID string, days *int) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE accounts SET retention_days = $2 WHERE id = $1`, accountID, days)
		if err == nil && tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return err
	})
}

// SetWebhookEndpointLimit sets how many webhook endpoints the account may have.
func (db *DB) SetWebhookEndpointLimit(ctx context.Context, accountID string, limit int) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE accounts SET webhook_endpoint_limit = $2 WHERE id = $1`, accountID, limit)
		if err == nil && tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return err
	})
}
