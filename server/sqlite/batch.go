package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"github.com/captureapi/capture/server/store"
)

// insertRows inserts rows, each the arguments of the single-row INSERT …
// VALUES (…) statement single, in order: up to the largest of rowClasses in
// one statement, padded to the class's number of rows (see paddedInsert).
// There are a few such statements, parsed once on the writer connection (see
// prepareWrites), where a multi-row VALUES of each batch's own size was
// parsed again by every batch, an eighth of a batch's CPU in the store.
func insertRows(ctx context.Context, tx *writeTx, single string, rows [][]any) error {
	for len(rows) > 0 {
		class := rowClasses[len(rowClasses)-1]
		for _, c := range rowClasses {
			if c >= len(rows) {
				class = c
				break
			}
		}
		n := min(class, len(rows))
		args := make([]any, 0, class*len(rows[0]))
		for _, row := range rows[:n] {
			args = append(args, row...)
		}
		args = append(args, make([]any, (class-n)*len(rows[0]))...) // padding: NULL ids, left out
		if _, err := tx.ExecContext(ctx, paddedInsert(single, class), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// rowClasses are the numbers of rows of the statements insertRows runs: a
// batch's rows go in the smallest that holds them (a batch is at most 500
// items); binding the NULLs of the padding costs less than a parse.
var rowClasses = []int{8, 32, 128, 500}

// paddedInsert turns a single-row INSERT … VALUES (…), whose first value is
// the row's id, into one of n rows that leaves out those whose id is NULL.
func paddedInsert(single string, n int) string {
	key := paddedKey{single, n}
	if q, ok := paddedInserts.Load(key); ok {
		return q.(string)
	}
	i := strings.LastIndex(single, "VALUES ")
	row := single[i+len("VALUES "):]
	var b strings.Builder
	b.WriteString(single[:i])
	b.WriteString("SELECT * FROM (VALUES ")
	for k := range n {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(") WHERE column1 IS NOT NULL")
	paddedInserts.Store(key, b.String())
	return b.String()
}

// paddedInserts holds paddedInsert's statements, made once.
var paddedInserts sync.Map

// paddedKey is a statement of paddedInserts: its single-row INSERT and rows.
type paddedKey struct {
	single string
	n      int
}

// batchInserts are the single-row statements a batch inserts rows with.
var batchInserts = []string{insertProspectSQL, insertEvent, insertConsent}

// prospectArgs sets a new prospect's id, times and defaults, and appends the
// arguments of insertProspectSQL for it to args.
func prospectArgs(p *store.Prospect, args []any) []any {
	newRow(p)
	return rowArgs(p, args)
}

// newRow gives a prospect to insert its id, times and defaults.
func newRow(p *store.Prospect) {
	p.ID = store.NewID("prs_")
	p.Created = now()
	p.Updated = p.Created
	if p.Status == "" {
		p.Status = "new"
	}
	if p.MarketingConsent {
		p.ConsentAt = &p.Created
	}
}

// rowArgs appends the arguments of insertProspectSQL for p to args.
func rowArgs(p *store.Prospect, args []any) []any {
	return append(args, p.ID, p.AccountID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website,
		p.Source, p.Status, mustJSON(p.Tags), mustJSON(p.Metadata), p.MarketingConsent, unixPtr(p.ConsentAt), p.Hidden,
		p.Created.Unix(), p.Updated.Unix(), attributionJSON(p.Attribution))
}

const insertProspectSQL = `INSERT INTO prospects (` + prospectCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`

// insertNewProspectSQL inserts a prospect unless a live one has its email.
const insertNewProspectSQL = insertProspectSQL + ` ON CONFLICT (account_id, email) WHERE deleted_at IS NULL DO NOTHING`

// checkEmailSQL finds the live prospect other than self with an email.
const checkEmailSQL = `SELECT id, hidden FROM prospects WHERE account_id = ? AND email = ? AND deleted_at IS NULL AND id != ?`

// countProspectIn adds one to the account's live prospects if its plan allows
// one more (no row otherwise), and returns its count of enabled webhook endpoints.
const countProspectIn = `UPDATE accounts SET live_prospects = live_prospects + 1
	WHERE id = ? AND live_prospects < prospect_limit RETURNING webhook_endpoints_enabled, suppression_key`

// UpsertProspects writes a batch in one
// transaction: one query reads the live prospects with the batch's emails,
// every item is decided in memory (store.PlanUpsert), and then one multi-row
// INSERT a few hundred rows writes the new prospects, one UPDATE the existing
// ones, and multi-row INSERTs the events and consent ledger's entries.
func (db *DB) UpsertProspects(ctx context.Context, ps []*store.Prospect, conflict store.Conflict, check func(*store.Prospect) error) (out []store.Upserted, err error) {
	defer unavailable(&err)
	if len(ps) == 0 {
		return nil, nil
	}
	accountID := ps[0].AccountID
	emails := make([]string, len(ps))
	for i, p := range ps { // before the writer is taken: it waits for nothing of this
		p.Normalise()
		emails[i] = p.Email
	}
	err = db.inTx(ctx, func(tx *writeTx) error {
		var count, limit, hooks int64
		var sealed sql.NullString
		err := tx.QueryRowContext(ctx, batchAccountSQL, accountID).Scan(&count, &limit, &hooks, &sealed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // no account: the plan allows nothing
			return err
		}
		key, err := db.openSuppressionKey(accountID, sealed)
		if err != nil {
			return err
		}
		live, err := liveProspects(ctx, tx, accountID, emails)
		if err != nil {
			return err
		}
		plan, err := store.PlanUpsert(ctx, ps, store.UpsertInput{
			Live: live,
			Suppressed: func(email string) (bool, error) {
				err := checkSuppressed(ctx, tx, accountID, key, email)
				if errors.Is(err, store.ErrSuppressed) {
					return true, nil
				}
				return false, err
			},
			Room:     limit - count,
			NewRow:   newRow,
			Conflict: conflict,
			Check:    check,
			Now:      now(),
		})
		if err != nil {
			return err
		}
		out = plan.Out
		rows := make([][]any, len(plan.Insert))
		for i, p := range plan.Insert {
			rows[i] = rowArgs(p, nil)
		}
		if err := insertRows(ctx, tx, insertProspectSQL, rows); err != nil {
			return err
		}
		if len(plan.Update) > 0 {
			if _, err := tx.ExecContext(ctx, updateProspectsSQL, updateRows(plan.Update), accountID); err != nil {
				return err
			}
		}
		if !db.noEvents {
			rows := make([][]any, len(plan.Events))
			for i := range plan.Events {
				rows[i] = eventArgs(&plan.Events[i], nil)
			}
			if err := insertRows(ctx, tx, insertEvent, rows); err != nil {
				return err
			}
			for i := range plan.Events {
				if hooks == 0 {
					break
				}
				if err := db.enqueueDeliveries(ctx, tx, &plan.Events[i]); err != nil {
					return err
				}
			}
		}
		rows = make([][]any, len(plan.Consents))
		for i, c := range plan.Consents {
			rows[i] = []any{c.ID, c.AccountID, c.ProspectID, c.Granted, c.Text, c.Source, c.IP, c.UserAgent, c.Created.Unix()}
		}
		if err := insertRows(ctx, tx, insertConsent, rows); err != nil {
			return err
		}
		for _, h := range plan.Rehidden { // after the events: the batch's own follow too
			if err := followHidden(ctx, tx, h.Prospect, h.WasHidden); err != nil {
				return err
			}
		}
		if len(plan.Insert) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, countProspectsInSQL, len(plan.Insert), accountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// liveProspects reads the account's live prospects with the emails (normalised), by email.
func liveProspects(ctx context.Context, tx *writeTx, accountID string, emails []string) (map[string]*store.Prospect, error) {
	rows, err := tx.QueryContext(ctx, liveProspectsSQL, accountID, mustJSON(emails))
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

// The statements of UpsertProspects besides its inserts, prepared once (see
// prepareWrites) as its inserts are.
const (
	// batchAccountSQL reads what a batch needs of its account.
	batchAccountSQL = `SELECT live_prospects, prospect_limit, webhook_endpoints_enabled, suppression_key
		FROM accounts WHERE id = ?`
	// liveProspectsSQL reads the account's live prospects with the emails of a JSON array.
	liveProspectsSQL = `SELECT ` + prospectCols + ` FROM prospects
		WHERE account_id = ? AND deleted_at IS NULL AND email IN (SELECT value FROM json_each(?))`
	// countProspectsInSQL counts a batch's new prospects into its account's.
	countProspectsInSQL = `UPDATE accounts SET live_prospects = live_prospects + ? WHERE id = ?`
)

// batchWrites is the statements of UpsertProspects, for prepareWrites.
func batchWrites() []string {
	qs := []string{batchAccountSQL, liveProspectsSQL, countProspectsInSQL, updateProspectsSQL}
	for _, single := range batchInserts {
		for _, n := range rowClasses {
			qs = append(qs, paddedInsert(single, n))
		}
	}
	return qs
}

// updateRows is ps as the JSON array updateProspectsSQL takes: each
// prospect's columns as updateProspectSQL writes them.
func updateRows(ps []*store.Prospect) string {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.ID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source,
			p.Status, mustJSON(p.Tags), mustJSON(p.Metadata), p.MarketingConsent, unixPtr(p.ConsentAt), p.Hidden,
			p.Updated.Unix(), attributionJSON(p.Attribution)}
	}
	return mustJSON(rows)
}

// updateProspectsSQL writes the state of the prospects of a JSON array
// (?1, see updateRows) of the account ?2, in one statement.
const updateProspectsSQL = `UPDATE prospects SET email = r.value->>1, first_name = r.value->>2,
	last_name = r.value->>3, company = r.value->>4, title = r.value->>5, phone = r.value->>6,
	website = r.value->>7, source = r.value->>8, status = r.value->>9, tags = r.value->>10,
	metadata = r.value->>11, marketing_consent = r.value->>12, consent_at = r.value->>13,
	hidden = r.value->>14, updated = r.value->>15, attribution = r.value->>16
	FROM json_each(?1) AS r WHERE prospects.id = r.value->>0 AND prospects.account_id = ?2`
