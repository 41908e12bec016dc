package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/captureapi/capture/server/store"
)

// insertMany runs the single-row INSERT query for n rows at once, args being
// theirs one after another.
func insertMany(ctx context.Context, tx *writeTx, query string, n int, args []any) error {
	if n == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, insertRows(query, n), args...)
	return err
}

// insertRows turns a single-row INSERT … VALUES (…) into one of n rows.
func insertRows(query string, n int) string {
	i := strings.LastIndex(query, "VALUES ")
	row := query[i+len("VALUES "):]
	var b strings.Builder
	b.WriteString(query)
	for range n - 1 {
		b.WriteString(", ")
		b.WriteString(row)
	}
	return b.String()
}

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
		err := tx.QueryRowContext(ctx, `SELECT live_prospects, prospect_limit, webhook_endpoints_enabled, suppression_key
			FROM accounts WHERE id = ?`, accountID).Scan(&count, &limit, &hooks, &sealed)
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
		for chunk := range slices.Chunk(plan.Insert, upsertChunk) {
			var args []any
			for _, p := range chunk {
				args = rowArgs(p, args)
			}
			if err := insertMany(ctx, tx, insertProspectSQL, len(chunk), args); err != nil {
				return err
			}
		}
		if len(plan.Update) > 0 {
			if _, err := tx.ExecContext(ctx, updateProspectsSQL, updateRows(plan.Update), accountID); err != nil {
				return err
			}
		}
		if !db.noEvents {
			for chunk := range slices.Chunk(plan.Events, upsertChunk) {
				var args []any
				for i := range chunk {
					args = eventArgs(&chunk[i], args)
				}
				if err := insertMany(ctx, tx, insertEvent, len(chunk), args); err != nil {
					return err
				}
				for i := range chunk {
					if hooks == 0 {
						break
					}
					if err := db.enqueueDeliveries(ctx, tx, &chunk[i]); err != nil {
						return err
					}
				}
			}
		}
		for chunk := range slices.Chunk(plan.Consents, upsertChunk) {
			var args []any
			for _, c := range chunk {
				args = append(args, c.ID, c.AccountID, c.ProspectID, c.Granted, c.Text, c.Source, c.IP, c.UserAgent, c.Created.Unix())
			}
			if err := insertMany(ctx, tx, insertConsent, len(chunk), args); err != nil {
				return err
			}
		}
		for _, h := range plan.Rehidden { // after the events: the batch's own follow too
			if err := followHidden(ctx, tx, h.Prospect, h.WasHidden); err != nil {
				return err
			}
		}
		if len(plan.Insert) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET live_prospects = live_prospects + ? WHERE id = ?`, len(plan.Insert), accountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// upsertChunk is how many rows UpsertProspects inserts a statement: 19
// variables a prospect, well under SQLite's limit of 32,766.
const upsertChunk = 500

// liveProspects reads the account's live prospects with the emails (normalised), by email.
func liveProspects(ctx context.Context, tx *writeTx, accountID string, emails []string) (map[string]*store.Prospect, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+prospectCols+` FROM prospects
		WHERE account_id = ? AND deleted_at IS NULL AND email IN (SELECT value FROM json_each(?))`, accountID, mustJSON(emails))
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
