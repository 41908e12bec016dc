package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

// TestClaimOfAVanishedHostEnds: an Idempotency-Key's claim lasts as long as
// its transaction, and a transaction whose host vanished (its connection
// neither used nor closed) is ended once it has been idle for the claim's
// lock: the key is then free for a retry, on any connection.
func TestClaimOfAVanishedHostEnds(t *testing.T) {
	dsn, db, a := newAccount(t)
	ctx := context.Background()
	fp := []byte("the request")
	vanished := beginOnItsOwn(t, dsn)
	var held string
	if err := vanished.QueryRow(ctx, `SELECT held FROM claim_idempotency_key($1, 'k1', $2, 'req_vanished', 300, 86400)`, a.ID, fp).Scan(&held); err != nil || held != "" {
		t.Fatalf("the first claim: %q %v", held, err)
	}
	retry := func() (*store.IdempotencyRecord, error) {
		var rec *store.IdempotencyRecord
		err := db.Atomically(ctx, func(ctx context.Context) error {
			var err error
			rec, err = db.BeginIdempotent(ctx, a.ID, "k1", fp, "req_retry", time.Minute)
			return err
		})
		return rec, err
	}
	if rec, err := retry(); err != nil || rec == nil || rec.Status != 0 {
		t.Fatalf("a retry while the first claim's transaction is open: %+v %v; want the key in use", rec, err)
	}
	poll.Until(t, 10*time.Second, "the retry to claim the key", func() (bool, string) {
		rec, err := retry()
		return err == nil && rec == nil, fmt.Sprintf("%+v %v", rec, err)
	})
	if _, err := vanished.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("the idle transaction's session is still open")
	}
}
