package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/captureapi/capture/server/store"
)

// TestUpsertBatchSizes writes batches of sizes on either side of the numbers
// of rows the batch's statements hold (8, 32, 128, 500; a larger one takes
// two): every item of each is created once, with its event and its consent
// ledger entry, and nothing else is, whatever the padding of the statements.
func TestUpsertBatchSizes(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "sizes", 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(int, *store.Prospect) (*store.ProspectPatch, error) { return nil, errors.New("exists") }
	total := 0
	for _, size := range []int{1, 8, 9, 32, 33, 128, 129, 500, 501, 1001} {
		ps := make([]*store.Prospect, size)
		for i := range ps {
			ps[i] = &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("s%d-%d@example.com", size, i), MarketingConsent: i%2 == 0}
		}
		out, err := db.UpsertProspects(ctx, ps, fail, nil)
		if err != nil {
			t.Fatalf("batch of %d: %v", size, err)
		}
		for i, o := range out {
			if o.Err != nil || !o.Created || o.Prospect.Email != ps[i].Email {
				t.Fatalf("batch of %d, item %d: %+v", size, i, o)
			}
		}
		total += size
		var prospects, events, consents int
		if err := db.QueryRowForTest(ctx, `SELECT (SELECT count(*) FROM prospects WHERE account_id = ?1),
			(SELECT count(*) FROM events WHERE account_id = ?1), (SELECT count(*) FROM consents WHERE account_id = ?1)`,
			a.ID).Scan(&prospects, &events, &consents); err != nil {
			t.Fatal(err)
		}
		granted := 0
		for _, s := range []int{1, 8, 9, 32, 33, 128, 129, 500, 501, 1001} {
			if s > size {
				break
			}
			granted += (s + 1) / 2
		}
		if prospects != total || events != total || consents != granted {
			t.Fatalf("after a batch of %d: %d prospects, %d events, %d consents; want %d, %d, %d",
				size, prospects, events, consents, total, total, granted)
		}
		got, err := db.Account(ctx, a.ID)
		if err != nil || got.ProspectCount != int64(total) {
			t.Fatalf("after a batch of %d: count %+v (%v), want %d", size, got, err, total)
		}
		last, err := db.Prospect(ctx, a.ID, out[size-1].Prospect.ID)
		if err != nil || last.Email != ps[size-1].Email {
			t.Fatalf("after a batch of %d: its last prospect %+v (%v)", size, last, err)
		}
	}
}
