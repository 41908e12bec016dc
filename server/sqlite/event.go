package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
	return append(args, e.ID, e.AccountID, e.Type, eventProspectJSON(&e.Prospect), prevJSON, e.Hidden, e.Request.ID,
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

// eventProspectJSON is an event's prospect as JSON, written by hand: a create
// spends less on it than on encoding/json's reflection, and fields at their
// zero value are left out (a deletion's event has the id alone). It reads
// back with encoding/json into the same store.Prospect as json.Marshal's.
func eventProspectJSON(p *store.Prospect) string {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	str := func(name, v string) {
		if v != "" {
			b = appendJSONString(append(append(b, ',', '"'), name+`":`...), v)
		}
	}
	ptr := func(name string, v *string) {
		if v != nil {
			b = appendJSONString(append(append(b, ',', '"'), name+`":`...), *v)
		}
	}
	tm := func(name string, t *time.Time) {
		if t != nil && !t.IsZero() {
			b = append(append(append(b, ',', '"'), name+`":"`...), t.Format(time.RFC3339Nano)...)
			b = append(b, '"')
		}
	}
	b = appendJSONString(append(b, `"ID":`...), p.ID)
	str("AccountID", p.AccountID)
	str("Email", p.Email)
	ptr("FirstName", p.FirstName)
	ptr("LastName", p.LastName)
	ptr("Company", p.Company)
	ptr("Title", p.Title)
	ptr("Phone", p.Phone)
	ptr("Website", p.Website)
	ptr("Source", p.Source)
	str("Status", p.Status)
	if p.Tags != nil {
		b = append(b, `,"Tags":[`...)
		for i, t := range p.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	if p.Metadata != nil {
		b = append(b, `,"Metadata":{`...)
		for i, k := range slices.Sorted(maps.Keys(p.Metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, k), ':')
			b = appendJSONString(b, p.Metadata[k])
		}
		b = append(b, '}')
	}
	if p.MarketingConsent {
		b = append(b, `,"MarketingConsent":true`...)
	}
	tm("ConsentAt", p.ConsentAt)
	if p.Hidden {
		b = append(b, `,"Hidden":true`...)
	}
	tm("Created", &p.Created)
	tm("Updated", &p.Updated)
	if p.Attribution != nil {
		b = append(append(b, `,"Attribution":`...), mustJSON(p.Attribution)...)
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
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
