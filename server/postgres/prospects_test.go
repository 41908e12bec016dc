package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// TestCreatesDoNotLockTheirAccountRow: a create, with or without an
// Idempotency-Key, writes its rows without locking its account's row
// (migration 00020), so a transaction holding that row, as the creation of a
// webhook endpoint does for the account's endpoint limit, holds up none of
// the account's creates. A create for an account there is not is refused.
func TestCreatesDoNotLockTheirAccountRow(t *testing.T) {
	dsn, db, a := newAccount(t)
	ctx := context.Background()
	tx := beginOnItsOwn(t, dsn)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, a.ID); err != nil {
		t.Fatal(err)
	}
	// Were a create to wait on the row, it would meet this deadline.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.CreateProspect(wctx, &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}); err != nil {
		t.Fatalf("a create beside a transaction holding its account's row: %v", err)
	}
	err := db.Atomically(wctx, func(ctx context.Context) error {
		if rec, err := db.BeginIdempotent(ctx, a.ID, "k1", []byte("fp"), "req_1", time.Minute); err != nil || rec != nil {
			return fmt.Errorf("claim: %v %v", rec, err)
		}
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "bob@example.com"}); err != nil {
			return err
		}
		return db.FinishIdempotent(ctx, a.ID, "k1", "req_1", 201, []byte("{}"))
	})
	if err != nil {
		t.Fatalf("an idempotent create beside a transaction holding its account's row: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Account(ctx, a.ID); err != nil || got.ProspectCount != 2 {
		t.Errorf("the account after: %+v %v, want 2 live prospects", got, err)
	}
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: "acct_none", Email: "cy@example.com"}); err == nil {
		t.Error("a create for an account there is not was stored")
	}
}
