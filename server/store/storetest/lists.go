package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// testListedAsRead holds a page of prospects, every optional field set on some
// and empty on others, to the same prospects read one by one: a list reads its
// rows through one set of scan targets, and no row may show another's values.
func testListedAsRead(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	text := func(i, every int, s string) *string {
		if i%every != 0 {
			return nil
		}
		s = fmt.Sprintf("%s %d", s, i)
		return &s
	}
	for i := range 12 {
		p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i),
			FirstName: text(i, 2, "First"), LastName: text(i, 3, "Last"), Company: text(i, 4, "Company"),
			Title: text(i, 5, "Title"), Phone: text(i+1, 2, "+44 20 7946"), Website: text(i+1, 3, "https://example.com/"),
			Source: text(i+2, 3, "source"), MarketingConsent: i%2 == 1, Hidden: i%5 == 4}
		if i%3 == 0 {
			p.Tags = []string{fmt.Sprint("tag", i), "shared"}
			p.Metadata = map[string]string{"n": fmt.Sprint(i)}
		}
		if err := db.CreateProspect(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 100, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Prospects) != 12 {
		t.Fatalf("listed %d prospects, want 12", len(page.Prospects))
	}
	for _, listed := range page.Prospects {
		read, err := db.Prospect(ctx, a.ID, listed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&listed, read) {
			t.Errorf("listed %+v\nread   %+v", listed, *read)
		}
	}
}

// testPaginationUnderInserts walks every page while another goroutine inserts: no
// prospect that existed when the walk began is missed or seen twice.
func testPaginationUnderInserts(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 10000)
	before := map[string]bool{}
	for i := range 250 {
		before[insert(t, db, a.ID, fmt.Sprintf("old%d@example.com", i)).ID] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("new%d@example.com", i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 7, StartingAfter: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, p := range page.Prospects {
			if seen[p.ID] {
				t.Fatalf("page %d repeats %s", pages, p.ID)
			}
			if i > 0 && p.ID >= page.Prospects[i-1].ID {
				t.Fatalf("page %d not newest first", pages)
			}
			seen[p.ID] = true
		}
		if !page.HasMore {
			break
		}
		cursor = page.Prospects[len(page.Prospects)-1].ID
	}
	close(stop)
	wg.Wait()
	for id := range before {
		if !seen[id] {
			t.Errorf("walk missed %s", id)
		}
	}
	if pages < 250/7 {
		t.Errorf("only %d pages", pages)
	}

	// ending_before walks back towards the newest, answering newest first.
	first, _ := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5})
	second, _ := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5, StartingAfter: first.Prospects[4].ID})
	back, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5, EndingBefore: second.Prospects[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.Prospects {
		if back.Prospects[i].ID != first.Prospects[i].ID {
			t.Fatalf("ending_before page %d = %s, want %s", i, back.Prospects[i].ID, first.Prospects[i].ID)
		}
	}
	if back.HasMore {
		t.Error("ending_before from the second page says there is more before the first")
	}
}

func testListFilters(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	mk := func(email, status string, tags []string, hidden bool) {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email, Status: status, Tags: tags, Hidden: hidden}); err != nil {
			t.Fatal(err)
		}
	}
	mk("a@example.com", "new", []string{"vip", "emea"}, false)
	mk("b@example.com", "qualified", []string{"emea"}, false)
	mk("c@example.com", "qualified", nil, true)
	count := func(lp store.ListParams) int {
		lp.Limit = 100
		page, err := db.ListProspects(ctx, a.ID, lp)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Prospects)
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for name, c := range map[string]struct {
		lp   store.ListParams
		want int
	}{
		"all visible":       {store.ListParams{}, 2},
		"all with hidden":   {store.ListParams{IncludeHidden: true}, 3},
		"status":            {store.ListParams{Status: "qualified"}, 1},
		"tag":               {store.ListParams{Tag: "emea"}, 2},
		"tag vip":           {store.ListParams{Tag: "vip"}, 1},
		"email any case":    {store.ListParams{Email: "B@Example.com"}, 1},
		"hidden by email":   {store.ListParams{Email: "c@example.com"}, 0},
		"created since":     {store.ListParams{CreatedGTE: &past}, 2},
		"created in future": {store.ListParams{CreatedGTE: &future}, 0},
		"created until":     {store.ListParams{CreatedLTE: &past}, 0},
	} {
		if got := count(c.lp); got != c.want {
			t.Errorf("%s: %d prospects, want %d", name, got, c.want)
		}
	}
}
