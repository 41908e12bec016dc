package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/store"
)

// refuseConflicts is the Conflict of a batch that answers each item whose
// email a live prospect has with an *ExistsError, as on_conflict: error does.
func refuseConflicts(_ int, existing *store.Prospect) (*store.ProspectPatch, error) {
	return nil, &store.ExistsError{ID: existing.ID, Hidden: existing.Hidden}
}

// createMany is UpsertProspects under refuseConflicts, its outcomes as
// errors: nil for an item created.
func createMany(db store.Store, ps []*store.Prospect) ([]error, error) {
	up, err := db.UpsertProspects(ctx, ps, refuseConflicts, nil)
	if err != nil {
		return nil, err
	}
	out := make([]error, len(up))
	for i, u := range up {
		out[i] = u.Err
	}
	return out, nil
}

// testCreateProspects: a batch creates its items in order as many creates
// would: an earlier item or a live prospect makes an item's email a
// conflict, the plan limit refuses the items past it, and each created item
// has its event.
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
	out, err := createMany(db, ps)
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

}

// testCreateProspectsConcurrent: calls from many goroutines, with emails in
// common and one another's creates and upserts, keep one live prospect per email and
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
			if g%4 == 2 { // an upsert, which updates the prospects it meets
				company := &[]string{fmt.Sprint("Upsert ", g)}[0]
				update := func(int, *store.Prospect) (*store.ProspectPatch, error) {
					return &store.ProspectPatch{Company: &company}, nil
				}
				if _, err := db.UpsertProspects(ctx, ps, update, nil); err != nil {
					t.Error(err)
				}
				return
			}
			if _, err := createMany(db, ps); err != nil {
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

// testUpsertProspects: a call decides its items in order as many creates and
// updates would: a conflict with a live prospect or an earlier item is
// answered as the callback says (patched, as it is, or an error), the plan
// limit counts only the created ones, a failing check leaves the prospect as
// it was, and every write has its event, in the items' order.
func testUpsertProspects(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 4) // room for two more
	old := insert(t, db, a.ID, "old@example.com")
	kept := insert(t, db, a.ID, "kept@example.com")
	refused := errors.New("refused")
	company := func(s string) *store.ProspectPatch {
		c := &s
		return &store.ProspectPatch{Company: &c, Metadata: map[string]string{"by": s}}
	}
	var ps []*store.Prospect
	for _, m := range []string{"new@example.com", " OLD@example.com", "NEW@example.com", "kept@example.com",
		"old@example.com", "more@example.com", "over@example.com", "bad@example.com"} {
		ps = append(ps, &store.Prospect{AccountID: a.ID, Email: m})
	}
	patches := map[int]*store.ProspectPatch{1: company("One"), 2: company("Two"), 4: company("Four")}
	conflict := func(k int, existing *store.Prospect) (*store.ProspectPatch, error) {
		switch {
		case k == 3:
			return nil, refused
		case k == 4 && existing.Company == nil:
			return nil, errors.New("item 4 met the prospect before item 1's update")
		}
		return patches[k], nil
	}
	check := func(p *store.Prospect) error {
		if p.Company != nil && *p.Company == "Four" {
			return errors.New("four is refused")
		}
		return nil
	}
	out, err := db.UpsertProspects(ctx, ps, conflict, check)
	if err != nil || len(out) != len(ps) {
		t.Fatalf("outcomes %v, %v", out, err)
	}
	if !out[0].Created || out[0].Prospect.Company != nil {
		t.Errorf("item 0: %+v, want created", out[0])
	}
	if o := out[1]; o.Created || o.Err != nil || o.Prospect.ID != old.ID || *o.Prospect.Company != "One" {
		t.Errorf("item 1: %+v, want old updated", o)
	}
	if o := out[2]; o.Created || o.Err != nil || o.Prospect.ID != out[0].Prospect.ID || *o.Prospect.Company != "Two" {
		t.Errorf("item 2: %+v, want item 0's prospect updated", o)
	}
	if out[0].Prospect.Company != nil {
		t.Errorf("item 2's update changed item 0's answer: %+v", out[0].Prospect)
	}
	if !errors.Is(out[3].Err, refused) {
		t.Errorf("item 3: %+v, want the callback's error", out[3])
	}
	if out[4].Err == nil {
		t.Errorf("item 4: %+v, want the check's error", out[4])
	}
	if !out[5].Created || !errors.Is(out[6].Err, store.ErrPlanLimit) || !errors.Is(out[7].Err, store.ErrPlanLimit) {
		t.Errorf("items 5 to 7: %+v %+v %+v, want created, then the plan limit", out[5], out[6], out[7])
	}
	if n := liveCount(t, db, a.ID); n != 4 {
		t.Errorf("%d live prospects, want 4", n)
	}
	for id, want := range map[string]string{old.ID: "One", out[0].Prospect.ID: "Two"} {
		p, err := db.Prospect(ctx, a.ID, id)
		if err != nil || p.Company == nil || *p.Company != want || p.Metadata["by"] != want {
			t.Errorf("%s stored as %+v (%v), want company %s", id, p, err, want)
		}
	}
	if p, err := db.Prospect(ctx, a.ID, kept.ID); err != nil || p.Company != nil || !p.Updated.Equal(kept.Updated) {
		t.Errorf("the refused item changed its prospect: %+v (%v)", p, err)
	}
	// Newest first: item 5's create, item 2's update, item 1's, item 0's create.
	ev := allEvents(t, db, a.ID)
	var got []string
	for _, e := range ev[:min(len(ev), 4)] {
		got = append(got, e.Type+" "+e.Prospect.ID)
	}
	want := []string{store.EventProspectCreated + " " + out[5].Prospect.ID, store.EventProspectUpdated + " " + out[0].Prospect.ID,
		store.EventProspectUpdated + " " + old.ID, store.EventProspectCreated + " " + out[0].Prospect.ID}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(ev) != 4+2 { // and the two inserts before the call
		t.Errorf("events %v (%d in all), want %v and the two earlier creates", got, len(ev), want)
	}
	if _, ok := ev[1].PreviousAttributes["company"]; !ok {
		t.Errorf("item 2's event: previous attributes %v, want company (unset before)", ev[1].PreviousAttributes)
	}
}
