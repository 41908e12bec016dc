package server_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/internal/proxytest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres/pgtest"
)

// throughProxy returns a PostgreSQL URL of a schema of the test's own, reached
// through a TCP proxy the test controls.
func throughProxy(t *testing.T, params string) (string, *proxytest.Proxy) {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := proxytest.Start(t, u.Host)
	u.Host = p.Addr()
	if params != "" {
		u.RawQuery += "&" + params
	}
	return u.String(), p
}

// waitStatus polls path until it answers want, for at most 10 s.
func waitStatus(t *testing.T, s *apitest.Server, key, path string, want int) {
	t.Helper()
	poll.Until(t, 10*time.Second, fmt.Sprintf("GET %s to answer %d", path, want), func() (bool, string) {
		res, body := do(t, "GET", s.URL+path, key, "", "")
		return res.StatusCode == want, fmt.Sprintf("%d %s", res.StatusCode, body)
	})
}

// TestPostgresDown: with PostgreSQL cut off, /v1 answers 503
// storage_unavailable with Retry-After within the request deadline and /readyz
// 503; both recover by themselves once it is back.
func TestPostgresDown(t *testing.T) {
	dsn, proxy := throughProxy(t, "")
	const timeout = 3 * time.Second
	s := apitest.NewOnPostgres(t, dsn, func(c *server.Config) { c.RequestTimeout = timeout })
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "ada@example.com"}`)
	if res.StatusCode != 201 {
		t.Fatalf("create before the cut: %d %s", res.StatusCode, body)
	}
	waitStatus(t, s, "", "/readyz", 200)

	proxy.Cut()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/prospects", ""},
		{"POST", "/v1/prospects", `{"email": "bob@example.com"}`},
	} {
		start := time.Now()
		res, body := do(t, r.method, s.URL+r.path, s.StandardKey, "application/json", r.body)
		if elapsed := time.Since(start); elapsed >= timeout {
			t.Errorf("%s %s with the database cut off took %s, past the %s deadline", r.method, r.path, elapsed, timeout)
		}
		wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
		}
	}

	// /readyz may repeat its last answer for a quarter of a second.
	waitStatus(t, s, "", "/readyz", 503)
	res, body = do(t, "GET", s.URL+"/readyz", "", "", "")
	wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if res.Header.Get("Retry-After") == "" {
		t.Error("/readyz: 503 without Retry-After")
	}

	proxy.Restore()
	waitStatus(t, s, "", "/readyz", 200)
	res, body = do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "bob@example.com"}`)
	if res.StatusCode != 201 {
		t.Errorf("create after the database returned: %d %s", res.StatusCode, body)
	}
	if n := countProspects(t, s, s.StandardKey); n != 2 {
		t.Errorf("%d prospects after recovery, want 2 (ada, bob)", n)
	}
}

// TestPostgresPoolExhausted: when every connection of the pool is busy past
// the wait a request can afford, the answer is 503 storage_unavailable within
// the request deadline, not a pile-up; it works again once one is free.
func TestPostgresPoolExhausted(t *testing.T) {
	dsn := pgtest.URL(t) + "&pool_max_conns=1"
	const timeout = 2 * time.Second
	s := apitest.NewOnPostgres(t, dsn, func(c *server.Config) { c.RequestTimeout = timeout })
	waitStatus(t, s, s.StandardKey, "/v1/prospects", 200) // the key is in the server's cache

	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // even when the test fails first: the pool closes only once its connection is back
	done := make(chan error, 1)
	go func() {
		done <- s.Store.Atomically(context.Background(), func(ctx context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	start := time.Now()
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "ada@example.com"}`)
	if elapsed := time.Since(start); elapsed >= timeout {
		t.Errorf("a request with the pool exhausted took %s, past the %s deadline", elapsed, timeout)
	}
	wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	free()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, body = do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "ada@example.com"}`)
	if res.StatusCode != 201 {
		t.Errorf("create once the connection is free: %d %s", res.StatusCode, body)
	}
}
