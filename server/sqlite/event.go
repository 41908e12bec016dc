package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/captureapi/capture/server/store"
)

var _ store.EventStore = (*DB)(nil)

// recordEvent writes the event of a change to p in the change's transaction,
// and enqueues its deliveries to the account's endpoints that want it in the
// same transaction (an outbox): the change, its event and its deliveries
// commit together or not at all. hooks false says the account has no enabled
// endpoint (its webhook_endpoints_enabled, read in the change's transaction),
// and spares the outbox statement.
func (db *DB) recordEvent(ctx context.Context, tx *writeTx, typ string, p *store.Prospect, prev map[string]any, hidden, hooks bool) error {
	if db.noEvents {
		return nil
	}
	e := store.NewEvent(ctx, typ, p, prev, hidden)
	if _, err := tx.ExecContext(ctx, insertEvent, eventArgs(&e, nil)...); err != nil {
		return err
	}
	if !hooks {
		return nil
	}
	return db.enqueueDeliveries(ctx, tx, &e)
}

// eventArgs appends the arguments of insertEvent for e to args.
func eventArgs(e *store.Event, args []any) []any {
	var prevJSON any
	if e.PreviousAttributes != nil {
		prevJSON = mustJSON(e.PreviousAttributes)
	}
	return append(args, e.ID, e.AccountID, e.Type, store.EventProspectJSON(&e.Prospect), prevJSON, e.Hidden, e.Request.ID,
		e.Request.IdempotencyKey, e.Created.Unix(), e.Prospect.ID)
}

// The statements every change runs besides its own, prepared once on the
// writer connection (see prepareWrites): SQLite spends longer parsing them than
// running them.
const (
	insertEvent = `INSERT INTO events (id, account_id, type, prospect, previous_attributes, hidden,
		request_id, idempotency_key, created, object_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// prepareWrites prepares, on the writer connection, the statements above and
// the others that run in most write transactions: a create's, an update's, a
// delete's, a batch's, an Idempotency-Key's claim and answer, a request's savepoint. A
// statement prepared in a transaction instead is parsed again by every
// transaction that runs it: the claim's two were a fifth of a lone idempotent
// create's CPU. It runs once the schema has them, outside any transaction: the
// writer pool has one connection.
func (db *DB) prepareWrites(ctx context.Context) {
	for _, q := range append([]string{insertEvent, insertOutbox, countProspectIn, insertNewProspectSQL, checkEmailSQL,
		selectHolder, upsertClaim, prospectForWriteSQL, updateProspectSQL, eraseProspectSQL, uncountProspectSQL,
		indexPendingSQL, clearPendingSQL,
		"SAVEPOINT request", "ROLLBACK TO request", "RELEASE request"}, batchWrites()...) {
		if _, ok := db.writeStmts.Load(q); ok {
			continue
		}
		if st, err := db.write.PrepareContext(ctx, q); err == nil {
			db.writeStmts.Store(q, st)
		}
	}
}

const eventCols = `id, account_id, type, prospect, previous_attributes, hidden, request_id, idempotency_key, created`

func scanEvent(row scanner) (*store.Event, error) {
	var e store.Event
	var prospect string
	var prev sql.NullString
	var created int64
	err := row.Scan(&e.ID, &e.AccountID, &e.Type, &prospect, &prev, &e.Hidden, &e.Request.ID, &e.Request.IdempotencyKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := unmarshalEventObject(&e, prospect); err != nil {
		return nil, fmt.Errorf("event %s object: %w", e.ID, err)
	}
	if prev.Valid {
		if err := json.Unmarshal([]byte(prev.String), &e.PreviousAttributes); err != nil {
			return nil, fmt.Errorf("event %s previous_attributes: %w", e.ID, err)
		}
	}
	e.Created = time.Unix(created, 0)
	return &e, nil
}

// Event returns one event of the account.
func (db *DB) Event(ctx context.Context, accountID, id string) (_ *store.Event, err error) {
	defer unavailable(&err)
	return scanEvent(db.queryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = ? AND account_id = ?`, id, accountID))
}

// ListEvents returns a keyset page of events, newest first, as ListProspects does.
func (db *DB) ListEvents(ctx context.Context, accountID string, lp store.EventListParams) (_ *store.EventPage, err error) {
	defer unavailable(&err)
	var q strings.Builder
	args := []any{accountID}
	q.WriteString(`SELECT ` + eventCols + ` FROM events WHERE account_id = ?`)
	if !lp.IncludeHidden {
		q.WriteString(` AND hidden = 0`)
	}
	if lp.Type != "" {
		q.WriteString(` AND type = ?`)
		args = append(args, lp.Type)
	}
	rows, more, err := listPage(ctx, db, &q, args, lp.Keyset(), scanEvent)
	if err != nil {
		return nil, err
	}
	return &store.EventPage{Events: rows, HasMore: more}, nil
}

// unmarshalEventObject reads an event's object as stored: a form submission
// for form_submission.created, else the prospect.
func unmarshalEventObject(e *store.Event, stored string) error {
	if e.Type == store.EventFormSubmissionCreated {
		e.Submission = new(store.FormSubmission)
		return json.Unmarshal([]byte(stored), e.Submission)
	}
	return json.Unmarshal([]byte(stored), &e.Prospect)
}
