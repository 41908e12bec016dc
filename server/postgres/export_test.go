package postgres

import (
	"context"
	"testing"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

// QueryRowForTest lets the black-box tests read the database as it is.
func (db *DB) QueryRowForTest(t testing.TB, query string, args []any, dest ...any) {
	t.Helper()
	if err := db.pool.QueryRow(context.Background(), query, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// UpsertLastRunForTest runs UpsertProspects from its last run (the one that
// takes every slot of the account's count first), as after four runs that
// met other writers: the black-box tests cannot bring those about at will.
func (db *DB) UpsertLastRunForTest(ctx context.Context, ps []*store.Prospect, conflict store.Conflict) (out []store.Upserted, err error) {
	for _, p := range ps {
		p.Normalise()
	}
	err = db.Atomically(ctx, func(ctx context.Context) (err error) {
		out, err = db.upsertRuns(ctx, ps, conflict, nil, upsertRuns-1)
		return err
	})
	return out, err
}

// QueueWorkForTest tells what the delivery queue holds, as the queue's runner sees it.
func (db *DB) QueueWorkForTest(ctx context.Context) (outbox.Work, error) { return db.queueWork(ctx) }
