package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

func testAtomicallyCommits(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_1", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	err := db.Atomically(ctx, func(ctx context.Context) error {
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email}); err != nil {
				return err
			}
		}
		return db.FinishIdempotent(ctx, a.ID, "k", "req_1", 201, []byte("both"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 2 || liveCount(t, db, a.ID) != 2 {
		t.Errorf("after commit: %v listed, live count %d; want 2", ids, liveCount(t, db, a.ID))
	}
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_2", time.Minute); err != nil || rec == nil || rec.Status != 201 {
		t.Errorf("the answer kept with the effect: %+v %v", rec, err)
	}
}

func testAtomicallyRollsBack(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_1", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	crash := errors.New("crash before commit")
	err := db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}); err != nil {
			return err
		}
		if err := db.SetMaintenance(ctx, store.Maintenance{On: true, RetryAfter: 5}); err != nil {
			return err
		}
		if err := db.FinishIdempotent(ctx, a.ID, "k", "req_1", 201, []byte("kept?")); err != nil {
			return err
		}
		return crash
	})
	if !errors.Is(err, crash) {
		t.Fatalf("Atomically: %v, want fn's error", err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 0 || liveCount(t, db, a.ID) != 0 {
		t.Errorf("after rollback: %v listed, live count %d; want none", ids, liveCount(t, db, a.ID))
	}
	if m, err := db.Maintenance(ctx); err != nil || m.On {
		t.Errorf("maintenance after rollback: %+v %v, want off", m, err)
	}
	// The key is still in flight, its answer not kept: only the same request may
	// take it over once its lock runs out, as after a crash.
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_2", time.Minute); err != nil || rec == nil || rec.Status != 0 {
		t.Errorf("key after rollback: %+v %v, want still in flight", rec, err)
	}

	// A panic rolls back too, and the store stays usable.
	func() {
		defer func() { recover() }()
		db.Atomically(ctx, func(ctx context.Context) error {
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "panic@example.com"}); err != nil {
				return err
			}
			panic("handler panics")
		})
	}()
	if ids := listed(t, db, a.ID); len(ids) != 0 {
		t.Errorf("after a panic: %v listed, want none", ids)
	}
	insert(t, db, a.ID, "after@example.com")
}

// testAtomicallySavepoint: a store call that fails inside Atomically undoes its
// own writes only; the transaction goes on and commits the rest.
func testAtomicallySavepoint(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 2)
	err := db.Atomically(ctx, func(ctx context.Context) error {
		insertIn := func(email string) error {
			return db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email})
		}
		if err := insertIn("ada@example.com"); err != nil {
			return err
		}
		var exists *store.ExistsError
		if err := insertIn("ada@example.com"); !errors.As(err, &exists) {
			return fmt.Errorf("duplicate in the transaction: %v, want ExistsError", err)
		}
		if err := insertIn("bob@example.com"); err != nil {
			return err
		}
		if err := insertIn("cy@example.com"); !errors.Is(err, store.ErrPlanLimit) {
			return fmt.Errorf("third create on a plan of 2: %v, want ErrPlanLimit", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 2 || liveCount(t, db, a.ID) != 2 {
		t.Errorf("committed %v, live count %d; want ada and bob", ids, liveCount(t, db, a.ID))
	}
}

// testAtomicallyFirstStepFails: a store call that fails as the first write of
// the transaction undoes its own writes only, and what follows it commits, the
// kept answer alone included.
func testAtomicallyFirstStepFails(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 2)
	insert(t, db, a.ID, "ada@example.com")
	for i, next := range []string{"bob@example.com", ""} {
		key, req := fmt.Sprintf("k%d", i), fmt.Sprintf("req_%d", i)
		if rec, err := db.BeginIdempotent(ctx, a.ID, key, fpA, req, time.Minute); err != nil || rec != nil {
			t.Fatalf("claim: %+v %v", rec, err)
		}
		err := db.Atomically(ctx, func(ctx context.Context) error {
			var exists *store.ExistsError
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}); !errors.As(err, &exists) {
				return fmt.Errorf("duplicate first: %v, want ExistsError", err)
			}
			if next != "" {
				if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: next}); err != nil {
					return err
				}
			}
			return db.FinishIdempotent(ctx, a.ID, key, req, 409, []byte("exists"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := db.BeginIdempotent(ctx, a.ID, key, fpA, "req_again", time.Minute); err != nil || rec == nil || rec.Status != 409 {
			t.Errorf("%s: the answer kept: %+v %v", key, rec, err)
		}
	}
	if ids := listed(t, db, a.ID); len(ids) != 2 || liveCount(t, db, a.ID) != 2 {
		t.Errorf("committed %v, live count %d; want ada and bob", ids, liveCount(t, db, a.ID))
	}
	// A transaction that writes nothing commits.
	if err := db.Atomically(ctx, func(ctx context.Context) error { return nil }); err != nil {
		t.Errorf("empty transaction: %v", err)
	}
}
