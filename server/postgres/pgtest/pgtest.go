// Package pgtest gives each test a PostgreSQL schema of its own on the server
// that CAPTURE_TEST_POSTGRES_URL names, so that tests and runs do not collide;
// without the variable, the tests that need it skip and say why.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/postgres"
)

// EnvVar names the PostgreSQL server the tests use.
const EnvVar = "CAPTURE_TEST_POSTGRES_URL"

// BaseURL returns the URL in EnvVar, or skips the test when it is not set.
func BaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvVar + " (such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them")
	}
	return base
}

// URL creates an empty schema for the test and returns the database URL with
// search_path set to it; the schema is dropped when the test ends. Without
// EnvVar the test is skipped.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "capture_test_" + hex.EncodeToString(b)
	exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated store on a schema of the test's own, closed when the
// test ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	return OpenURL(t, URL(t))
}

// OpenURL opens and migrates the store at dsn, closed when the test ends.
func OpenURL(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Exec runs one statement on the database at dsn, on a connection of its own.
func Exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	exec(t, dsn, sql, args...)
}

func exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// QueryRow runs one query on the database at dsn and scans its row into dest.
func QueryRow(t testing.TB, dsn, sql string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
