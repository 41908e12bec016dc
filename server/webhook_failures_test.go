package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/captureapi/capture/server"
)

// A failed attempt names its class of failure, the same whatever the
// addresses, ports and resolver involved.
func TestAttemptFailureClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select { // answers only once the attempt gave up
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hanging.Close()
	defer close(stop)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		url          string
		allowPrivate bool
		want         string
	}{
		{failing.URL, true, "http_status"},
		{untrusted.URL, true, "tls_error"},
		{hanging.URL, true, "timeout"},
		{"http://" + closed + "/hook", true, "connection_refused"},
		{"https://" + closed + "/hook", false, "blocked_address"},
		{"https://hooks.capture.invalid/", false, "dns_failure"},
	} {
		if got := server.AttemptFailure(ctx, c.url, c.allowPrivate, 300*time.Millisecond); got != c.want {
			t.Errorf("an attempt to %s: %q, want %q", c.url, got, c.want)
		}
	}
}
