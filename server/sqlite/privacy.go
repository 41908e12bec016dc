package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/captureapi/capture/server/store"
)

var _ store.PrivacyStore = (*DB)(nil)

// The statements that find every event about one prospect go through the
// index events_object, on the id of the event's object.
const (
	// scrubEventsSQL keeps, of every event about prospect ?2, only what
	// store.ScrubbedAttributes name, and of an update's previous attributes
	// only the earlier status.
	scrubEventsSQL = `UPDATE events SET
		prospect = json_object('ID', json_extract(prospect, '$.ID'), 'Status', json_extract(prospect, '$.Status'),
			'Created', json_extract(prospect, '$.Created')),
		previous_attributes = CASE WHEN previous_attributes IS NULL THEN NULL
			WHEN json_type(previous_attributes, '$.status') IS NOT NULL
			THEN json_object('status', json_extract(previous_attributes, '$.status')) ELSE '{}' END
		WHERE account_id = ?1 AND object_id = ?2`
	// hideEventsSQL hides every event about prospect ?2 from standard keys.
	hideEventsSQL = `UPDATE events SET hidden = 1 WHERE account_id = ?1 AND object_id = ?2`
	// unhideEventsSQL gives every event about prospect ?2 back the hidden
	// flag it was recorded with: hidden before or after its change.
	unhideEventsSQL = `UPDATE events SET hidden = (coalesce(json_extract(prospect, '$.Hidden'), 0)
		OR coalesce(json_extract(previous_attributes, '$.hidden'), 0))
		WHERE account_id = ?1 AND object_id = ?2`
	// dropAnswersSQL deletes the kept answers of the account (?1) that name
	// the prospect (?2) or hold its email as a JSON string (?3).
	dropAnswersSQL = `DELETE FROM idempotency_keys WHERE account_id = ?1 AND status IS NOT NULL
		AND (instr(CAST(body AS TEXT), ?2) > 0 OR instr(CAST(body AS TEXT), ?3) > 0)`
)

// forget removes, in a deletion's transaction, every copy of p's personal
// fields but the row's own (which the deletion erases): its events (and so
// the deliveries not yet made, which read their event when they run), and
// the kept answers of Idempotency-Keys that hold it, its consent ledger
// (counted on the tombstone), and its form submissions and their events.
func forget(ctx context.Context, tx *writeTx, p *store.Prospect) error {
	if _, err := tx.ExecContext(ctx, scrubEventsSQL, p.AccountID, p.ID); err != nil {
		return err
	}
	if err := forgetConsents(ctx, tx, p); err != nil {
		return err
	}
	if err := forgetSubmissions(ctx, tx, p); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, dropAnswersSQL, p.AccountID, p.ID, strconv.Quote(p.Email))
	return err
}

// followHidden makes the events about p follow its hidden flag, changed by
// an update from wasHidden.
func followHidden(ctx context.Context, tx *writeTx, p *store.Prospect, wasHidden bool) error {
	q := hideEventsSQL
	switch {
	case p.Hidden == wasHidden:
		return nil
	case !p.Hidden:
		q = unhideEventsSQL
	}
	if _, err := tx.ExecContext(ctx, q, p.AccountID, p.ID); err != nil {
		return err
	}
	return followSubmissionsHidden(ctx, tx, p)
}

// EraseProspect deletes the prospect and suppresses its email, in one transaction.
func (db *DB) EraseProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error) (err error) {
	defer unavailable(&err)
	return db.deleteProspect(ctx, accountID, id, check, true)
}

// suppress adds the email to the account's suppression list, making the
// account's key first if it has none.
func (db *DB) suppress(ctx context.Context, tx *writeTx, accountID, email string) error {
	key, err := db.suppressionKey(ctx, tx, accountID, true)
	if err != nil {
		return err
	}
	h, err := store.EmailHash(key, email)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO suppressions (account_id, email_hash, created) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, accountID, h, now().Unix())
	return err
}

// suppressionKey reads the account's suppression key, unsealed; "" when it
// has none and make is false.
func (db *DB) suppressionKey(ctx context.Context, tx *writeTx, accountID string, make bool) (string, error) {
	var stored sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT suppression_key FROM accounts WHERE id = ?`, accountID).Scan(&stored)
	if err != nil {
		return "", err
	}
	if stored.Valid {
		return db.secrets.OpenSuppressionKey(accountID, stored.String)
	}
	if !make {
		return "", nil
	}
	key := store.SuppressionKey()
	_, err = tx.ExecContext(ctx, `UPDATE accounts SET suppression_key = ? WHERE id = ?`,
		db.secrets.SealSuppressionKey(accountID, key), accountID)
	return key, err
}

// suppressedSQL finds a suppression by its hash.
const suppressedSQL = `SELECT 1 FROM suppressions WHERE account_id = ? AND email_hash = ?`

// checkSuppressed returns store.ErrSuppressed when the email is on the
// suppression list of the account, whose (unsealed) key is key; an account
// without a key has suppressed nothing.
func checkSuppressed(ctx context.Context, tx *writeTx, accountID, key, email string) error {
	if key == "" {
		return nil
	}
	h, err := store.EmailHash(key, email)
	if err != nil {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, suppressedSQL, accountID, h).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return store.ErrSuppressed
}

// openSuppressionKey unseals a suppression key read with an account's row;
// "" when the account has none.
func (db *DB) openSuppressionKey(accountID string, stored sql.NullString) (string, error) {
	if !stored.Valid {
		return "", nil
	}
	return db.secrets.OpenSuppressionKey(accountID, stored.String)
}

// LiftSuppression deletes the email's suppression.
func (db *DB) LiftSuppression(ctx context.Context, accountID, email string) (lifted bool, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		key, err := db.suppressionKey(ctx, tx, accountID, false)
		if err != nil || key == "" {
			return err
		}
		h, err := store.EmailHash(key, normaliseEmail(email))
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE account_id = ? AND email_hash = ?`, accountID, h)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		lifted = n > 0
		return err
	})
	return lifted, err
}

// normaliseEmail is an email as prospects keep it.
func normaliseEmail(email string) string {
	p := store.Prospect{Email: email}
	p.Normalise()
	return p.Email
}
