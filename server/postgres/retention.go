package postgres

import (
	"context"
	"time"

	"github.com/captureapi/capture/server/store"
)

// SweepRetention deletes the prospects past their account's retention.
func (db *DB) SweepRetention(ctx context.Context, now time.Time) (n int, err error) {
	defer unavailable(ctx, &err)
	return store.Sweep(ctx, func(ctx context.Context, after store.Stale) ([]store.Stale, error) {
		return db.findStale(ctx, now, after)
	}, func(ctx context.Context, accountID, id string, check func(*store.Prospect) error) error {
		return db.deleteProspect(ctx, accountID, id, check, false)
	})
}

// findStale finds, after the last one found, up to a hundred live prospects
// last updated before their account's retention, not converted.
func (db *DB) findStale(ctx context.Context, now time.Time, after store.Stale) (out []store.Stale, err error) {
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT p.account_id, p.id, $1::timestamptz - make_interval(days => a.retention_days)
			FROM accounts a JOIN prospects p ON p.account_id = a.id
			WHERE a.retention_days IS NOT NULL AND p.deleted_at IS NULL AND p.status <> 'converted'
				AND p.updated < $1::timestamptz - make_interval(days => a.retention_days) AND (p.account_id, p.id) > ($2, $3)
			ORDER BY p.account_id, p.id LIMIT 100`, now, after.AccountID, after.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s store.Stale
			if err := rows.Scan(&s.AccountID, &s.ID, &s.Cutoff); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}
