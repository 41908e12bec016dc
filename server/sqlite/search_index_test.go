package sqlite_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// The trigram index takes the prospects a transaction wrote as they are when
// it commits (migration 00015): whatever a transaction does to a prospect it
// created, a substring search finds the prospect by what it holds at the
// commit and by nothing else, and FTS5's own check finds the index in step
// with the table.
func TestSearchIndexAtCommit(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	db.SetSearchScanMaxForTest(0) // ask the index, whatever the account's size
	a, err := db.CreateAccount(ctx, "acme", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	var updated, deleted, kept store.Prospect
	err = db.Atomically(ctx, func(ctx context.Context) error {
		updated = store.Prospect{AccountID: a.ID, Email: "ada@example.com", Company: str("Analytical Engines")}
		deleted = store.Prospect{AccountID: a.ID, Email: "bob@example.com", Company: str("Difference Works")}
		kept = store.Prospect{AccountID: a.ID, Email: "cyd@example.com", Company: str("Jacquard Looms")}
		for _, p := range []*store.Prospect{&updated, &deleted, &kept} {
			if err := db.CreateProspect(ctx, p); err != nil {
				return err
			}
		}
		company := str("Babbage Labs")
		if _, err := db.UpdateProspect(ctx, a.ID, updated.ID, store.ProspectPatch{Company: &company}, nil); err != nil {
			return err
		}
		return db.DeleteProspect(ctx, a.ID, deleted.ID, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A create refused by the plan rolls back its own pending row with it.
	full, err := db.CreateAccount(ctx, "full", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: full.ID, Email: "dee@example.com", Company: str("Refused Ltd")}); !errors.Is(err, store.ErrPlanLimit) {
		t.Fatalf("a create over the plan: %v", err)
	}
	for _, c := range []struct {
		query string
		want  string // the prospect found, "" for none
	}{
		{`company~"babbage"`, updated.ID},
		{`company~"analytical"`, ""},
		{`company~"difference"`, ""},
		{`company~"jacquard"`, kept.ID},
		{`email~"cyd@"`, kept.ID},
	} {
		assertFound(t, db, a.ID, c.query, c.want)
	}
	assertFound(t, db, full.ID, `company~"refused"`, "")
	assertIndexInStep(t, db)

	// And later transactions, one create each and concurrent ones sharing
	// commits, change what a previous one indexed.
	company := str("Lovelace & Co")
	if _, err := db.UpdateProspect(ctx, a.ID, kept.ID, store.ProspectPatch{Company: &company}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			p := &store.Prospect{AccountID: a.ID, Email: string(rune('a'+i)) + "-many@example.com", Company: str("Many Hands")}
			if err := db.CreateProspect(ctx, p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	assertFound(t, db, a.ID, `company~"lovelace"`, kept.ID)
	assertFound(t, db, a.ID, `company~"jacquard"`, "")
	page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: mustParse(t, `company~"many hands"`), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Prospects) != 20 {
		t.Errorf(`company~"many hands" found %d prospects, want 20`, len(page.Prospects))
	}
	assertIndexInStep(t, db)
}

// Prospects another writer of the file inserted (such as a bulk load in SQL)
// wait out of the index until the store's next commit, which indexes them.
func TestSearchIndexTakesAnotherWritersRows(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	db.SetSearchScanMaxForTest(0)
	a, err := db.CreateAccount(ctx, "acme", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO prospects (id, account_id, email, company, created, updated)
			VALUES ('prs_loaded', ?1, 'eve@example.com', 'Bulk Loaded', 0, 0), ('prs_dropped', ?1, 'fay@example.com', 'Bulk Dropped', 0, 0)`,
		`DELETE FROM prospects WHERE id = 'prs_dropped' AND account_id = ?1`, // never indexed: nothing to take out
	} {
		if err := db.ExecForTest(ctx, q, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	assertFound(t, db, a.ID, `company~"bulk loaded"`, "")
	if err := db.MergeSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	assertFound(t, db, a.ID, `company~"bulk loaded"`, "prs_loaded")
	assertFound(t, db, a.ID, `company~"bulk dropped"`, "")
	assertIndexInStep(t, db)
}

func mustParse(t *testing.T, query string) store.SearchQuery {
	t.Helper()
	q, err := store.ParseSearch(query)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// assertFound checks that the account's search for query finds the prospect
// want alone, or nothing when want is "".
func assertFound(t *testing.T, db *sqlite.DB, accountID, query, want string) {
	t.Helper()
	page, err := db.SearchProspects(context.Background(), accountID, store.SearchParams{Query: mustParse(t, query), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range page.Prospects {
		got = append(got, p.ID)
	}
	if want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[0] != want) {
		t.Errorf("%s found %v, want [%s]", query, got, want)
	}
}

// assertIndexInStep runs FTS5's check that the trigram index holds exactly
// what the prospects table does.
func assertIndexInStep(t *testing.T, db *sqlite.DB) {
	t.Helper()
	if err := db.ExecForTest(context.Background(), `INSERT INTO prospects_search (prospects_search, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("the trigram index is out of step with the prospects: %v", err)
	}
}
