package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/captureapi/capture/server/store"
)

const prospectCols = `id, account_id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated, attribution, deleted_at`

// liveProspectCols are prospectCols less what a list of one account's live
// prospects knows without reading it: the account, and no deletion.
const liveProspectCols = `id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated, attribution`

// scanProspect reads one row of prospectCols; it returns store.ErrDeleted for a
// tombstone. Its scan targets are kept between calls, so that a lookup
// allocates only the prospect it finds and what it holds (a 404's, nothing).
func scanProspect(row scanner) (*store.Prospect, error) {
	v := prospectRows.Get().(*prospectRow)
	defer func() {
		v.p = store.Prospect{} // nothing of it kept alive by the pool
		prospectRows.Put(v)
	}()
	p, err := v.scan(row)
	if err != nil {
		return nil, err
	}
	found := *p
	return &found, nil
}

// prospectRows are the scan targets of single-row reads (scanProspect).
var prospectRows = sync.Pool{New: func() any { return newProspectRow("") }}

// scanLiveProspect reads rows of liveProspectCols, of the account's (never
// empty: it is the request's), through one set of scan targets.
func scanLiveProspect(accountID string) func(scanner) (*store.Prospect, error) {
	return newProspectRow(accountID).scan
}

// prospectRow holds the scan targets of a row of prospectCols, or of
// liveProspectCols when accountID is set, in one allocation for all the rows
// of a query instead of one a row.
type prospectRow struct {
	p                    store.Prospect
	accountID            string
	email                sql.NullString
	optional             [7]sql.NullString // first_name … source, in prospectCols' order
	tags, metadata       string
	consentAt, deletedAt sql.NullInt64
	created, updated     int64
	attribution          sql.NullString
	dest                 []any
}

func newProspectRow(accountID string) *prospectRow {
	v := &prospectRow{accountID: accountID}
	p := &v.p
	o := &v.optional
	v.dest = []any{&p.ID, &p.AccountID, &v.email, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
		&p.Status, &v.tags, &v.metadata, &p.MarketingConsent, &v.consentAt, &p.Hidden, &v.created, &v.updated, &v.attribution, &v.deletedAt}
	if accountID != "" {
		v.dest = append(v.dest[:1], v.dest[2:len(v.dest)-1]...) // no account_id, no deleted_at
	}
	return v
}

// scan reads the next row. The prospect it returns is valid until the next
// call, which reuses it: copy it to keep it. Its optional fields point into an
// array of their own, not into v.
func (v *prospectRow) scan(row scanner) (*store.Prospect, error) {
	p := &v.p
	*p = store.Prospect{AccountID: v.accountID}
	err := row.Scan(v.dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if v.deletedAt.Valid {
		return nil, store.ErrDeleted
	}
	p.Email = v.email.String
	var texts *[len(v.optional)]string
	for i, to := range [...]**string{&p.FirstName, &p.LastName, &p.Company, &p.Title, &p.Phone, &p.Website, &p.Source} {
		if v.optional[i].Valid {
			if texts == nil {
				texts = new([len(v.optional)]string)
			}
			texts[i] = v.optional[i].String
			*to = &texts[i]
		}
	}
	if p.Tags, err = decodeTags(v.tags); err != nil {
		return nil, fmt.Errorf("prospect %s tags: %w", p.ID, err)
	}
	if p.Metadata, err = decodeMetadata(v.metadata); err != nil {
		return nil, fmt.Errorf("prospect %s metadata: %w", p.ID, err)
	}
	if v.consentAt.Valid {
		t := time.Unix(v.consentAt.Int64, 0)
		p.ConsentAt = &t
	}
	if v.attribution.Valid {
		p.Attribution = new(store.Attribution)
		if err := jsonUnmarshal(v.attribution.String, p.Attribution); err != nil {
			return nil, fmt.Errorf("prospect %s attribution: %w", p.ID, err)
		}
	}
	p.Created, p.Updated = time.Unix(v.created, 0), time.Unix(v.updated, 0)
	return p, nil
}

// CreateProspect inserts a prospect unless a live one has its email (then it
// looks that one up), and counts it against the plan limit.
func (db *DB) CreateProspect(ctx context.Context, p *store.Prospect) (err error) {
	defer unavailable(&err)
	p.Normalise()
	return db.inTx(ctx, func(tx *writeTx) error {
		// The insert finds a live duplicate itself, through the unique index;
		// only then is the duplicate looked up, for its id. A failure below
		// rolls the insert back with the rest of the request's savepoint.
		res, err := tx.ExecContext(ctx, insertNewProspectSQL, prospectArgs(p, nil)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			if err := checkEmailFree(ctx, tx, p.AccountID, p.Email, p.ID); err != nil {
				return err
			}
			return errors.New("sqlite: a prospect insert was refused, but no live prospect has its email")
		}
		// One statement checks the plan limit, counts the prospect in, and
		// tells whether the account has an endpoint to deliver its event to.
		var hooks int64
		var sealed sql.NullString
		err = tx.QueryRowContext(ctx, countProspectIn, p.AccountID).Scan(&hooks, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrPlanLimit
		}
		if err != nil {
			return err
		}
		key, err := db.openSuppressionKey(p.AccountID, sealed)
		if err != nil {
			return err
		}
		if err := checkSuppressed(ctx, tx, p.AccountID, key, p.Email); err != nil {
			return err
		}
		if p.MarketingConsent {
			if err := recordConsent(ctx, tx, p, p.ConsentText); err != nil {
				return err
			}
		}
		return db.recordEvent(ctx, tx, store.EventProspectCreated, p, nil, p.Hidden, hooks > 0)
	})
}

// Prospect returns one prospect of the account.
func (db *DB) Prospect(ctx context.Context, accountID, id string) (_ *store.Prospect, err error) {
	defer unavailable(&err)
	return scanProspect(db.queryRow(ctx,
		`SELECT `+prospectCols+` FROM prospects WHERE id = ? AND account_id = ?`, id, accountID))
}

// UpdateProspect applies a patch in one transaction.
func (db *DB) UpdateProspect(ctx context.Context, accountID, id string, patch store.ProspectPatch, check func(*store.Prospect) error) (out *store.Prospect, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		p, err := prospectForWrite(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		wasHidden, wasConsent := p.Hidden, p.MarketingConsent
		prev, hidden, err := patch.Update(p, now(), check)
		if err != nil {
			return err
		}
		if err := followHidden(ctx, tx, p, wasHidden); err != nil {
			return err
		}
		if p.MarketingConsent != wasConsent {
			if err := recordConsent(ctx, tx, p, patch.ConsentText); err != nil {
				return err
			}
		}
		if patch.Email != nil {
			if err := checkEmailFree(ctx, tx, accountID, p.Email, p.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, updateProspectSQL,
			p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source, p.Status,
			mustJSON(p.Tags), mustJSON(p.Metadata), p.MarketingConsent, unixPtr(p.ConsentAt), p.Hidden, p.Updated.Unix(),
			attributionJSON(p.Attribution), p.ID)
		if err != nil {
			return err
		}
		out = p
		return db.recordEvent(ctx, tx, store.EventProspectUpdated, p, prev, hidden, true)
	})
	return out, err
}

// prospectForWrite reads a live prospect inside a write transaction.
func prospectForWrite(ctx context.Context, tx *writeTx, accountID, id string) (*store.Prospect, error) {
	return scanProspect(tx.QueryRowContext(ctx, prospectForWriteSQL, id, accountID))
}

// The statements of an update and a delete, prepared once (see prepareWrites).
const (
	prospectForWriteSQL = `SELECT ` + prospectCols + ` FROM prospects WHERE id = ? AND account_id = ?`
	updateProspectSQL   = `UPDATE prospects SET email = ?, first_name = ?, last_name = ?, company = ?,
		title = ?, phone = ?, website = ?, source = ?, status = ?, tags = ?, metadata = ?, marketing_consent = ?,
		consent_at = ?, hidden = ?, updated = ?, attribution = ? WHERE id = ?`
	eraseProspectSQL = `UPDATE prospects SET email = NULL, first_name = NULL, last_name = NULL,
		company = NULL, title = NULL, phone = NULL, website = NULL, source = NULL, tags = '[]', metadata = '{}',
		marketing_consent = 0, consent_at = NULL, attribution = NULL, updated = ?, deleted_at = ? WHERE id = ?`
	uncountProspectSQL = `UPDATE accounts SET live_prospects = live_prospects - 1 WHERE id = ?
		RETURNING webhook_endpoints_enabled`
)

// DeleteProspect erases the prospect's data and leaves a tombstone with its id.
func (db *DB) DeleteProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error) (err error) {
	defer unavailable(&err)
	return db.deleteProspect(ctx, accountID, id, check, false)
}

// deleteProspect erases the prospect's data everywhere it is kept (see
// forget), leaving a tombstone with its id, and, with suppress, puts its
// email on the account's suppression list.
func (db *DB) deleteProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error, suppress bool) error {
	return db.inTx(ctx, func(tx *writeTx) error {
		p, err := prospectForWrite(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(p); err != nil {
				return err
			}
		}
		t := now().Unix()
		if _, err := tx.ExecContext(ctx, eraseProspectSQL, t, t, id); err != nil {
			return err
		}
		if err := forget(ctx, tx, p); err != nil {
			return err
		}
		if suppress {
			if err := db.suppress(ctx, tx, accountID, p.Email); err != nil {
				return err
			}
		}
		var hooks int64
		if err := tx.QueryRowContext(ctx, uncountProspectSQL, accountID).Scan(&hooks); err != nil {
			return err
		}
		return db.recordEvent(ctx, tx, store.EventProspectDeleted, p, nil, p.Hidden, hooks > 0)
	})
}

// ListProspects returns a keyset page: ids are time-ordered, so "older than the
// cursor" is id < cursor, and the cost of a page does not depend on its depth.
func (db *DB) ListProspects(ctx context.Context, accountID string, lp store.ListParams) (_ *store.Page, err error) {
	defer unavailable(&err)
	q, args := listProspectsQuery(liveProspectCols, accountID, lp)
	rows, more, err := listPage(ctx, db, q, args, lp.Keyset(), scanLiveProspect(accountID))
	if err != nil {
		return nil, err
	}
	return &store.Page{Prospects: rows, HasMore: more}, nil
}

// listProspectsQuery is the SELECT of cols and the WHERE of a page of the
// account's live prospects, with its arguments, for listPage to finish.
func listProspectsQuery(cols, accountID string, lp store.ListParams) (*strings.Builder, []any) {
	q := new(strings.Builder)
	args := []any{accountID}
	q.WriteString(`SELECT ` + cols + ` FROM prospects WHERE account_id = ? AND deleted_at IS NULL`)
	if !lp.IncludeHidden {
		q.WriteString(` AND hidden = 0`)
	}
	if lp.Email != "" {
		q.WriteString(` AND email = ?`)
		args = append(args, strings.ToLower(lp.Email))
	}
	if lp.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, lp.Status)
	}
	if lp.Tag != "" {
		q.WriteString(` AND EXISTS (SELECT 1 FROM json_each(prospects.tags) WHERE json_each.value = ?)`)
		args = append(args, lp.Tag)
	}
	return q, args
}

// attributionJSON is a prospect's attribution as stored: JSON, or NULL without one.
func attributionJSON(a *store.Attribution) any {
	if a == nil {
		return nil
	}
	return mustJSON(a)
}

// checkEmailFree returns an ExistsError when a live prospect other than self has the email.
func checkEmailFree(ctx context.Context, tx *writeTx, accountID, email, self string) error {
	var id string
	var hidden bool
	err := tx.QueryRowContext(ctx, checkEmailSQL, accountID, email, self).Scan(&id, &hidden)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	default:
		return &store.ExistsError{ID: id, Hidden: hidden}
	}
}
