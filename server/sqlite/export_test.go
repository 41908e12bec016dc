package sqlite

import (
	"context"
	"database/sql"

	"github.com/captureapi/capture/server/outbox"
)

// QueryRowForTest lets the black-box tests read the file as it is on disk.
func (db *DB) QueryRowForTest(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, query, args...)
}

// SetNoEventsForTest makes changes record no events, so that a benchmark can
// set a create with its event against one without.
func (db *DB) SetNoEventsForTest(off bool) { db.noEvents = off }

// SetSearchScanMaxForTest sets the most live prospects of an account whose
// substring search scans its rows instead of asking the trigram index: 0
// always asks the index, -1 always scans.
func (db *DB) SetSearchScanMaxForTest(n int) { db.searchScanMax = n }

// ExecForTest lets the black-box tests change the file behind the store's back.
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}

// QueueWorkForTest tells what the delivery queue holds, as the queue's runner sees it.
func (db *DB) QueueWorkForTest(ctx context.Context) (outbox.Work, error) { return db.queueWork(ctx) }
