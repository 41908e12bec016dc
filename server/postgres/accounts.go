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

const accountCols = `id, name, prospect_limit, rate_limit, webhook_endpoint_limit, ` + liveProspects + `, created, retention_days`

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

// liveProspects is the account's count of live prospects, in a query of its
// accounts row: its base plus the sum of its slots (migration 00013), which
// creates and deletions update one at a time so as not to wait on each other.
const liveProspects = `live_prospects + (SELECT coalesce(sum(c.live), 0) FROM prospect_counts c WHERE c.account_id = accounts.id)::bigint`

// countOutSQL takes a deleted prospect ($1 its account) out of the count,
// through the slot of the connection, as creates count in.
const countOutSQL = `UPDATE prospect_counts SET live = live - 1 WHERE account_id = $1 AND slot = pg_backend_pid() % 16`

// queueCountIn queues, last in a batch's statements, the count of its created
// new prospects into the account's: countedIn reads its answer.
func queueCountIn(b *pgx.Batch, accountID string, created int64) {
	b.Queue(`SELECT count_prospects_in($1, $2)`, accountID, created)
}

// countedIn reads the answer of queueCountIn: errCountChanged when the plan
// does not allow them all now (creates of the account committed since the
// batch read its count), so that the batch runs again.
func countedIn(res pgx.BatchResults) error {
	var ok bool
	err := res.QueryRow().Scan(&ok)
	switch {
	case isSerializationFailure(err):
		return errCountChanged
	case err != nil:
		return err
	case !ok:
		return errCountChanged
	}
	return nil
}
