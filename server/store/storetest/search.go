package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/store"
)

// searchSeed are the prospects every engine's search is held to, oldest
// first; a query's expected answer is their indexes, newest first.
func searchSeed() []store.Prospect {
	text := func(s string) *string { return &s }
	return []store.Prospect{
		0: {Email: "ada@example.com", FirstName: text("Ada"), LastName: text("Lovelace"), Company: text("Analytical Engines"),
			Title: text("CTO"), Website: text("https://analytical.example.com"), Source: text("web_form"),
			Tags: []string{"vip"}, Metadata: map[string]string{"plan": "pro"}},
		1: {Email: "grace@navy.example.org", FirstName: text("Grace"), LastName: text("Hopper"), Company: text("US Navy"),
			Title: text("Rear Admiral"), Status: "qualified", Tags: []string{"vip", "webinar"}, Metadata: map[string]string{"plan": "free"}},
		2: {Email: "alan@acme.example.com", FirstName: text("Alan"), LastName: text("Turing"), Company: text("ACME Corp"),
			Title: text("Researcher"), Phone: text("+44 20 7946 0000"), Tags: []string{"webinar"}},
		3: {Email: "edsger@acme.example.com", FirstName: text("Edsger"), LastName: text("Dijkstra"), Company: text("Acme Labs"),
			Status: "contacted", Source: text("import"), Metadata: map[string]string{"plan": "pro", "region": "eu"}},
		4: {Email: "barbara@example.com", FirstName: text("Barbara"), LastName: text("Liskov"), Hidden: true,
			Tags: []string{"vip"}, Metadata: map[string]string{"plan": "pro"}},
		5: {Email: "donald@tex.example.com", FirstName: text("Donald"), LastName: text("Knuth"), Company: text("Stanford"),
			Title: text("Professor"), Status: "converted"},
		6: {Email: "margaret@example.com", FirstName: text("Margaret"), LastName: text("Hamilton"), Company: text("Hamilton 100%_ Tech"),
			Title: text("Director")},
		7:  {Email: "linus@example.net", FirstName: text("Linus"), Company: text("Linux_Foundation"), Source: text("import")},
		8:  {Email: "ken@acme.example.com", FirstName: text("Ken"), Company: text("Acme")},      // deleted below
		9:  {Email: "dennis@example.com", FirstName: text("Dennis"), Company: text("Acme Old")}, // updated below to Bell Labs
		10: {Email: "quote@example.com", Company: text(`Say "Hi" \ Inc`), Title: text("cto")},
	}
}

// testSearchQueries runs one table of queries on the seeded prospects: both
// engines must find the same prospects in the same order.
func testSearchQueries(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 1000)
	other := account(t, db, "other", 1000)
	insert(t, db, other.ID, "ada@example.com") // another account's prospects are never found
	ids := map[string]int{}
	start := store.Now()
	for i, p := range searchSeed() {
		p.AccountID = a.ID
		if err := db.CreateProspect(ctx, &p); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		ids[p.ID] = i
		switch i {
		case 8:
			if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
				t.Fatal(err)
			}
		case 9:
			bell := "Bell Labs"
			company := &bell
			if _, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{Company: &company}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := store.Now()
	visible := []int{10, 9, 7, 6, 5, 3, 2, 1, 0}
	for _, tc := range []struct {
		query  string
		hidden bool // an admin key's search
		want   []int
	}{
		{`email:"ADA@example.com"`, false, []int{0}},
		{`email:"barbara@example.com"`, false, nil},
		{`email:"barbara@example.com"`, true, []int{4}},
		{`email~"acme"`, false, []int{3, 2}},
		{`email~"EXAMPLE.COM"`, false, []int{10, 9, 6, 5, 3, 2, 0}},
		{`company~"acme"`, false, []int{3, 2}},
		{`company~"bell"`, false, []int{9}},
		{`company~"old"`, false, nil},
		{`company:"Acme Labs"`, false, []int{3}},
		{`company:"acme labs"`, false, nil},
		{`company~"0%_"`, false, []int{6}},
		{`company~"x_F"`, false, []int{7}},
		{`company~"x%F"`, false, nil},
		{`company~"\"Hi\" \\"`, false, []int{10}},
		{`first_name~"ALA"`, false, []int{2}},
		{`last_name:"Turing"`, false, []int{2}},
		{`title~"cto"`, false, []int{10, 6, 0}}, // Director
		{`title:"CTO"`, false, []int{0}},
		{`website~"analytical"`, false, []int{0}},
		{`phone:"+44 20 7946 0000"`, false, []int{2}},
		{`source:"import"`, false, []int{7, 3}},
		{`status:"new"`, false, []int{10, 9, 7, 6, 2, 0}},
		{`status:"new"`, true, []int{10, 9, 7, 6, 4, 2, 0}},
		{`tag:"vip"`, false, []int{1, 0}},
		{`tag:"vip"`, true, []int{4, 1, 0}},
		{`-tag:"vip"`, false, []int{10, 9, 7, 6, 5, 3, 2}},
		{`metadata["plan"]:"pro"`, false, []int{3, 0}},
		{`metadata["plan"]:"pro" AND -metadata["region"]:"eu"`, false, []int{0}},
		{`tag:"vip" OR metadata["plan"]:"pro"`, false, []int{3, 1, 0}},
		{`company~"acme" AND status:"new"`, false, []int{2}},
		{`company~"acme" AND -status:"new"`, false, []int{3}},
		{`-company~"acme" AND email~"acme"`, false, nil},
		{`-company:"Stanford"`, false, []int{10, 9, 7, 6, 3, 2, 1, 0}},
		{`title~"prof" OR first_name~"gra"`, false, []int{5, 1}},
		{`company~"acme" OR company~"navy" OR email:"linus@example.net"`, false, []int{7, 3, 2, 1}},
		{`email~"example.com" AND tag:"webinar"`, false, []int{2}},
		{fmt.Sprintf(`created>=%d`, start.Unix()), false, visible},
		{fmt.Sprintf(`created<%d`, start.Unix()), false, nil},
		{fmt.Sprintf(`created<=%d AND company~"acme"`, end.Unix()), false, []int{3, 2}},
		{fmt.Sprintf(`created>%d`, end.Unix()), false, nil},
	} {
		q, err := store.ParseSearch(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 100, IncludeHidden: tc.hidden})
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		var got []int
		for _, p := range page.Prospects {
			i, ok := ids[p.ID]
			if !ok {
				i = -1 // not one of the account's seeded prospects
			}
			got = append(got, i)
		}
		if !slices.Equal(got, tc.want) || page.HasMore {
			t.Errorf("%s (admin %v): found %v (has_more %v), want %v", tc.query, tc.hidden, got, page.HasMore, tc.want)
		}
	}

	// Pages of two walk the same prospects as one page of all.
	q, _ := store.ParseSearch(`email~"example"`)
	var walked []int
	for after := ""; ; {
		page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Prospects {
			walked = append(walked, ids[p.ID])
		}
		if !page.HasMore {
			break
		}
		after = page.Prospects[len(page.Prospects)-1].ID
	}
	if !slices.Equal(walked, visible) {
		t.Errorf("pages of two walked %v, want %v", walked, visible)
	}
}

// testSearchReadsItsWrites creates prospects from many goroutines, each
// searching for its own at once: every search finds it; an update is found by
// its new text and not its old, and a deletion is not found.
func testSearchReadsItsWrites(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 10000)
	find := func(query string) []string {
		q, err := store.ParseSearch(query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 10})
		if err != nil {
			t.Errorf("%s: %v", query, err)
			return nil
		}
		var ids []string
		for _, p := range page.Prospects {
			ids = append(ids, p.ID)
		}
		return ids
	}
	const n, workers = 1000, 8
	var misses sync.Map
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				company := fmt.Sprintf("Firm %04d Ltd", i)
				p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("raw%04d@example.com", i), Company: &company}
				if err := db.CreateProspect(ctx, p); err != nil {
					t.Error(err)
					return
				}
				if got := find(fmt.Sprintf(`company~"firm %04d"`, i)); !slices.Equal(got, []string{p.ID}) {
					misses.Store(p.ID, fmt.Sprintf("created: found %v", got))
				}
				if got := find(fmt.Sprintf(`email:"RAW%04d@example.com"`, i)); !slices.Equal(got, []string{p.ID}) {
					misses.Store(p.ID, fmt.Sprintf("by email: found %v", got))
				}
				if i%10 != 0 {
					continue
				}
				renamed := fmt.Sprintf("Renamed %04d Ltd", i)
				named := &renamed
				if _, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{Company: &named}, nil); err != nil {
					t.Error(err)
					return
				}
				if got := find(fmt.Sprintf(`company~"renamed %04d"`, i)); !slices.Equal(got, []string{p.ID}) {
					misses.Store(p.ID, fmt.Sprintf("updated: found %v", got))
				}
				if got := find(fmt.Sprintf(`company~"firm %04d"`, i)); len(got) != 0 {
					misses.Store(p.ID, fmt.Sprintf("updated: its old company found %v", got))
				}
				if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
					t.Error(err)
					return
				}
				if got := find(fmt.Sprintf(`company~"renamed %04d"`, i)); len(got) != 0 {
					misses.Store(p.ID, fmt.Sprintf("deleted: found %v", got))
				}
			}
		})
	}
	wg.Wait()
	var report []string
	misses.Range(func(id, why any) bool {
		report = append(report, fmt.Sprintf("%s %s", id, why))
		return true
	})
	if len(report) > 0 {
		t.Errorf("%d of %d prospects missed by the search right after their write:\n%s", len(report), n, strings.Join(report, "\n"))
	}
}

// RunSearch runs the search tests of the conformance suite alone: for an
// engine of more than one plan, to hold each plan to them.
func RunSearch(t *testing.T, e Engine) {
	t.Run("SearchQueries", func(t *testing.T) { testSearchQueries(t, e) })
	t.Run("SearchReadsItsWrites", func(t *testing.T) { testSearchReadsItsWrites(t, e) })
}
