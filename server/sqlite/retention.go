package sqlite

import (
	"context"
	"time"

	"github.com/captureapi/capture/server/store"
)

// SweepRetention deletes the prospects past their account's retention.
func (db *DB) SweepRetention(ctx context.Context, now time.Time) (n int, err error) {
	defer unavailable(&err)
	return store.Sweep(ctx, func(ctx context.Context, after store.Stale) ([]store.Stale, error) {
		return db.findStale(ctx, now, after)
	}, func(ctx context.Context, accountID, id string, check func(*store.Prospect) error) error {
		return db.deleteProspect(ctx, accountID, id, check, false)
	})
}

// findStale finds, after the last one found, up to a hundred live prospects
// last updated before their account's retention, not converted.
func (db *DB) findStale(ctx context.Context, now time.Time, after store.Stale) ([]store.Stale, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT p.account_id, p.id, ?1 - a.retention_days * 86400
		FROM accounts a JOIN prospects p ON p.account_id = a.id
		WHERE a.retention_days IS NOT NULL AND p.deleted_at IS NULL AND p.status != 'converted'
			AND p.updated < ?1 - a.retention_days * 86400 AND (p.account_id, p.id) > (?2, ?3)
		ORDER BY p.account_id, p.id LIMIT 100`, now.Unix(), after.AccountID, after.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Stale
	for rows.Next() {
		var s store.Stale
		var cutoff int64
		if err := rows.Scan(&s.AccountID, &s.ID, &cutoff); err != nil {
			return nil, err
		}
		s.Cutoff = time.Unix(cutoff, 0)
		out = append(out, s)
	}
	return out, rows.Err()
}
