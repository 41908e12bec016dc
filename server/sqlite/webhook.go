package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/captureapi/capture/server/store"
)

var _ store.WebhookStore = (*DB)(nil)

// SetSecretKey makes the store seal webhook secrets at rest with AES-256-GCM
// under key (32 bytes), bound to their endpoint's id (see store.SecretBox).
// Without a key, secrets are kept as they are, and reading one sealed under a
// key fails.
func (db *DB) SetSecretKey(key []byte) error { return db.secrets.SetKey(key) }

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
	defer unavailable(&err)
	e.ID, e.Created, e.Secret, e.Disabled, e.FailingSince = store.NewID("we_"), now(), store.NewWebhookSecret(), false, nil
	sealed := db.secrets.Seal(e.ID, e.Secret)
	// One statement on the single writer: the count it checks cannot change
	// before its insert.
	res, err := db.exec(ctx, `INSERT INTO webhook_endpoints (id, account_id, url, description, enabled_events, secret, created)
		SELECT ?, a.id, ?, ?, ?, ?, ? FROM accounts a WHERE a.id = ?
		AND (SELECT count(*) FROM webhook_endpoints WHERE account_id = a.id) < a.webhook_endpoint_limit`,
		e.ID, e.URL, e.Description, mustJSON(e.EnabledEvents), sealed, e.Created.Unix(), e.AccountID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrEndpointLimit // or no such account
	}
	return nil
}

const endpointCols = `id, account_id, url, description, enabled_events, secret, disabled, failing_since, created`

// scanEndpoint reads one endpoint; its Secret is the stored form, to unseal.
func scanEndpoint(row scanner) (*store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var enabled string
	var failing sql.NullInt64
	var created int64
	err := row.Scan(&e.ID, &e.AccountID, &e.URL, &e.Description, &enabled, &e.Secret, &e.Disabled, &failing, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(enabled, &e.EnabledEvents); err != nil {
		return nil, err
	}
	if failing.Valid {
		t := time.Unix(failing.Int64, 0)
		e.FailingSince = &t
	}
	e.Created = time.Unix(created, 0)
	return &e, nil
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// WebhookEndpoint returns one endpoint of the account, without its secret.
func (db *DB) WebhookEndpoint(ctx context.Context, accountID, id string) (_ *store.WebhookEndpoint, err error) {
	defer unavailable(&err)
	e, err := scanEndpoint(db.queryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ? AND account_id = ?`, id, accountID))
	if e != nil {
		e.Secret = ""
	}
	return e, err
}

// ListWebhookEndpoints returns the account's endpoints, newest first, without secrets.
func (db *DB) ListWebhookEndpoints(ctx context.Context, accountID string) (_ []store.WebhookEndpoint, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE account_id = ? ORDER BY id DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.WebhookEndpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		e.Secret = ""
		out = append(out, *e)
	}
	return out, rows.Err()
}

// UpdateWebhookEndpoint applies a patch in one transaction.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, accountID, id string, patch store.WebhookEndpointPatch) (out *store.WebhookEndpoint, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		e, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ? AND account_id = ?`, id, accountID))
		if err != nil {
			return err
		}
		patch.Apply(e)
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, enabled_events = ?, disabled = ?,
			failing_since = ? WHERE id = ?`, e.URL, e.Description, mustJSON(e.EnabledEvents), e.Disabled, unixPtr(e.FailingSince), e.ID)
		e.Secret = ""
		out = e
		return err
	})
	return out, err
}

// DeleteWebhookEndpoint deletes an endpoint and its attempts.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) (err error) {
	defer unavailable(&err)
	res, err := db.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ?`, id, accountID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// WebhookAttempts returns the endpoint's latest attempts, newest first.
func (db *DB) WebhookAttempts(ctx context.Context, accountID, endpointID string, limit int) (_ []store.WebhookAttempt, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT a.id, a.endpoint_id, a.event_id, a.attempt, a.created, a.status_code,
		a.duration_ms, a.error, a.succeeded FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id
		WHERE a.endpoint_id = ? AND e.account_id = ? ORDER BY a.id DESC LIMIT ?`, endpointID, accountID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.WebhookAttempt{}
	for rows.Next() {
		var a store.WebhookAttempt
		var created, ms int64
		if err := rows.Scan(&a.ID, &a.EndpointID, &a.EventID, &a.Attempt, &created, &a.StatusCode, &ms, &a.Error, &a.Succeeded); err != nil {
			return nil, err
		}
		a.Created, a.Duration = time.Unix(created, 0), time.Duration(ms)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// WebhookDelivery returns the endpoint, with its secret unsealed, and the event.
func (db *DB) WebhookDelivery(ctx context.Context, endpointID, eventID string) (_ *store.WebhookEndpoint, _ *store.Event, err error) {
	defer unavailable(&err)
	e, err := scanEndpoint(db.queryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ?`, endpointID))
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

// RecordWebhookAttempt keeps an attempt and tracks the endpoint's failing streak.
func (db *DB) RecordWebhookAttempt(ctx context.Context, a *store.WebhookAttempt, disableAfter time.Duration) (disabled bool, err error) {
	defer unavailable(&err)
	a.ID = store.NewID("wha_")
	if a.Created.IsZero() {
		a.Created = now()
	}
	err = db.inTx(ctx, func(tx *writeTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempt, created, status_code,
			duration_ms, error, succeeded) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?)`,
			a.ID, a.EndpointID, a.EventID, a.Attempt, a.Created.Unix(), a.StatusCode, a.Duration.Milliseconds(), a.Error, a.Succeeded, a.EndpointID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound // the endpoint was deleted meanwhile
		}
		if a.Succeeded {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`, a.EndpointID)
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL`,
			a.Created.Unix(), a.EndpointID); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET disabled = 1 WHERE id = ? AND disabled = 0 AND failing_since <= ?`,
			a.EndpointID, a.Created.Add(-disableAfter).Unix())
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		disabled = n > 0
		return nil
	})
	return disabled, err
}

// ResendEvent enqueues the event again for the enabled endpoints that want its
// type (the one named, or all), in one transaction, and wakes the relay.
func (db *DB) ResendEvent(ctx context.Context, accountID, eventID, endpointID string) (ids []string, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		ids = ids[:0]
		var typ string
		err := tx.QueryRowContext(ctx, `SELECT type FROM events WHERE id = ? AND account_id = ?`, eventID, accountID).Scan(&typ)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO webhook_outbox (endpoint_id, event_id, created)
			SELECT id, ?1, ?2 FROM webhook_endpoints WHERE account_id = ?3 AND disabled = 0 AND (?5 = '' OR id = ?5)
			AND EXISTS (SELECT 1 FROM json_each(enabled_events) WHERE value IN ('*', ?4))
			RETURNING endpoint_id`, eventID, now().Unix(), accountID, typ, endpointID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
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
