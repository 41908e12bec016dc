package postgres

// Maintenance: the maintenance flag every replica reads, and the sweeps that
// expire what the server keeps for a while only (Idempotency-Key answers, events).

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

const maintenanceSetting = "maintenance_retry_after" // present while maintenance is on

// SetMaintenance turns maintenance mode on or off for every replica.
func (db *DB) SetMaintenance(ctx context.Context, m store.Maintenance) (err error) {
	defer unavailable(ctx, &err)
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if !m.On {
			_, err := tx.Exec(ctx, `DELETE FROM settings WHERE name = $1`, maintenanceSetting)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, maintenanceSetting, strconv.Itoa(m.RetryAfter))
		return err
	})
}

// Maintenance reads the maintenance flag.
func (db *DB) Maintenance(ctx context.Context) (m store.Maintenance, err error) {
	defer unavailable(ctx, &err)
	var v string
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, maintenanceSetting).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Maintenance{}, nil
	}
	if err != nil {
		return m, err
	}
	m.On = true
	m.RetryAfter, _ = strconv.Atoi(v)
	return m, nil
}

// PurgeIdempotency deletes records created before the time.
func (db *DB) PurgeIdempotency(ctx context.Context, before time.Time) (n int64, err error) {
	defer unavailable(ctx, &err)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created < $1`, before)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// PurgeEvents deletes events created before the time, and the delivery attempts
