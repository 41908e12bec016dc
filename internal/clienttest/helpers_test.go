package clienttest_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/captureapi/capture/client"
)

// asError is err as the client's *Error, failing the test when it is not one.
func asError(t *testing.T, err error) *client.Error {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	e, ok := err.(*client.Error)
	if !ok {
		t.Fatalf("want *client.Error, got %T: %v", err, err)
	}
	return e
}

// sameValues checks that vals holds n attempts' values, all equal and non-empty.
func sameValues(t *testing.T, what string, vals []string, n int) {
	t.Helper()
	if len(vals) != n {
		t.Fatalf("%s: want %d attempts, got %d (%q)", what, n, len(vals), vals)
	}
	for _, v := range vals {
		if v == "" || v != vals[0] {
			t.Fatalf("%s: want one non-empty value on every attempt, got %q", what, vals)
		}
	}
}

// countingTransport counts the requests that leave the client, including those
// that never reach a server.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}
