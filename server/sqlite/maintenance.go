package sqlite

// Maintenance: the maintenance flag every replica reads, and the sweeps that
// expire what the server keeps for a while only (Idempotency-Key answers, events).

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/captureapi/capture/server/store"
)

const maintenanceSetting = "maintenance_retry_after" // present while maintenance is on

// SetMaintenance turns maintenance mode on or off.
func (db *DB) SetMaintenance(ctx context.Context, m store.Maintenance) (err error) {
	defer unavailable(&err)
	if !m.On {
		_, err = db.exec(ctx, `DELETE FROM settings WHERE name = ?`, maintenanceSetting)
		return err
	}
	_, err = db.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, maintenanceSetting, strconv.Itoa(m.RetryAfter))
	return err
}

// Maintenance reads the maintenance flag.
func (db *DB) Maintenance(ctx context.Context) (m store.Maintenance, err error) {
	defer unavailable(&err)
	var v string
	err = db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, maintenanceSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
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
	defer unavailable(&err)
	res, err := db.exec(ctx, `DELETE FROM idempotency_keys WHERE created < ?`, before.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PurgeEvents deletes events created before the time, and the delivery attempts
// recorded as long ago.
func (db *DB) PurgeEvents(ctx context.Context, before time.Time) (n int64, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		// Per account: the table's key is (account_id, id).
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE account_id IN (SELECT id FROM accounts) AND id < ?`,
			store.IDBefore("evt_", before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE created < ?`, before.Unix())
		return err
	})
	return n, err
}
