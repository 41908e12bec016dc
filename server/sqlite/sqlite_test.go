package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
	"github.com/captureapi/capture/server/store/storetest"
)

func open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "capture.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestConformance runs the store suite every engine passes.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Engine{
		Open: func(t testing.TB) store.Store { return open(t) },
		PersonalFields: func(t testing.TB, s store.Store, id string) int {
			var n int
			err := s.(*sqlite.DB).QueryRowForTest(context.Background(),
				`SELECT (email IS NOT NULL) + (first_name IS NOT NULL) + (tags != '[]') + (attribution IS NOT NULL) FROM prospects WHERE id = ?`, id).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		SecretStored: func(t testing.TB, s store.Store, secret string) bool {
			var n int
			err := s.(*sqlite.DB).QueryRowForTest(context.Background(),
				`SELECT count(*) FROM api_keys WHERE hash = ? OR CAST(hash AS TEXT) = ?`, secret, secret).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n != 0
		},
		StoredSuppressionKey: func(t testing.TB, s store.Store, id string) string {
			var key sql.NullString
			err := s.(*sqlite.DB).QueryRowForTest(context.Background(), `SELECT suppression_key FROM accounts WHERE id = ?`, id).Scan(&key)
			if err != nil {
				t.Fatal(err)
			}
			return key.String
		},
		StoredWebhookSecret: func(t testing.TB, s store.Store, id string) string {
			var secret string
			err := s.(*sqlite.DB).QueryRowForTest(context.Background(), `SELECT secret FROM webhook_endpoints WHERE id = ?`, id).Scan(&secret)
			if err != nil {
				t.Fatal(err)
			}
			return secret
		},
	})
}

// TestMergeSearchIndex writes prospects one transaction each, which leaves the
// trigram index in many segments, and merges them into one: every search
// finds what it found before.
func TestMergeSearchIndex(t *testing.T) {
	db := open(t)
	db.SetSearchScanMaxForTest(0) // the searches ask the index, whatever the account's size
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "acme", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		company := fmt.Sprintf("Firm %03d", i)
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%03d@example.com", i), Company: &company}); err != nil {
			t.Fatal(err)
		}
	}
	segments := func() (n int) {
		if err := db.QueryRowForTest(ctx, `SELECT count(DISTINCT segid) FROM prospects_search_idx`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	found := func() (n int) {
		for i := range 200 {
			q, _ := store.ParseSearch(fmt.Sprintf(`company~"firm %03d"`, i))
			page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Prospects)
		}
		return n
	}
	before := segments()
	if before < 2 {
		t.Fatalf("%d segments after 200 writes: the test needs several", before)
	}
	if err := db.MergeSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if n := segments(); n != 1 {
		t.Errorf("%d segments after the merge, want 1 (%d before)", n, before)
	}
	if n := found(); n != 200 {
		t.Errorf("after the merge, the searches found %d of 200 prospects", n)
	}
	if err := db.MergeSearchIndex(ctx); err != nil { // nothing left: returns at once
		t.Fatal(err)
	}
}

// TestSearchConformanceOfBothPlans holds the other plan of a substring search
// to the store suite's search tests: TestConformance runs them scanning the
// account's rows (the plan of every account of the suite, being small), and
// this runs them asking the trigram index.
func TestSearchConformanceOfBothPlans(t *testing.T) {
	storetest.RunSearch(t, storetest.Engine{Open: func(t testing.TB) store.Store {
		db := open(t)
		db.SetSearchScanMaxForTest(0)
		return db
	}})
}

// TestSearchPlansAgreeBeyondASCII searches text of many scripts by both plans:
// the scan folds each character as the trigram index does, so both find the
// same prospects in the same order.
func TestSearchPlansAgreeBeyondASCII(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a, err := db.CreateAccount(ctx, "acme", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	companies := []string{"İSTANBUL Ltd", "istanbul ltd", "Ærø Økonomi", "ærø økonomi", "ΣΟΦΊΑ Ltd", "σοφία ltd",
		"Straße GmbH", "STRASSE GMBH", "ǅemal ǈubo", "Ⅻ Roman", "ＡＣＭＥ Wide", "𐐀𐐁𐐂 Deseret", "𐐨𐐩𐐪 deseret",
		"Zoë ZOË", "КОМПАНИЯ Москва", "компания москва", "Ꭰ Cherokee", "\uffff odd \ufffe", "ǰ̌ combining"}
	for i, c := range companies {
		p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i), Company: &c}
		if err := db.CreateProspect(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	needles := []string{"istanbul", "İSTANBUL", "İst", "ærø", "ÆRØ", "øko", "σοφ", "ΣΟΦ", "σοφί", "ßE ", "strasse",
		"ǆem", "ǅEM", "ǈub", "ⅻ r", "ａｃｍ", "ＡＣＭ", "𐐨𐐩𐐪", "𐐀𐐁𐐂", "zoë", "ZOË", "компания", "КОМ", "ꭰ c", "Ꭰ c",
		"\ufffd od", "\uffff od", "ǰ̌ c", "J̌̌ c"}
	found := 0
	for _, needle := range needles {
		q, err := store.ParseSearch(`company~"` + needle + `"`)
		if err != nil {
			t.Fatalf("%q: %v", needle, err)
		}
		var got [2][]string
		for k, max := range []int{-1, 0} {
			db.SetSearchScanMaxForTest(max)
			page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Prospects {
				got[k] = append(got[k], *p.Company)
			}
		}
		if !slices.Equal(got[0], got[1]) {
			t.Errorf("company~%q: the scan found %q, the index %q", needle, got[0], got[1])
		}
		found += len(got[1])
	}
	if found < len(needles) {
		t.Errorf("the needles found %d prospects in all: the test searches for too little", found)
	}
}

// TestSmallAccountSearchScansItsOwnRows empties the trigram index: a small
// account's substring search still finds its prospects, as it reads only its
// own rows and not the matches of every account.
func TestSmallAccountSearchScansItsOwnRows(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a, err := db.CreateAccount(ctx, "acme", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	company := "Analytical Engines"
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com", Company: &company}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.ExecForTest(ctx, `INSERT INTO prospects_search (prospects_search) VALUES ('delete-all')`); err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{`company~"engines"`, `company~"engines" OR tag:"x"`, `email~"ada" AND -company~"zzz"`} {
		q, _ := store.ParseSearch(query)
		page, err := db.SearchProspects(ctx, a.ID, store.SearchParams{Query: q, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Prospects) != 1 {
			t.Errorf("%s found %d prospects, want 1", query, len(page.Prospects))
		}
	}
}
