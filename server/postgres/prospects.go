package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/captureapi/capture/server/store"
)

// liveEmailIndex is the unique index that keeps one live prospect per email in an account.
const liveEmailIndex = "prospects_live_email"

const prospectCols = `id, account_id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated, attribution, deleted_at`

// scanProspect reads one row; it returns store.ErrDeleted for a tombstone.
func scanProspect(row pgx.Row) (*store.Prospect, error) {
	var p store.Prospect
	var email *string
	var deletedAt *time.Time
	err := row.Scan(&p.ID, &p.AccountID, &email, &p.FirstName, &p.LastName, &p.Company, &p.Title, &p.Phone, &p.Website, &p.Source,
		&p.Status, &p.Tags, &p.Metadata, &p.MarketingConsent, &p.ConsentAt, &p.Hidden, &p.Created, &p.Updated, &p.Attribution, &deletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if deletedAt != nil {
		return nil, store.ErrDeleted
	}
	if email != nil {
		p.Email = *email
	}
	p.Normalise()
	return &p, nil
}

// CreateProspect inserts a prospect, in one round trip (see createOnce). The
// unique index on live emails refuses a duplicate, and the account's count,
// split into slots that concurrent creates take one each, each with its share
// of the plan's room (migrations 00013 and 00017), holds it to its plan: of
// many concurrent creates, exactly as many as the plan allows succeed.
func (db *DB) CreateProspect(ctx context.Context, p *store.Prospect) (err error) {
	defer unavailable(ctx, &err)
	p.Normalise()
	for attempt := 0; ; attempt++ {
		n := *p
		newProspectRow(&n)
		var enqueued bool
		enqueued, err = db.createOnce(ctx, &n)
		if err == nil {
			*p = n
			if enqueued {
				db.enqueued(ctx)
			}
			return nil
		}
		if errors.Is(err, store.ErrPlanLimit) { // a duplicate is the answer before the plan, as on SQLite
			return cmpErr(db.liveWithEmail(ctx, n.AccountID, n.Email, ""), err)
		}
		if (errors.Is(err, errKeyChanged) || errors.Is(err, errHooksChanged) || isSerializationFailure(err) || isDeadlock(err)) && attempt < 4 {
			// The account's suppression key is new, or it has webhook
			// endpoints since its last create, or the slot of its count
			// this create waited for filled meanwhile (the next run sees it
			// full and takes every slot), or a batch, which takes every slot
			// of the count, met this create: run again.
			continue
		}
		if !isUniqueViolation(err, liveEmailIndex) {
			return err
		}
		// The holder of the email may have been deleted since: then try again.
		if exists := db.liveWithEmail(ctx, n.AccountID, n.Email, ""); exists != nil || attempt >= 2 {
			return cmpErr(exists, err)
		}
	}
}

// createOnce sends a create's statements together: the insert, the count and
// the suppression check (admit_prospect, migration 00018), the consent and the
// event with its deliveries. Outside a transaction they run as the batch's
// implicit one; inside Atomically, in a savepoint that a failure rolls back.
// It tells whether a delivery was enqueued.
//
// The event's statement depends on whether the account has enabled webhook
// endpoints, which the statements learn only as they run: the create goes by
// what the account's last create here learned (none known: it has), and
// admit_prospect refuses one that guessed none for an account that has some
// (errHooksChanged, and the next run knows).
func (db *DB) createOnce(ctx context.Context, p *store.Prospect) (enqueued bool, err error) {
	sealed, key, err := db.suppressionKeyOf(ctx, p.AccountID)
	if err != nil {
		return false, err
	}
	var hash []byte // NULL: no suppression list
	if key != "" {
		if hash, err = store.EmailHash(key, p.Email); err != nil {
			return false, err
		}
	}
	hooks := true
	if known, ok := db.accountHooks.Load(p.AccountID); ok {
		hooks = known.(bool)
	}
	event, eventArgs, err := eventStatement(ctx, store.EventProspectCreated, p, nil, p.Hidden, hooks)
	if err != nil {
		return false, err
	}
	// In Atomically's transaction, the create's statements are in a
	// savepoint; or, as its first statements, they begin the transaction,
	// which their failure rolls back whole.
	outer, inTx := ctx.Value(txKey{}).(*outerTx)
	begins := inTx && outer.Tx == nil
	savepoint := inTx && !begins
	var b pgx.Batch
	if begins {
		b.BeginTx(pgx.TxOptions{})
	}
	if savepoint {
		b.Queue(`SAVEPOINT create_prospect`)
	}
	b.Queue(insertProspectSQL, p.ID, p.AccountID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website,
		p.Source, p.Status, p.Tags, p.Metadata, p.MarketingConsent, p.ConsentAt, p.Hidden, p.Created, p.Updated, p.Attribution)
	const admit = `SELECT admit_prospect($1, $2, $3, $4)`
	b.Queue(admit, p.AccountID, sealed, hash, hooks)
	if p.MarketingConsent {
		b.Queue(insertConsent, consentArgs(ctx, p, p.ConsentText)...)
	}
	b.Queue(event, eventArgs...)
	if savepoint {
		b.Queue(`RELEASE SAVEPOINT create_prospect`)
	}
	send := func(q querier) error {
		var res pgx.BatchResults
		if begins {
			res = outer.sendBegin(ctx, &b)
		} else {
			res = q.SendBatch(ctx, &b)
		}
		for i := range b.Len() {
			var tag pgconn.CommandTag
			var err error
			if b.QueuedQueries[i].SQL == admit {
				var has bool
				if err = res.QueryRow().Scan(&has); err == nil && has != hooks {
					db.accountHooks.Store(p.AccountID, has)
				}
			} else {
				tag, err = res.Exec()
			}
			if err != nil {
				res.Close()
				switch {
				case begins:
					if rerr := outer.undoBegin(ctx); rerr != nil {
						return rerr
					}
				case savepoint:
					if _, rerr := q.Exec(ctx, `ROLLBACK TO SAVEPOINT create_prospect; RELEASE SAVEPOINT create_prospect`); rerr != nil {
						return rerr
					}
				}
				return err
			}
			if b.QueuedQueries[i].SQL == event {
				enqueued = hooks && tag.RowsAffected() > 0
			}
		}
		return res.Close()
	}
	if begins {
		err = send(nil)
	} else {
		err = db.with(ctx, send)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "CP001":
			return false, store.ErrPlanLimit
		case "CP002":
			db.suppressionKeys.Delete(p.AccountID)
			return false, errKeyChanged
		case "CP003":
			return false, store.ErrSuppressed
		case "CP004":
			db.accountHooks.Store(p.AccountID, true)
			return false, errHooksChanged
		}
	}
	return enqueued, err
}

// newProspectRow gives a prospect to insert its id, times and defaults.
func newProspectRow(p *store.Prospect) {
	p.ID, p.Created = store.NewID("prs_"), now()
	p.Updated = p.Created
	if p.Status == "" {
		p.Status = "new"
	}
	if p.MarketingConsent {
		p.ConsentAt = &p.Created
	}
}

// errHooksChanged says that a create recorded its event as for an account
// without enabled webhook endpoints, and the account has one now.
var errHooksChanged = errors.New("the account has enabled webhook endpoints now")

const insertProspectSQL = `INSERT INTO prospects (` + prospectCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, NULL)`

// cmpErr returns the first non-nil error.
func cmpErr(exists error, err error) error {
	if exists != nil {
		return exists
	}
	return err
}

// liveWithEmail returns an *store.ExistsError for the live prospect other than
// self with the email, or the error reading it, or nil when there is none.
func (db *DB) liveWithEmail(ctx context.Context, accountID, email, self string) error {
	var id string
	var hidden bool
	err := db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT id, hidden FROM prospects
			WHERE account_id = $1 AND email = $2 AND deleted_at IS NULL AND id <> $3`, accountID, email, self).Scan(&id, &hidden)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &store.ExistsError{ID: id, Hidden: hidden}
}

// Prospect returns one prospect of the account.
func (db *DB) Prospect(ctx context.Context, accountID, id string) (p *store.Prospect, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		p, err = scanProspect(q.QueryRow(ctx, `SELECT `+prospectCols+` FROM prospects WHERE id = $1 AND account_id = $2`, id, accountID))
		return err
	})
	return p, err
}

// prospectForWrite reads a prospect and locks its row until the transaction ends.
func prospectForWrite(ctx context.Context, tx pgx.Tx, accountID, id string) (*store.Prospect, error) {
	return scanProspect(tx.QueryRow(ctx,
		`SELECT `+prospectCols+` FROM prospects WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID))
}

// UpdateProspect applies a patch to the locked row; the unique index refuses
// an email another live prospect has.
func (db *DB) UpdateProspect(ctx context.Context, accountID, id string, patch store.ProspectPatch, check func(*store.Prospect) error) (out *store.Prospect, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	enqueued := false
	err = db.inTx(ctx, func(tx pgx.Tx) error {
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
		_, err = tx.Exec(ctx, `UPDATE prospects SET email = $1, first_name = $2, last_name = $3, company = $4,
			title = $5, phone = $6, website = $7, source = $8, status = $9, tags = $10, metadata = $11, marketing_consent = $12,
			consent_at = $13, hidden = $14, updated = $15, attribution = $16 WHERE id = $17`,
			p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source, p.Status,
			p.Tags, p.Metadata, p.MarketingConsent, p.ConsentAt, p.Hidden, p.Updated, p.Attribution, p.ID)
		out = p
		if err != nil {
			return err
		}
		enqueued, err = recordEvent(ctx, tx, store.EventProspectUpdated, p, prev, hidden, true)
		return err
	})
	if isUniqueViolation(err, liveEmailIndex) && out != nil {
		return nil, cmpErr(db.liveWithEmail(ctx, accountID, out.Email, id), err)
	}
	if err != nil {
		return nil, err
	}
	if enqueued {
		db.enqueued(ctx)
	}
	return out, nil
}

// DeleteProspect erases the prospect's data and leaves a tombstone with its id.
func (db *DB) DeleteProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error) (err error) {
	defer unavailable(ctx, &err)
	return db.deleteProspect(ctx, accountID, id, check, false)
}

// deleteProspect erases the prospect's data everywhere it is kept (see
// forget), leaving a tombstone with its id, and, with suppress, puts its
// email on the account's suppression list.
func (db *DB) deleteProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error, suppress bool) (err error) {
	if unstorable(id) {
		return store.ErrNotFound
	}
	for attempt := 0; ; attempt++ {
		enqueued := false
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			p, err := prospectForWrite(ctx, tx, accountID, id)
			if err != nil {
				return err
			}
			if check != nil {
				if err := check(p); err != nil {
					return err
				}
			}
			t := now()
			if _, err := tx.Exec(ctx, `UPDATE prospects SET email = NULL, first_name = NULL, last_name = NULL,
				company = NULL, title = NULL, phone = NULL, website = NULL, source = NULL, tags = '{}', metadata = '{}',
				marketing_consent = false, consent_at = NULL, attribution = NULL, updated = $1, deleted_at = $1 WHERE id = $2`, t, id); err != nil {
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
			if _, err := tx.Exec(ctx, countOutSQL, accountID); err != nil {
				return err
			}
			enqueued, err = recordEvent(ctx, tx, store.EventProspectDeleted, p, nil, p.Hidden, true)
			return err
		})
		if isDeadlock(err) && attempt < 2 {
			continue // with a batch, which takes every slot of the count (see UpsertProspects)
		}
		if err == nil && enqueued {
			db.enqueued(ctx)
		}
		return err
	}
}

// ListProspects returns a keyset page: ids are time-ordered, so "older than the
// cursor" is id < cursor, and the cost of a page does not depend on its depth.
func (db *DB) ListProspects(ctx context.Context, accountID string, lp store.ListParams) (page *store.Page, err error) {
	defer unavailable(ctx, &err)
	var q strings.Builder
	args := []any{accountID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT ` + prospectCols + ` FROM prospects WHERE account_id = $1 AND deleted_at IS NULL`)
	if !lp.IncludeHidden {
		q.WriteString(` AND NOT hidden`)
	}
	if lp.Email != "" {
		q.WriteString(` AND email = ` + arg(strings.ToLower(lp.Email)))
	}
	if lp.Status != "" {
		q.WriteString(` AND status = ` + arg(lp.Status))
	}
	if lp.Tag != "" {
		q.WriteString(` AND ` + arg(lp.Tag) + ` = ANY (tags)`)
	}
	rows, more, err := listPage(ctx, db, &q, args, lp.Keyset(), scanProspect)
	if err != nil {
		return nil, err
	}
	return &store.Page{Prospects: rows, HasMore: more}, nil
}

// listPage finishes and runs a keyset list query: q holds its SELECT and WHERE
// so far, with args; listPage adds the created range, the cursor, the order and
// the limit, and returns the page's rows newest first and whether more lie beyond.
func listPage[T any](ctx context.Context, db *DB, q *strings.Builder, args []any, k store.Keyset, scan func(pgx.Row) (*T, error)) ([]T, bool, error) {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if k.CreatedGTE != nil {
		q.WriteString(` AND created >= ` + arg(*k.CreatedGTE))
	}
	if k.CreatedLTE != nil {
		q.WriteString(` AND created <= ` + arg(*k.CreatedLTE))
	}
	switch {
	case k.Backwards():
		q.WriteString(` AND id > ` + arg(k.EndingBefore) + ` ORDER BY id ASC`)
	case k.StartingAfter != "":
		q.WriteString(` AND id < ` + arg(k.StartingAfter) + ` ORDER BY id DESC`)
	default:
		q.WriteString(` ORDER BY id DESC`)
	}
	q.WriteString(` LIMIT ` + arg(k.Limit+1))
	out := make([]T, 0, k.Limit+1)
	err := db.with(ctx, func(qr querier) error {
		rows, err := qr.Query(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, *v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, err
	}
	out, more := store.TrimPage(k, out)
	return out, more, nil
}
