package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/store"
)

// testCreateProspects: a call creates its items in order as many creates
// would: an earlier item or a live prospect makes an item's email a
// conflict, the plan limit refuses the items past it, and each created item
// has its event; with stopAtConflict the outcomes end at the first conflict.
func testCreateProspects(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 5)
	old := insert(t, db, a.ID, "old@example.com")
	items := func(emails ...string) []*store.Prospect {
		var ps []*store.Prospect
		for _, m := range emails {
			ps = append(ps, &store.Prospect{AccountID: a.ID, Email: m})
		}
		return ps
	}
	ps := items("a@example.com", " OLD@example.com", "b@example.com", "A@example.com", "c@example.com", "d@example.com", "e@example.com")
	out, err := db.CreateProspects(ctx, ps, false)
	if err != nil || len(out) != len(ps) {
		t.Fatalf("outcomes %v, %v", out, err)
	}
	var exists *store.ExistsError
	want := func(i int, ok bool, conflictWith string, limit bool) {
		t.Helper()
		switch {
		case ok && out[i] != nil:
			t.Errorf("item %d: %v, want created", i, out[i])
		case conflictWith != "" && (!errors.As(out[i], &exists) || exists.ID != conflictWith):
			t.Errorf("item %d: %v, want a conflict with %s", i, out[i], conflictWith)
		case limit && !errors.Is(out[i], store.ErrPlanLimit):
			t.Errorf("item %d: %v, want the plan limit", i, out[i])
		}
	}
	want(0, true, "", false)
	want(1, false, old.ID, false)
	want(2, true, "", false)
	want(3, false, ps[0].ID, false)
	want(4, true, "", false)
	want(5, true, "", false)
	want(6, false, "", true)
	if n := liveCount(t, db, a.ID); n != 5 {
		t.Errorf("%d live prospects, want 5", n)
	}
	if ev := allEvents(t, db, a.ID); len(ev) != 5 || ev[0].Prospect.ID != ps[5].ID || ev[3].Prospect.ID != ps[0].ID {
		t.Errorf("%d events, want one a create, newest first", len(ev))
	}

	b := account(t, db, "globex", 100)
	insert(t, db, b.ID, "x@example.com")
	ps = items("w@example.com", "x@example.com", "y@example.com")
	for _, p := range ps {
		p.AccountID = b.ID
	}
	out, err = db.CreateProspects(ctx, ps, true)
	if err != nil || len(out) != 2 || out[0] != nil || !errors.As(out[1], &exists) {
		t.Fatalf("stopping at the conflict: %v, %v", out, err)
	}
	if n := liveCount(t, db, b.ID); n != 2 {
		t.Errorf("%d live prospects after stopping, want 2", n)
	}
}

// testCreateProspectsConcurrent: calls from many goroutines, with emails in
// common and one another's creates, keep one live prospect per email and
// exactly as many as the plan allows.
func testCreateProspectsConcurrent(t *testing.T, e Engine) {
	db := e.Open(t)
	const limit = 30
	a := account(t, db, "acme", limit)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			if g%2 == 1 {
				for i := range 6 {
					err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", g+i)})
					var exists *store.ExistsError
					if err != nil && !errors.As(err, &exists) && !errors.Is(err, store.ErrPlanLimit) {
						t.Error(err)
					}
				}
				return
			}
			var ps []*store.Prospect
			for i := range 10 {
				ps = append(ps, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", g*3+i)})
			}
			if _, err := db.CreateProspects(ctx, ps, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 100, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range page.Prospects {
		if seen[p.Email] {
			t.Errorf("%s twice", p.Email)
		}
		seen[p.Email] = true
	}
	if n := liveCount(t, db, a.ID); n != int64(len(page.Prospects)) || n > limit {
		t.Errorf("count %d, %d live prospects, limit %d", n, len(page.Prospects), limit)
	}
}
