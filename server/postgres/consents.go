package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// insertConsent writes one entry of the consent ledger.
const insertConsent = `INSERT INTO consents (id, account_id, prospect_id, granted, text, source, ip, user_agent, created)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// consentArgs are insertConsent's arguments for the ledger entry of p's
// consent as a change left it (see store.NewConsent).
func consentArgs(ctx context.Context, p *store.Prospect, text *string) []any {
	c := store.NewConsent(ctx, p, text)
	return []any{c.ID, c.AccountID, c.ProspectID, c.Granted, c.Text, c.Source, c.IP, c.UserAgent, c.Created}
}

// recordConsent writes, in a change's transaction, the ledger entry of p's
// consent as the change left it.
func recordConsent(ctx context.Context, tx pgx.Tx, p *store.Prospect, text *string) error {
	_, err := tx.Exec(ctx, insertConsent, consentArgs(ctx, p, text)...)
	return err
}

// forgetConsents removes p's consent ledger in its deletion's transaction,
// keeping on the tombstone how many grants and withdrawals it held.
func forgetConsents(ctx context.Context, tx pgx.Tx, p *store.Prospect) error {
	_, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM consents WHERE account_id = $1 AND prospect_id = $2 RETURNING granted)
		UPDATE prospects SET consents_granted = (SELECT count(*) FROM gone WHERE granted),
			consents_withdrawn = (SELECT count(*) FROM gone WHERE NOT granted)
		WHERE id = $2`, p.AccountID, p.ID)
	return err
}

const consentCols = `id, account_id, prospect_id, granted, text, source, ip, user_agent, created`

func scanConsent(row pgx.Row) (*store.Consent, error) {
	var c store.Consent
	err := row.Scan(&c.ID, &c.AccountID, &c.ProspectID, &c.Granted, &c.Text, &c.Source, &c.IP, &c.UserAgent, &c.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// ProspectEvents returns a keyset page of the events about the prospect,
// newest first, through the index events_object.
func (db *DB) ProspectEvents(ctx context.Context, accountID, prospectID string, k store.Keyset) (_ *store.EventPage, err error) {
	defer unavailable(ctx, &err)
	var q strings.Builder
	q.WriteString(`SELECT ` + eventCols + ` FROM events WHERE account_id = $1 AND object_id = $2`)
	rows, more, err := listPage(ctx, db, &q, []any{accountID, prospectID}, k, scanEvent)
	if err != nil {
		return nil, err
	}
	return &store.EventPage{Events: rows, HasMore: more}, nil
}

// ListConsents returns a keyset page of the prospect's consent ledger, newest first.
func (db *DB) ListConsents(ctx context.Context, accountID, prospectID string, k store.Keyset) (_ *store.ConsentPage, err error) {
	defer unavailable(ctx, &err)
	var q strings.Builder
	q.WriteString(`SELECT ` + consentCols + ` FROM consents WHERE account_id = $1 AND prospect_id = $2`)
	rows, more, err := listPage(ctx, db, &q, []any{accountID, prospectID}, k, scanConsent)
	if err != nil {
		return nil, err
	}
	return &store.ConsentPage{Consents: rows, HasMore: more}, nil
}
