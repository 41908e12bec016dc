package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// CreateProspects creates ps in order in one transaction, in three round
// trips whatever their number: it reads the account's count and the live
// prospects with the items' emails, decides every item's outcome, then sends
// the inserts (each prospect with its event) and the account's new count
// together, the account's row last, as every create and delete takes it. If
// another writer of the account gets in the way (a prospect given one of the
// emails, the count changed, a deadlock on their prospects), its writes are
// undone and it runs again; after five such runs the items go one at a time
// through CreateProspect.
func (db *DB) CreateProspects(ctx context.Context, ps []*store.Prospect, stopAtConflict bool) (out []error, err error) {
	defer unavailable(ctx, &err)
	if len(ps) == 0 {
		return nil, nil
	}
	if stopAtConflict {
		// An upsert calls again with the items after each conflict, and they
		// are often all conflicts: one that is answers after a single lookup,
		// without a savepoint or the account's row.
		e, err := db.conflictFirst(ctx, ps[0])
		if err != nil {
			return nil, err
		}
		if e != nil {
			return []error{e}, nil
		}
	}
	err = db.Atomically(ctx, func(ctx context.Context) error {
		var enqueued bool
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			err = db.inTx(ctx, func(tx pgx.Tx) (err error) {
				out, enqueued, err = db.createTogether(ctx, tx, ps, stopAtConflict)
				return err
			})
			if !raced(err) {
				break
			}
			// Its writes are undone; the writer it met has committed by now, or
			// goes on: read the emails and the count again.
		}
		if raced(err) {
			out, err = db.createOneByOne(ctx, ps, stopAtConflict)
		}
		if err == nil && enqueued {
			db.enqueued(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// raced reports a batch that met another writer of its account: one that
// gave a prospect one of its emails, or changed the account's count, or
// deadlocked with it on their prospects.
func raced(err error) bool {
	return isUniqueViolation(err, liveEmailIndex) || isDeadlock(err) || errors.Is(err, errCountChanged)
}

// createTogether is the three round trips of CreateProspects.
func (db *DB) createTogether(ctx context.Context, tx pgx.Tx, ps []*store.Prospect, stopAtConflict bool) (out []error, enqueued bool, err error) {
	accountID := ps[0].AccountID
	emails := make([]string, len(ps))
	for i, p := range ps {
		p.Normalise()
		emails[i] = p.Email
	}
	// The account's row is read here, not locked: like a single create, a
	// batch takes it last, in the statement that counts the batch in, so no
	// writer holds it while it waits on another's prospects.
	var count, limit int64
	var sealed *string
	err = tx.QueryRow(ctx, `SELECT `+liveProspects+`, prospect_limit, suppression_key FROM accounts WHERE id = $1`,
		accountID).Scan(&count, &limit, &sealed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) { // no account: the plan allows nothing, as CreateProspect answers
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
	live := map[string]*store.ExistsError{}
	looked := 0 // the items whose emails have been looked up
	var batch pgx.Batch
	out = make([]error, 0, len(ps))
	var created int64
	var consents [][]any // the ledger entries of the items created with consent
	chunk := firstLookup
	for k, p := range ps {
		if k == looked {
			n := len(ps) - k
			if stopAtConflict {
				n, chunk = min(n, chunk), chunk*2
			}
			if err := liveEmails(ctx, tx, accountID, emails[k:k+n], live); err != nil {
				return nil, false, err
			}
			looked += n
		}
		if e := live[p.Email]; e != nil {
			if out = append(out, e); stopAtConflict {
				break
			}
			continue
		}
		if suppressed[p.Email] {
			out = append(out, store.ErrSuppressed)
			continue
		}
		if count+created >= limit {
			out = append(out, store.ErrPlanLimit)
			continue
		}
		newProspectRow(p)
		batch.Queue(insertProspectSQL, p.ID, p.AccountID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone,
			p.Website, p.Source, p.Status, p.Tags, p.Metadata, p.MarketingConsent, p.ConsentAt, p.Hidden, p.Created, p.Updated,
			p.Attribution)
		// With the outbox statement: whether the account has endpoints is only
		// known for sure under its row's lock, which comes last.
		q, args, err := eventStatement(ctx, store.EventProspectCreated, p, nil, p.Hidden, true)
		if err != nil {
			return nil, false, err
		}
		batch.Queue(q, args...)
		if p.MarketingConsent {
			consents = append(consents, consentArgs(ctx, p, p.ConsentText))
		}
		live[p.Email] = &store.ExistsError{ID: p.ID, Hidden: p.Hidden}
		created++
		out = append(out, nil)
	}
	if created == 0 {
		return out, false, nil
	}
	for _, args := range consents {
		batch.Queue(insertConsent, args...)
	}
	queueCountIn(&batch, accountID, created)
	res := tx.SendBatch(ctx, &batch)
	defer res.Close()
	for range created {
		if _, err := res.Exec(); err != nil {
			return nil, false, err
		}
		tag, err := res.Exec()
		if err != nil {
			return nil, false, err
		}
		enqueued = enqueued || tag.RowsAffected() > 0
	}
	for range consents {
		if _, err := res.Exec(); err != nil {
			return nil, false, err
		}
	}
	if err := countedIn(res); err != nil {
		return nil, false, err
	}
	return out, enqueued, res.Close()
}

// firstLookup is how many emails a batch that stops at its first conflict
// looks up first, each lookup after that twice as many as the one before:
// the caller goes on with the items after the conflict, so a lookup of all of
// them each time would read the batch's emails over and over, quadratic in
// its size when every item conflicts, while doubling reads a call's items
// at most about twice.
const firstLookup = 8

// conflictFirst is the live prospect with p's email, or nil.
func (db *DB) conflictFirst(ctx context.Context, p *store.Prospect) (e *store.ExistsError, err error) {
	defer unavailable(ctx, &err)
	p.Normalise()
	live := map[string]*store.ExistsError{}
	err = db.with(ctx, func(q querier) error { return liveEmails(ctx, q, p.AccountID, []string{p.Email}, live) })
	return live[p.Email], err
}

// liveEmails adds to live the live prospects with the emails, but not over an
// entry live has (an item of the batch created before).
func liveEmails(ctx context.Context, q querier, accountID string, emails []string, live map[string]*store.ExistsError) error {
	rows, err := q.Query(ctx, `SELECT email, id, hidden FROM prospects
		WHERE account_id = $1 AND email = ANY($2) AND deleted_at IS NULL`, accountID, emails)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var email string
		var e store.ExistsError
		if err := rows.Scan(&email, &e.ID, &e.Hidden); err != nil {
			return err
		}
		if live[email] == nil {
			live[email] = &e
		}
	}
	return rows.Err()
}

// errCountChanged says that creates of the account committed while a batch
// decided which of its items the plan allows: the batch runs again.
var errCountChanged = errors.New("the account's count of live prospects changed under the batch")

// createOneByOne is CreateProspects through CreateProspect, an item at a time.
func (db *DB) createOneByOne(ctx context.Context, ps []*store.Prospect, stopAtConflict bool) ([]error, error) {
	out := make([]error, 0, len(ps))
	for _, p := range ps {
		err := db.CreateProspect(ctx, p)
		var exists *store.ExistsError
		switch {
		case err == nil, errors.Is(err, store.ErrPlanLimit), errors.Is(err, store.ErrSuppressed):
		case errors.As(err, &exists):
			if stopAtConflict {
				return append(out, err), nil
			}
		default:
			return nil, err
		}
		out = append(out, err)
	}
	return out, nil
}
