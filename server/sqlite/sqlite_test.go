package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
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
