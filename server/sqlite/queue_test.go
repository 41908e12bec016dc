package sqlite_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// TestQueueWorkSeesDueAndLaterJobs: the queue's runner sees a delivery due
// later as the time until it is due (so a stopped queue starts for a retry),
// and one due within outbox.IdleAfter as work.
func TestQueueWorkSeesDueAndLaterJobs(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "capture.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[store.Delivery]) error { return nil }))
	q, err := db.StartQueue(ctx, &river.Config{Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers: workers, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	if w, err := db.QueueWorkForTest(ctx); err != nil || w != (outbox.Work{}) {
		t.Fatalf("an empty queue: %+v, %v", w, err)
	}
	if _, err := q.Insert(ctx, store.Delivery{EndpointID: "we_later", EventID: "evt_later"},
		&river.InsertOpts{ScheduledAt: time.Now().Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if w, err := db.QueueWorkForTest(ctx); err != nil || w.Busy || w.In < 9*time.Minute || w.In > 10*time.Minute {
		t.Fatalf("a delivery due in 10 minutes: %+v, %v", w, err)
	}
	if _, err := q.Insert(ctx, store.Delivery{EndpointID: "we_soon", EventID: "evt_soon"},
		&river.InsertOpts{ScheduledAt: time.Now().Add(outbox.IdleAfter / 2)}); err != nil {
		t.Fatal(err)
	}
	if w, err := db.QueueWorkForTest(ctx); err != nil || !w.Busy {
		t.Fatalf("a delivery due within IdleAfter: %+v, %v", w, err)
	}
}
