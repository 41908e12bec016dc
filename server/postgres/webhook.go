package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

var _ store.WebhookStore = (*DB)(nil)

// SetSecretKey makes the store seal webhook secrets at rest with AES-256-GCM
// under key (32 bytes), bound to their endpoint's id (see store.SecretBox).
// Without a key, secrets are kept as they are, and reading one sealed under a
// key fails. Every replica needs the same key.
func (db *DB) SetSecretKey(key []byte) error {
	db.suppressionKeys.Clear() // unsealed with the key before
	return db.secrets.SetKey(key)
}

// SealSecretAnswer seals a kept answer that carries a signing secret under the
// same key as the secrets at rest (as it is without one).
func (db *DB) SealSecretAnswer(scope string, answer []byte) []byte {
	return []byte(db.secrets.Seal(scope, string(answer)))
}

// OpenSecretAnswer reads back an answer that SealSecretAnswer kept.
func (db *DB) OpenSecretAnswer(scope string, kept []byte) ([]byte, error) {
	plain, err := db.secrets.Open(scope, string(kept))
	return []byte(plain), err
}

// CreateWebhookEndpoint inserts an endpoint with a new secret.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) (err error) {
	defer unavailable(ctx, &err)
	e.ID, e.Created, e.Secret, e.Disabled, e.FailingSince = store.NewID("we_"), now(), store.NewWebhookSecret(), false, nil
	return db.inTx(ctx, func(tx pgx.Tx) error {
		// The account's row, locked, orders the account's creates; the count
		// comes after, in its own statement, so that its snapshot has the
		// endpoints of the create that held the lock before. (The insert's
		// trigger updates that row anyway.)
		var limit, count int
		err := tx.QueryRow(ctx, `SELECT webhook_endpoint_limit FROM accounts WHERE id = $1 FOR UPDATE`, e.AccountID).Scan(&limit)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrEndpointLimit
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE account_id = $1`, e.AccountID).Scan(&count); err != nil {
			return err
		}
		if count >= limit {
			return store.ErrEndpointLimit
		}
		_, err = tx.Exec(ctx, `INSERT INTO webhook_endpoints (id, account_id, url, description, enabled_events, secret, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.ID, e.AccountID, e.URL, e.Description, e.EnabledEvents, db.secrets.Seal(e.ID, e.Secret), e.Created)
		return err
	})
}

const endpointCols = `id, account_id, url, description, enabled_events, secret, disabled, failing_since, created`

// scanEndpoint reads one endpoint; its Secret is the stored form, to open.
func scanEndpoint(row pgx.Row) (*store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	err := row.Scan(&e.ID, &e.AccountID, &e.URL, &e.Description, &e.EnabledEvents, &e.Secret, &e.Disabled, &e.FailingSince, &e.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// WebhookEndpoint returns one endpoint of the account, without its secret.
func (db *DB) WebhookEndpoint(ctx context.Context, accountID, id string) (e *store.WebhookEndpoint, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		e, err = scanEndpoint(q.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1 AND account_id = $2`, id, accountID))
		return err
	})
	if err != nil {
		return nil, err
	}
	e.Secret = ""
	return e, nil
}

// ListWebhookEndpoints returns the account's endpoints, newest first, without secrets.
func (db *DB) ListWebhookEndpoints(ctx context.Context, accountID string) (out []store.WebhookEndpoint, err error) {
	defer unavailable(ctx, &err)
	out = []store.WebhookEndpoint{}
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE account_id = $1 ORDER BY id DESC`, accountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEndpoint(rows)
			if err != nil {
				return err
			}
			e.Secret = ""
			out = append(out, *e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateWebhookEndpoint applies a patch to the locked row.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, accountID, id string, patch store.WebhookEndpointPatch) (out *store.WebhookEndpoint, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
			WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID))
		if err != nil {
			return err
		}
		patch.Apply(e)
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3, disabled = $4,
			failing_since = $5 WHERE id = $6`, e.URL, e.Description, e.EnabledEvents, e.Disabled, e.FailingSince, e.ID)
		e.Secret = ""
		out = e
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebhookEndpoint deletes an endpoint and its attempts.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) (err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return store.ErrNotFound
	}
	return db.with(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2`, id, accountID)
		if err == nil && tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return err
	})
}

// WebhookAttempts returns the endpoint's latest attempts, newest first.
func (db *DB) WebhookAttempts(ctx context.Context, accountID, endpointID string, limit int) (out []store.WebhookAttempt, err error) {
	defer unavailable(ctx, &err)
	out = []store.WebhookAttempt{}
	if unstorable(endpointID) {
		return out, nil
	}
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT a.id, a.endpoint_id, a.event_id, a.attempt, a.created, a.status_code,
			a.duration_ms, a.error, a.succeeded FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id
			WHERE a.endpoint_id = $1 AND e.account_id = $2 ORDER BY a.id DESC LIMIT $3`, endpointID, accountID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a store.WebhookAttempt
			var ms int64
			if err := rows.Scan(&a.ID, &a.EndpointID, &a.EventID, &a.Attempt, &a.Created, &a.StatusCode, &ms, &a.Error, &a.Succeeded); err != nil {
				return err
			}
			a.Duration = time.Duration(ms) * time.Millisecond
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WebhookDelivery returns the endpoint, with its secret opened, and the event.
func (db *DB) WebhookDelivery(ctx context.Context, endpointID, eventID string) (_ *store.WebhookEndpoint, _ *store.Event, err error) {
	defer unavailable(ctx, &err)
	var e *store.WebhookEndpoint
	err = db.with(ctx, func(q querier) error {
		e, err = scanEndpoint(q.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1`, endpointID))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if e.Secret, err = db.secrets.Open(e.ID, e.Secret); err != nil {
		return nil, nil, err
	}
	ev, err := db.Event(ctx, e.AccountID, eventID)
	if err != nil {
		return nil, nil, err
	}
	return e, ev, nil
}

// RecordWebhookAttempt keeps an attempt and tracks the endpoint's failing
// streak, under the endpoint's row lock: attempts recorded by several
// replicas at once see each other's.
func (db *DB) RecordWebhookAttempt(ctx context.Context, a *store.WebhookAttempt, disableAfter time.Duration) (disabled bool, err error) {
	defer unavailable(ctx, &err)
	a.ID = store.NewID("wha_")
	if a.Created.IsZero() {
		a.Created = now()
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		var failingSince *time.Time
		var wasDisabled bool
		err := tx.QueryRow(ctx, `SELECT failing_since, disabled FROM webhook_endpoints WHERE id = $1 FOR UPDATE`, a.EndpointID).
			Scan(&failingSince, &wasDisabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound // the endpoint was deleted meanwhile
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempt, created, status_code,
			duration_ms, error, succeeded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			a.ID, a.EndpointID, a.EventID, a.Attempt, a.Created, a.StatusCode, a.Duration.Milliseconds(), a.Error, a.Succeeded); err != nil {
			return err
		}
		// A success ends the failing streak; a failure starts one, and
		// disables the endpoint once the streak is disableAfter long.
		if a.Succeeded {
			failingSince = nil
		} else if failingSince == nil {
			failingSince = &a.Created
		}
		disabled = !a.Succeeded && !wasDisabled && !failingSince.After(a.Created.Add(-disableAfter))
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = $2, disabled = disabled OR $3 WHERE id = $1`,
			a.EndpointID, failingSince, disabled)
		return err
	})
	return disabled, err
}

// ResendEvent enqueues the event again for the enabled endpoints that want its
// type (the one named, or all), in one transaction, and wakes the relay.
func (db *DB) ResendEvent(ctx context.Context, accountID, eventID, endpointID string) (ids []string, err error) {
	defer unavailable(ctx, &err)
	if unstorable(eventID) || unstorable(endpointID) {
		return nil, store.ErrNotFound
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		var typ string
		err := tx.QueryRow(ctx, `SELECT type FROM events WHERE id = $1 AND account_id = $2`, eventID, accountID).Scan(&typ)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO webhook_outbox (endpoint_id, event_id, created)
			SELECT id, $1, $2 FROM webhook_endpoints WHERE account_id = $3 AND NOT disabled
			AND ($5 = '' OR id = $5) AND enabled_events && ARRAY['*', $4::text]
			RETURNING endpoint_id`, eventID, now(), accountID, typ, endpointID)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		db.relay.Wake()
	}
	slices.Sort(ids)
	return ids, nil
}
