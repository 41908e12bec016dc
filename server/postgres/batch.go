package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// raced reports a batch that met another writer of its account: one that
// gave a prospect one of its emails, or changed the account's count, or
// deadlocked with it on their prospects.
func raced(err error) bool {
	return isUniqueViolation(err, liveEmailIndex) || isDeadlock(err) || errors.Is(err, errCountChanged)
}

// errCountChanged says that creates of the account committed while a batch
// decided which of its items the plan allows: the batch runs again.
var errCountChanged = errors.New("the account's count of live prospects changed under the batch")

// UpsertProspects writes a batch in one
// transaction and five statements whatever its size: it reads the account's
// count, the batch's suppressed emails and the live prospects with its emails
// (locked), decides every item in memory (store.PlanUpsert), then inserts the
// new prospects, updates the existing ones, records the events (with their
// outbox rows) and the consent ledger's entries, each set in one statement,
// and counts the new prospects in. A writer of the account that gets in the
// way (raced) makes it run again; the last run takes every
// slot of the account's count first.
func (db *DB) UpsertProspects(ctx context.Context, ps []*store.Prospect, conflict store.Conflict, check func(*store.Prospect) error) (out []store.Upserted, err error) {
	defer unavailable(ctx, &err)
	if len(ps) == 0 {
		return nil, nil
	}
	for _, p := range ps {
		p.Normalise()
	}
	err = db.Atomically(ctx, func(ctx context.Context) (err error) {
		out, err = db.upsertRuns(ctx, ps, conflict, check, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// upsertRuns is how many times UpsertProspects runs when other writers of the
// account get in its way, the last with every slot of the account's count.
const upsertRuns = 5

// lockedRuns is how many times the run that takes every slot first runs.
// Holding the slots, it waits for a prospect a deletion holds, or for one
// a create inserted, and they for a slot: PostgreSQL breaks the deadlock,
// and when it undoes this run, the other goes through and this one, run
// again, waits for its commit instead.
const lockedRuns = 3

// upsertRuns runs UpsertProspects from its run first (0, or upsertRuns-1 for
// the runs that take every slot first) until one is not in a race.
func (db *DB) upsertRuns(ctx context.Context, ps []*store.Prospect, conflict store.Conflict, check func(*store.Prospect) error, first int) (out []store.Upserted, err error) {
	var enqueued bool
	for attempt := first; attempt < upsertRuns-1+lockedRuns; attempt++ {
		locked := attempt >= upsertRuns-1
		err = db.inTx(ctx, func(tx pgx.Tx) (err error) {
			out, enqueued, err = db.upsertTogether(ctx, tx, ps, conflict, check, locked)
			return err
		})
		if !raced(err) || locked && !isDeadlock(err) {
			break
		}
	}
	if err == nil && enqueued {
		db.enqueued(ctx)
	}
	return out, err
}

// upsertTogether is one run of UpsertProspects; lock takes every slot of the
// account's count (migration 00013) before anything else, so that no create
// of the account changes its count under this run.
func (db *DB) upsertTogether(ctx context.Context, tx pgx.Tx, ps []*store.Prospect, conflict store.Conflict, check func(*store.Prospect) error, lock bool) (out []store.Upserted, enqueued bool, err error) {
	accountID := ps[0].AccountID
	emails := make([]string, len(ps))
	for i, p := range ps {
		emails[i] = p.Email
	}
	if lock {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM prospect_counts WHERE account_id = $1 ORDER BY slot FOR UPDATE`, accountID); err != nil {
			return nil, false, err
		}
	}
	q := `SELECT ` + liveProspects + `, prospect_limit, suppression_key FROM accounts WHERE id = $1`
	var count, limit int64
	var sealed *string
	err = tx.QueryRow(ctx, q, accountID).Scan(&count, &limit, &sealed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) { // no account: the plan allows nothing
		return nil, false, err
	}
	key, err := db.openSuppressionKey(accountID, sealed)
	if err != nil {
		return nil, false, err
	}
	suppressed, err := suppressedHashes(ctx, tx, accountID, key, emails)
	if err != nil {
		return nil, false, err
	}
	live, err := liveByEmail(ctx, tx, accountID, emails)
	if err != nil {
		return nil, false, err
	}
	plan, err := store.PlanUpsert(ctx, ps, store.UpsertInput{
		Live:       live,
		Suppressed: func(email string) (bool, error) { return suppressed[email], nil },
		Room:       limit - count,
		NewRow:     newProspectRow,
		Conflict:   conflict,
		Check:      check,
		Now:        now(),
	})
	if err != nil {
		return nil, false, err
	}
	var batch pgx.Batch
	if len(plan.Insert) > 0 {
		batch.Queue(insertProspectsSQL, mustRecordset(prospectRows(plan.Insert)))
	}
	if len(plan.Update) > 0 {
		batch.Queue(updateProspectsSQL, mustRecordset(prospectRows(plan.Update)), accountID)
	}
	if len(plan.Events) > 0 {
		rows, err := eventRows(plan.Events)
		if err != nil {
			return nil, false, err
		}
		batch.Queue(recordEventsSQL, rows, accountID)
	}
	if len(plan.Consents) > 0 {
		batch.Queue(insertConsentsSQL, mustRecordset(plan.Consents))
	}
	writes := batch.Len()
	if len(plan.Insert) > 0 {
		queueCountIn(&batch, accountID, int64(len(plan.Insert)))
	}
	if batch.Len() == 0 {
		return plan.Out, false, nil
	}
	res := tx.SendBatch(ctx, &batch)
	defer res.Close()
	for i := range writes {
		tag, err := res.Exec()
		if err != nil {
			return nil, false, err
		}
		if batch.QueuedQueries[i].SQL == recordEventsSQL {
			enqueued = tag.RowsAffected() > 0
		}
	}
	if len(plan.Insert) > 0 {
		if err := countedIn(res); err != nil {
			return nil, false, err
		}
	}
	if err := res.Close(); err != nil {
		return nil, false, err
	}
	for _, h := range plan.Rehidden { // after the events: the batch's own follow too
		if err := followHidden(ctx, tx, h.Prospect, h.WasHidden); err != nil {
			return nil, false, err
		}
	}
	return plan.Out, enqueued, nil
}

// liveByEmail reads and locks the account's live prospects with the emails,
// by email, in the order of their ids (as every batch locks them).
//
// The statement is planned for each batch's own emails (an unnamed
// statement, not one of the connection's prepared ones): after five runs of
// a prepared statement PostgreSQL may keep a generic plan, made for the
// average account, which walks the account's rows in id order and compares
// each with every email of the batch, one after the other with the
// collation's comparison (40-56 ms a 500-item batch into an account of
// 4,500 prospects, growing with both). Planned with the emails at hand, an
// array of them is looked up by hashing, or the rows by prospects_live_email.
func liveByEmail(ctx context.Context, tx pgx.Tx, accountID string, emails []string) (map[string]*store.Prospect, error) {
	rows, err := tx.Query(ctx, liveByEmailSQL, pgx.QueryExecModeExec, accountID, emails)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	live := map[string]*store.Prospect{}
	for rows.Next() {
		p, err := scanProspect(rows)
		if err != nil {
			return nil, err
		}
		live[p.Email] = p
	}
	return live, rows.Err()
}

// liveByEmailSQL reads and locks the live prospects of the account $1 with
// the emails $2, in the order of their ids.
const liveByEmailSQL = `SELECT ` + prospectCols + ` FROM prospects
	WHERE account_id = $1 AND email = ANY($2) AND deleted_at IS NULL ORDER BY id FOR UPDATE`

// prospectRow is a prospect as a row of insertProspectsSQL's and
// updateProspectsSQL's JSON recordset.
type prospectRow struct {
	ID               string             `json:"id"`
	AccountID        string             `json:"account_id"`
	Email            string             `json:"email"`
	FirstName        *string            `json:"first_name"`
	LastName         *string            `json:"last_name"`
	Company          *string            `json:"company"`
	Title            *string            `json:"title"`
	Phone            *string            `json:"phone"`
	Website          *string            `json:"website"`
	Source           *string            `json:"source"`
	Status           string             `json:"status"`
	Tags             []string           `json:"tags"`
	Metadata         map[string]string  `json:"metadata"`
	MarketingConsent bool               `json:"marketing_consent"`
	ConsentAt        *time.Time         `json:"consent_at"`
	Hidden           bool               `json:"hidden"`
	Created          time.Time          `json:"created"`
	Updated          time.Time          `json:"updated"`
	Attribution      *store.Attribution `json:"attribution"`
}

func prospectRows(ps []*store.Prospect) []prospectRow {
	rows := make([]prospectRow, len(ps))
	for i, p := range ps {
		rows[i] = prospectRow{p.ID, p.AccountID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website,
			p.Source, p.Status, p.Tags, p.Metadata, p.MarketingConsent, p.ConsentAt, p.Hidden, p.Created, p.Updated, p.Attribution}
		if rows[i].Tags == nil {
			rows[i].Tags = []string{}
		}
		if rows[i].Metadata == nil {
			rows[i].Metadata = map[string]string{}
		}
	}
	return rows
}

// prospectRecord is the columns of a prospectRow in jsonb_to_recordset.
const prospectRecord = `r(id text, account_id text, email text, first_name text, last_name text, company text,
	title text, phone text, website text, source text, status text, tags text[], metadata jsonb,
	marketing_consent boolean, consent_at timestamptz, hidden boolean, created timestamptz, updated timestamptz,
	attribution jsonb)`

// insertProspectsSQL inserts the prospects of a JSON array of prospectRow ($1).
const insertProspectsSQL = `INSERT INTO prospects (` + prospectCols + `)
	SELECT r.*, NULL FROM jsonb_to_recordset($1::jsonb) AS ` + prospectRecord

// updateProspectsSQL writes the state of the prospects of a JSON array of
// prospectRow ($1) of the account $2.
const updateProspectsSQL = `UPDATE prospects p SET email = r.email, first_name = r.first_name,
	last_name = r.last_name, company = r.company, title = r.title, phone = r.phone, website = r.website,
	source = r.source, status = r.status, tags = r.tags, metadata = r.metadata,
	marketing_consent = r.marketing_consent, consent_at = r.consent_at, hidden = r.hidden, updated = r.updated,
	attribution = r.attribution
	FROM jsonb_to_recordset($1::jsonb) AS ` + prospectRecord + `
	WHERE p.id = r.id AND p.account_id = $2`

// eventRows is events as the JSON array recordEventsSQL takes.
func eventRows(events []store.Event) (string, error) {
	type row struct {
		ID                 string          `json:"id"`
		Type               string          `json:"type"`
		Prospect           json.RawMessage `json:"prospect"`
		PreviousAttributes map[string]any  `json:"previous_attributes"`
		Hidden             bool            `json:"hidden"`
		RequestID          string          `json:"request_id"`
		IdempotencyKey     string          `json:"idempotency_key"`
		Created            time.Time       `json:"created"`
	}
	rows := make([]row, len(events))
	for i, e := range events {
		rows[i] = row{e.ID, e.Type, json.RawMessage(store.EventProspectJSON(&e.Prospect)), e.PreviousAttributes, e.Hidden, e.Request.ID, e.Request.IdempotencyKey, e.Created}
	}
	b, err := json.Marshal(rows)
	return string(b), err
}

// recordEventsSQL records the events of a JSON array ($1, see eventRows) of
// the account $2 and, as recordEventSQL does for one, their deliveries into
// the outbox, in the events' order.
const recordEventsSQL = `WITH e AS (
		INSERT INTO events (id, account_id, type, prospect, previous_attributes, hidden, request_id, idempotency_key, created,
			object_id)
		SELECT r.id, $2, r.type, r.prospect, r.previous_attributes, r.hidden, r.request_id, r.idempotency_key, r.created,
			coalesce(r.prospect->>'ID', '')
		FROM jsonb_to_recordset($1::jsonb) AS r(id text, type text, prospect jsonb, previous_attributes jsonb,
			hidden boolean, request_id text, idempotency_key text, created timestamptz)
		RETURNING id, type, created)
	INSERT INTO webhook_outbox (endpoint_id, event_id, created)
	SELECT w.id, e.id, e.created FROM e JOIN webhook_endpoints w
		ON w.account_id = $2 AND NOT w.disabled AND w.enabled_events && ARRAY['*', e.type]
	ORDER BY e.id, w.id`

// insertConsentsSQL inserts the consent ledger's entries of a JSON array of
// store.Consent ($1).
const insertConsentsSQL = `INSERT INTO consents (` + consentCols + `)
	SELECT r."ID", r."AccountID", r."ProspectID", r."Granted", r."Text", r."Source", r."IP", r."UserAgent", r."Created"
	FROM jsonb_to_recordset($1::jsonb) AS r("ID" text, "AccountID" text, "ProspectID" text, "Granted" boolean,
		"Text" text, "Source" text, "IP" text, "UserAgent" text, "Created" timestamptz)`

// mustRecordset is v as a JSON array for jsonb_to_recordset: v holds only
// strings, times, booleans and maps of strings, which always encode.
func mustRecordset(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
