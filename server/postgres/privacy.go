package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

var _ store.PrivacyStore = (*DB)(nil)

// The statements that find every event about one prospect go through the
// index events_object, on the id of the event's object.
const (
	// scrubEventsSQL keeps, of every event about prospect $2, only what
	// store.ScrubbedAttributes name, and of an update's previous attributes
	// only the earlier status.
	scrubEventsSQL = `UPDATE events SET
		prospect = jsonb_build_object('ID', prospect->'ID', 'Status', prospect->'Status', 'Created', prospect->'Created'),
		previous_attributes = CASE WHEN previous_attributes IS NULL THEN NULL
			WHEN previous_attributes ? 'status' THEN jsonb_build_object('status', previous_attributes->'status')
			ELSE '{}'::jsonb END
		WHERE account_id = $1 AND object_id = $2`
	// hideEventsSQL hides every event about prospect $2 from standard keys.
	hideEventsSQL = `UPDATE events SET hidden = true WHERE account_id = $1 AND object_id = $2`
	// unhideEventsSQL gives every event about prospect $2 back the hidden
	// flag it was recorded with: hidden before or after its change.
	unhideEventsSQL = `UPDATE events SET hidden = (coalesce((prospect->>'Hidden')::boolean, false)
		OR coalesce((previous_attributes->>'hidden')::boolean, false))
		WHERE account_id = $1 AND object_id = $2`
	// dropAnswersSQL deletes the kept answers of the account ($1) that name
	// the prospect ($2) or hold its email as a JSON string ($3).
	dropAnswersSQL = `DELETE FROM idempotency_keys WHERE account_id = $1 AND status IS NOT NULL
		AND (position(convert_to($2, 'UTF8') in body) > 0 OR position(convert_to($3, 'UTF8') in body) > 0)`
)

// forget removes, in a deletion's transaction, every copy of p's personal
// fields but the row's own (which the deletion erases): its events (and so
// the deliveries not yet made, which read their event when they run), and
// the kept answers of Idempotency-Keys that hold it, its consent ledger
// (counted on the tombstone), and its form submissions and their events.
func forget(ctx context.Context, tx pgx.Tx, p *store.Prospect) error {
	if _, err := tx.Exec(ctx, scrubEventsSQL, p.AccountID, p.ID); err != nil {
		return err
	}
	if err := forgetConsents(ctx, tx, p); err != nil {
		return err
	}
	if err := forgetSubmissions(ctx, tx, p); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, dropAnswersSQL, p.AccountID, p.ID, strconv.Quote(p.Email))
	return err
}

// followHidden makes the events about p follow its hidden flag, changed by
// an update from wasHidden.
func followHidden(ctx context.Context, tx pgx.Tx, p *store.Prospect, wasHidden bool) error {
	q := hideEventsSQL
	switch {
	case p.Hidden == wasHidden:
		return nil
	case !p.Hidden:
		q = unhideEventsSQL
	}
	if _, err := tx.Exec(ctx, q, p.AccountID, p.ID); err != nil {
		return err
	}
	return followSubmissionsHidden(ctx, tx, p)
}

// EraseProspect deletes the prospect and suppresses its email, in one transaction.
func (db *DB) EraseProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error) (err error) {
	defer unavailable(ctx, &err)
	return db.deleteProspect(ctx, accountID, id, check, true)
}

// suppress adds the email to the account's suppression list, making the
// account's key first if it has none.
func (db *DB) suppress(ctx context.Context, tx pgx.Tx, accountID, email string) error {
	key, err := db.suppressionKey(ctx, tx, accountID, true)
	if err != nil {
		return err
	}
	h, err := store.EmailHash(key, email)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO suppressions (account_id, email_hash, created) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, accountID, h, now())
	return err
}

// suppressionKey reads the account's suppression key, unsealed; "" when it
// has none and make is false. Making one locks the account's row, so that
// two erasures make one key.
func (db *DB) suppressionKey(ctx context.Context, q querier, accountID string, make bool) (string, error) {
	var stored *string
	query := `SELECT suppression_key FROM accounts WHERE id = $1`
	if make {
		query += ` FOR UPDATE`
	}
	if err := q.QueryRow(ctx, query, accountID).Scan(&stored); err != nil {
		return "", err
	}
	if stored != nil {
		return db.secrets.OpenSuppressionKey(accountID, *stored)
	}
	if !make {
		return "", nil
	}
	key := store.SuppressionKey()
	_, err := q.Exec(ctx, `UPDATE accounts SET suppression_key = $1 WHERE id = $2`,
		db.secrets.SealSuppressionKey(accountID, key), accountID)
	return key, err
}

// openSuppressionKey unseals a suppression key read with an account's row;
// "" when the account has none.
func (db *DB) openSuppressionKey(accountID string, stored *string) (string, error) {
	if stored == nil {
		return "", nil
	}
	return db.secrets.OpenSuppressionKey(accountID, *stored)
}

// suppressedHashes returns which of the emails are on the suppression list
// of the account, whose (unsealed) key is key: none without a key.
func suppressedHashes(ctx context.Context, q querier, accountID, key string, emails []string) (map[string]bool, error) {
	if key == "" || len(emails) == 0 {
		return nil, nil
	}
	byHash := map[string]string{}
	hashes := make([][]byte, 0, len(emails))
	for _, e := range emails {
		h, err := store.EmailHash(key, e)
		if err != nil {
			return nil, err
		}
		byHash[string(h)] = e
		hashes = append(hashes, h)
	}
	rows, err := q.Query(ctx, `SELECT email_hash FROM suppressions WHERE account_id = $1 AND email_hash = ANY($2)`,
		accountID, hashes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out[byHash[string(h)]] = true
	}
	return out, rows.Err()
}

// LiftSuppression deletes the email's suppression.
func (db *DB) LiftSuppression(ctx context.Context, accountID, email string) (lifted bool, err error) {
	defer unavailable(ctx, &err)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		key, err := db.suppressionKey(ctx, tx, accountID, false)
		if err != nil || key == "" {
			return err
		}
		p := store.Prospect{Email: email}
		p.Normalise()
		h, err := store.EmailHash(key, p.Email)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM suppressions WHERE account_id = $1 AND email_hash = $2`, accountID, h)
		lifted = tag.RowsAffected() > 0
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, store.ErrNotFound
	}
	return lifted, err
}

// errKeyChanged says that the account's suppression key is another than the
// one a create hashed its email with (made on another replica since it was
// read): the create runs again with the new one.
var errKeyChanged = errors.New("the account's suppression key changed")

// suppressionKey is an account's suppression key as stored (sealed; nil when
// it has none) and unsealed, remembered by suppressionKeyOf.
type suppressionKey struct {
	sealed *string
	key    string
}

// suppressionKeyOf returns the account's suppression key, sealed and
// unsealed, read once and then remembered: admit_prospect checks in the
// create's transaction that it is still the account's (a key is made once,
// at the first erasure, on any replica).
func (db *DB) suppressionKeyOf(ctx context.Context, accountID string) (*string, string, error) {
	if k, ok := db.suppressionKeys.Load(accountID); ok {
		k := k.(*suppressionKey)
		return k.sealed, k.key, nil
	}
	var sealed *string
	err := db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT suppression_key FROM accounts WHERE id = $1`, accountID).Scan(&sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil // no account: the create fails on its own
	}
	if err != nil {
		return nil, "", err
	}
	key, err := db.openSuppressionKey(accountID, sealed)
	if err != nil {
		return nil, "", err
	}
	db.suppressionKeys.Store(accountID, &suppressionKey{sealed: sealed, key: key})
	return sealed, key, nil
}
