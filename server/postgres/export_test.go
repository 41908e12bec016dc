package postgres

import (
	"context"
	"testing"
)

// QueryRowForTest lets the black-box tests read the database as it is.
func (db *DB) QueryRowForTest(t testing.TB, query string, args []any, dest ...any) {
	t.Helper()
	if err := db.pool.QueryRow(context.Background(), query, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
