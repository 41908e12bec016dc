package sqlite_test

import (
	"context"
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
