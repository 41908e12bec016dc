package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/captureapi/capture/server/store"
)

// TestContentionIsUnavailable: a serialization failure or deadlock that a
// store method returns, past its own runs again, is storage_unavailable (503
// with Retry-After, as SQLite's SQLITE_BUSY), not an internal error; a
// constraint's refusal is not; and neither is anything once the request's
// own context has ended.
func TestContentionIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"40001", true},  // serialization_failure
		{"40P01", true},  // deadlock_detected
		{"23505", false}, // unique_violation: an answer, not a failure
		{"57014", false}, // query_canceled: a statement timeout
		{"08006", true},  // connection_failure
	} {
		err := fmt.Errorf("create: %w", &pgconn.PgError{Code: tc.code})
		unavailable(context.Background(), &err)
		if got := errors.Is(err, store.ErrUnavailable); got != tc.want {
			t.Errorf("%s: storage unavailable %v, want %v (%v)", tc.code, got, tc.want, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var err error = &pgconn.PgError{Code: "40001"}
	if unavailable(ctx, &err); errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a request whose context ended: %v, want it left as it is", err)
	}
}
