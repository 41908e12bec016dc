package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/captureapi/capture/server/store"
)

// insertConsent writes one entry of the consent ledger.
const insertConsent = `INSERT INTO consents (id, account_id, prospect_id, granted, text, source, ip, user_agent, created)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// recordConsent writes, in a change's transaction, the ledger entry of p's
// consent as the change left it (see store.NewConsent).
func recordConsent(ctx context.Context, tx *writeTx, p *store.Prospect, text *string) error {
	c := store.NewConsent(ctx, p, text)
	_, err := tx.ExecContext(ctx, insertConsent, c.ID, c.AccountID, c.ProspectID, c.Granted, c.Text, c.Source,
		c.IP, c.UserAgent, c.Created.Unix())
	return err
}

// forgetConsents removes p's consent ledger in its deletion's transaction,
// keeping on the tombstone how many grants and withdrawals it held.
func forgetConsents(ctx context.Context, tx *writeTx, p *store.Prospect) error {
	if _, err := tx.ExecContext(ctx, `UPDATE prospects SET
		consents_granted = (SELECT count(*) FROM consents WHERE account_id = ?1 AND prospect_id = ?2 AND granted),
		consents_withdrawn = (SELECT count(*) FROM consents WHERE account_id = ?1 AND prospect_id = ?2 AND NOT granted)
		WHERE id = ?2`, p.AccountID, p.ID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE account_id = ? AND prospect_id = ?`, p.AccountID, p.ID)
	return err
}

const consentCols = `id, account_id, prospect_id, granted, text, source, ip, user_agent, created`

func scanConsent(row scanner) (*store.Consent, error) {
	var c store.Consent
	var created int64
	err := row.Scan(&c.ID, &c.AccountID, &c.ProspectID, &c.Granted, &c.Text, &c.Source, &c.IP, &c.UserAgent, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.Created = time.Unix(created, 0)
	return &c, nil
}

// ProspectEvents returns a keyset page of the events about the prospect,
// newest first, through the index events_object.
func (db *DB) ProspectEvents(ctx context.Context, accountID, prospectID string, k store.Keyset) (_ *store.EventPage, err error) {
	defer unavailable(&err)
	var q strings.Builder
	q.WriteString(`SELECT ` + eventCols + ` FROM events WHERE account_id = ? AND object_id = ?`)
	rows, more, err := listPage(ctx, db, &q, []any{accountID, prospectID}, k, scanEvent)
	if err != nil {
		return nil, err
	}
	return &store.EventPage{Events: rows, HasMore: more}, nil
}

// ListConsents returns a keyset page of the prospect's consent ledger, newest first.
func (db *DB) ListConsents(ctx context.Context, accountID, prospectID string, k store.Keyset) (_ *store.ConsentPage, err error) {
	defer unavailable(&err)
	var q strings.Builder
	q.WriteString(`SELECT ` + consentCols + ` FROM consents WHERE account_id = ? AND prospect_id = ?`)
	rows, more, err := listPage(ctx, db, &q, []any{accountID, prospectID}, k, scanConsent)
	if err != nil {
		return nil, err
	}
	return &store.ConsentPage{Consents: rows, HasMore: more}, nil
}
