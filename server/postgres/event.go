package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

var _ store.EventStore = (*DB)(nil)

// recordEvent writes the event of a change to p in the change's transaction,
// and, in the same statement, one delivery of it to each enabled endpoint of
// the account that wants its type (the outbox, see queue.go): the change, its
// event and its deliveries commit together or not at all. It tells whether
// any delivery was enqueued, for the relay to be woken after the commit.
// hooks false says the account has no enabled endpoint (read in the change's
// transaction), and inserts the event alone.
func recordEvent(ctx context.Context, tx pgx.Tx, typ string, p *store.Prospect, prev map[string]any, hidden, hooks bool) (enqueued bool, err error) {
	q, args, err := eventStatement(ctx, typ, p, prev, hidden, hooks)
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return false, err
	}
	return hooks && tag.RowsAffected() > 0, nil
}

// eventStatement is the statement that records the event of a change to p,
// and its arguments: recordEventSQL, or insertEventSQL when !hooks.
func eventStatement(ctx context.Context, typ string, p *store.Prospect, prev map[string]any, hidden, hooks bool) (string, []any, error) {
	e := store.NewEvent(ctx, typ, p, prev, hidden)
	var prevJSON []byte // NULL without previous attributes
	if prev != nil {
		var err error
		if prevJSON, err = json.Marshal(prev); err != nil {
			return "", nil, err
		}
	}
	q := insertEventSQL
	if hooks {
		q = recordEventSQL
	}
	return q, []any{e.ID, e.AccountID, e.Type, store.EventProspectJSON(&e.Prospect), nullJSON(prevJSON), e.Hidden,
		e.Request.ID, e.Request.IdempotencyKey, e.Created}, nil
}

// recordEventSQL inserts the event ($1…$9) and, for every enabled endpoint of
// its account whose enabled_events has its type or "*", a delivery into the
// outbox: one round trip per change.
const recordEventSQL = `WITH event AS (
		INSERT INTO events (id, account_id, type, prospect, previous_attributes, hidden, request_id, idempotency_key, created,
			object_id)
		VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, coalesce($4::jsonb->>'ID', '')))
	INSERT INTO webhook_outbox (endpoint_id, event_id, created)
	SELECT id, $1, $9 FROM webhook_endpoints
	WHERE account_id = $2 AND NOT disabled AND enabled_events && ARRAY['*', $3::text]`

// nullJSON is a JSON document as a parameter, NULL when empty.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const eventCols = `id, account_id, type, prospect, previous_attributes, hidden, request_id, idempotency_key, created`

func scanEvent(row pgx.Row) (*store.Event, error) {
	var e store.Event
	var prospect, prev []byte
	err := row.Scan(&e.ID, &e.AccountID, &e.Type, &prospect, &prev, &e.Hidden, &e.Request.ID, &e.Request.IdempotencyKey, &e.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	target := any(&e.Prospect)
	if e.Type == store.EventFormSubmissionCreated {
		e.Submission = new(store.FormSubmission)
		target = e.Submission
	}
	if err := json.Unmarshal(prospect, target); err != nil {
		return nil, fmt.Errorf("event %s object: %w", e.ID, err)
	}
	if prev != nil {
		if err := json.Unmarshal(prev, &e.PreviousAttributes); err != nil {
			return nil, fmt.Errorf("event %s previous_attributes: %w", e.ID, err)
		}
	}
	return &e, nil
}

// Event returns one event of the account.
func (db *DB) Event(ctx context.Context, accountID, id string) (e *store.Event, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		e, err = scanEvent(q.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1 AND account_id = $2`, id, accountID))
		return err
	})
	return e, err
}

// ListEvents returns a keyset page of events, newest first, as ListProspects does.
func (db *DB) ListEvents(ctx context.Context, accountID string, lp store.EventListParams) (page *store.EventPage, err error) {
	defer unavailable(ctx, &err)
	var q strings.Builder
	args := []any{accountID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT ` + eventCols + ` FROM events WHERE account_id = $1`)
	if !lp.IncludeHidden {
		q.WriteString(` AND NOT hidden`)
	}
	if lp.Type != "" {
		q.WriteString(` AND type = ` + arg(lp.Type))
	}
	rows, more, err := listPage(ctx, db, &q, args, lp.Keyset(), scanEvent)
	if err != nil {
		return nil, err
	}
	return &store.EventPage{Events: rows, HasMore: more}, nil
}

// recorded as long ago.
func (db *DB) PurgeEvents(ctx context.Context, before time.Time) (n int64, err error) {
	defer unavailable(ctx, &err)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		// Per account: the key is (account_id, id).
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE account_id IN (SELECT id FROM accounts) AND id < $1`,
			store.IDBefore("evt_", before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM webhook_attempts WHERE created < $1`, before)
		return err
	})
	return n, err
}

// insertEventSQL inserts the event alone, with the parameters of recordEventSQL.
const insertEventSQL = `INSERT INTO events (id, account_id, type, prospect, previous_attributes, hidden, request_id,
	idempotency_key, created, object_id) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, coalesce($4::jsonb->>'ID', ''))`
