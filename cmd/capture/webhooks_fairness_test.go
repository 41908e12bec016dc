package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// TestHangingEndpointDelaysNoOtherAccount runs the real binary with one
// account's receiver that never answers and 60 deliveries queued to it:
// another account's event still reaches its receiver at once, and the
// hanging receiver never has more than two requests open at a time.
func TestHangingEndpointDelaysNoOtherAccount(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "capture.db")
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		keys := seedTwoAccounts(t, db)
		db.Close()
		testHangingEndpoint(t, path, keys)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.URL(t)
		testHangingEndpoint(t, dsn, seedTwoAccounts(t, pgtest.OpenURL(t, dsn)))
	})
}

// seedTwoAccounts makes accounts "slow" and "healthy", each with an admin key.
func seedTwoAccounts(t *testing.T, db store.Store) [2]string {
	t.Helper()
	ctx := context.Background()
	var keys [2]string
	for i, name := range []string{"slow", "healthy"} {
		a, err := db.CreateAccount(ctx, name, 1_000_000, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		if _, keys[i], err = db.CreateKey(ctx, a.ID, store.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func testHangingEndpoint(t *testing.T, db string, keys [2]string) {
	binary(t)
	release := make(chan struct{})
	var open, mostOpen, received atomic.Int64
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		defer open.Add(-1)
		received.Add(1)
		for m := mostOpen.Load(); n > m && !mostOpen.CompareAndSwap(m, n); m = mostOpen.Load() {
		}
		select { // never answers: the server gives up after its attempt timeout
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hanging.Close()
	defer close(release)
	var mu sync.Mutex
	arrived := map[string]bool{}
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for _, email := range []string{"first@healthy.example", "second@healthy.example"} {
			if strings.Contains(string(body), email) {
				arrived[email] = true
			}
		}
	}))
	defer healthy.Close()

	addr := freeAddr(t)
	startServer(t, db, addr, "--webhooks-allow-private")
	call := func(key, method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if err := apitest.Check(t, method, path, res, b); err != nil {
			t.Errorf("%s %s: the answer breaks openapi.yaml: %v", method, path, err)
		}
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
	}
	slow, fine := keys[0], keys[1]
	call(slow, "POST", "/v1/webhook_endpoints", fmt.Sprintf(`{"url":%q,"enabled_events":["*"]}`, hanging.URL))
	call(fine, "POST", "/v1/webhook_endpoints", fmt.Sprintf(`{"url":%q,"enabled_events":["*"]}`, healthy.URL))
	const queued = 60
	for i := range queued {
		call(slow, "POST", "/v1/prospects", fmt.Sprintf(`{"email":"p%d@slow.example"}`, i))
	}
	poll.Until(t, 20*time.Second, "the hanging receiver to be called", func() (bool, string) {
		return open.Load() > 0, "no request open at the hanging receiver"
	})

	// Delivered within 2 s when fair (the benchmark measures the figure); a
	// queue shared first come first served takes a minute here.
	for _, email := range []string{"first@healthy.example", "second@healthy.example"} {
		call(fine, "POST", "/v1/prospects", fmt.Sprintf(`{"email":%q}`, email))
		poll.Until(t, 8*time.Second, "the healthy account's event to arrive while another receiver hangs", func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return arrived[email], fmt.Sprintf("%s not delivered; %d requests open at the hanging receiver", email, open.Load())
		})
	}
	if m := mostOpen.Load(); m > 2 {
		t.Errorf("the hanging receiver had %d requests open at once, want at most 2", m)
	}
}
