package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
	"github.com/captureapi/capture/server/store/storetest"
)

// TestConformance runs the store suite every engine passes, each test on a
// schema of its own.
func TestConformance(t *testing.T) {
	pgtest.BaseURL(t)
	storetest.Run(t, storetest.Engine{
		Open: func(t testing.TB) store.Store { return pgtest.Open(t) },
		PersonalFields: func(t testing.TB, s store.Store, id string) int {
			var n int
			s.(*postgres.DB).QueryRowForTest(t, `SELECT (email IS NOT NULL)::int + (first_name IS NOT NULL)::int + (tags <> '{}')::int + (attribution IS NOT NULL)::int
				FROM prospects WHERE id = $1`, []any{id}, &n)
			return n
		},
		SecretStored: func(t testing.TB, s store.Store, secret string) bool {
			var n int
			s.(*postgres.DB).QueryRowForTest(t, `SELECT count(*) FROM api_keys WHERE hash = $1::bytea OR encode(hash, 'escape') = $2`,
				[]any{[]byte(secret), secret}, &n)
			return n != 0
		},
		StoredSuppressionKey: func(t testing.TB, s store.Store, id string) string {
			var key string
			s.(*postgres.DB).QueryRowForTest(t, `SELECT coalesce(suppression_key, '') FROM accounts WHERE id = $1`, []any{id}, &key)
			return key
		},
		StoredWebhookSecret: func(t testing.TB, s store.Store, id string) string {
			var secret string
			s.(*postgres.DB).QueryRowForTest(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, []any{id}, &secret)
			return secret
		},
	})
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	dsn := pgtest.URL(t)
	done := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				done <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(context.Background())
			done <- err
		}()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Errorf("replicas migrating at once: %v", err)
		}
	}
	if err := pgtest.OpenURL(t, dsn).Ping(context.Background()); err != nil {
		t.Errorf("ping after migrating: %v", err)
	}
}

// TestPingMeansWritable: a database that takes reads but refuses writes (a
// standby, or read-only transactions) is not ready.
func TestPingMeansWritable(t *testing.T) {
	dsn := pgtest.URL(t)
	pgtest.OpenURL(t, dsn) // migrated
	ro, err := postgres.Open(context.Background(), dsn+"&default_transaction_read_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.CountAccounts(context.Background()); err != nil {
		t.Fatalf("a read on the read-only database: %v", err)
	}
	if err := ro.Ping(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ping of a read-only database: %v, want ErrUnavailable", err)
	}
	if _, err := ro.CreateAccount(context.Background(), "acme", 10, 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a write on a read-only database: %v, want ErrUnavailable", err)
	}
}
