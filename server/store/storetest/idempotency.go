package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

var (
	fpA = []byte("fingerprint of request A........")
	fpB = []byte("fingerprint of request B........")
)

func testIdempotency(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	other := account(t, db, "globex", 100)
	begin := func(accountID string, fp []byte, req string) *store.IdempotencyRecord {
		t.Helper()
		rec, err := db.BeginIdempotent(ctx, accountID, "k1", fp, req, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := begin(a.ID, fpA, "req_1"); rec != nil {
		t.Fatalf("a new key is held by %+v", rec)
	}
	// While it runs: the same request and another request both see the holder.
	if rec := begin(a.ID, fpA, "req_2"); rec == nil || rec.Status != 0 || rec.RequestID != "req_1" {
		t.Errorf("key in flight: %+v, want req_1 running", rec)
	}
	if rec := begin(a.ID, fpB, "req_3"); rec == nil || string(rec.Fingerprint) != string(fpA) {
		t.Errorf("key in flight, other request: %+v, want req_1's fingerprint", rec)
	}
	// Keys are scoped to the account.
	if rec := begin(other.ID, fpA, "req_4"); rec != nil {
		t.Errorf("another account's key k1 is held by %+v", rec)
	}
	// Only the holder keeps an answer.
	if err := db.FinishIdempotent(ctx, a.ID, "k1", "req_2", 500, []byte("no")); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishIdempotent(ctx, a.ID, "k1", "req_1", 201, []byte(`{"id":"prs_1"}`)); err != nil {
		t.Fatal(err)
	}
	rec := begin(a.ID, fpA, "req_5")
	if rec == nil || rec.Status != 201 || string(rec.Body) != `{"id":"prs_1"}` || rec.RequestID != "req_1" {
		t.Fatalf("finished key: %+v, want req_1's 201 and body", rec)
	}
	// A release by a request that does not hold it, or of a finished key, changes nothing.
	if err := db.ReleaseIdempotent(ctx, a.ID, "k1", "req_1"); err != nil {
		t.Fatal(err)
	}
	if rec := begin(a.ID, fpA, "req_6"); rec == nil || rec.Status != 201 {
		t.Errorf("finished key after a release: %+v, want the kept answer", rec)
	}

	// A released key is free again.
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k2", fpA, "req_7", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim k2: %+v %v", rec, err)
	}
	if err := db.ReleaseIdempotent(ctx, a.ID, "k2", "req_7"); err != nil {
		t.Fatal(err)
	}
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k2", fpB, "req_8", time.Minute); err != nil || rec != nil {
		t.Errorf("claim a released key: %+v %v, want it claimed", rec, err)
	}

	// Purge deletes what was created before the time.
	if n, err := db.PurgeIdempotency(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purge of old records: %d %v, want 0", n, err)
	}
	if n, err := db.PurgeIdempotency(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Errorf("purge of every record: %d %v, want 3", n, err)
	}
	if rec := begin(a.ID, fpB, "req_9"); rec != nil {
		t.Errorf("a purged key is held by %+v", rec)
	}
}

// testIdempotencyLockRunsOut: the key of a request whose process died is free
// again for the same request once its lock runs out, and never for another.
func testIdempotencyLockRunsOut(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_dead", 100*time.Millisecond); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	poll.Until(t, 10*time.Second, "the dead request's lock to run out", func() (bool, string) {
		rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_retry", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			return true, "claimed by the retry"
		}
		if rec.RequestID != "req_dead" || rec.Status != 0 {
			t.Fatalf("while locked: %+v", rec)
		}
		return false, "still held by " + rec.RequestID
	})
	// The retry holds it now; the dead request can no longer keep an answer.
	if err := db.FinishIdempotent(ctx, a.ID, "k", "req_dead", 201, []byte("late")); err != nil {
		t.Fatal(err)
	}
	rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpB, "req_other", time.Minute)
	if err != nil || rec == nil || rec.RequestID != "req_retry" || rec.Status != 0 {
		t.Errorf("after the retry claimed it: %+v %v, want req_retry running", rec, err)
	}
}

// testIdempotencyConcurrent runs one idempotent create from many goroutines, as
// the server does: claim, then the effect and the answer in one Atomically.
func testIdempotencyConcurrent(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 1000)
	const n = 40
	var wg sync.WaitGroup
	type result struct {
		rec *store.IdempotencyRecord
		ran bool
		err error
	}
	results := make(chan result, n)
	for i := range n {
		wg.Go(func() {
			req := fmt.Sprintf("req_%d", i)
			rec, err := db.BeginIdempotent(ctx, a.ID, "same", fpA, req, time.Minute)
			if err != nil || rec != nil {
				results <- result{rec: rec, err: err}
				return
			}
			err = db.Atomically(ctx, func(ctx context.Context) error {
				p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
				if err := db.CreateProspect(ctx, p); err != nil {
					return err
				}
				return db.FinishIdempotent(ctx, a.ID, "same", req, 201, []byte(p.ID))
			})
			results <- result{ran: true, err: err}
		})
	}
	wg.Wait()
	close(results)
	ran := 0
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("goroutine: %v", r.err)
		case r.ran:
			ran++
		case r.rec.RequestID == "" || string(r.rec.Fingerprint) != string(fpA):
			t.Errorf("a losing claim got %+v", r.rec)
		}
	}
	ids := listed(t, db, a.ID)
	if ran != 1 || len(ids) != 1 {
		t.Fatalf("%d goroutines ran, %d prospects; want 1 and 1", ran, len(ids))
	}
	rec, err := db.BeginIdempotent(ctx, a.ID, "same", fpA, "req_late", time.Minute)
	if err != nil || rec == nil || rec.Status != 201 || string(rec.Body) != ids[0] {
		t.Errorf("replay after the run: %+v %v, want 201 with %s", rec, err, ids[0])
	}
}
