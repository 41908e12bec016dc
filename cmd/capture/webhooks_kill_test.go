package main

import (
	"database/sql"
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

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	_ "modernc.org/sqlite"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

// TestKillWithDeliveriesPending kills the real binary with SIGKILL while every
// delivery waits for its retry; the next process delivers every one of them.
func TestKillWithDeliveriesPending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "capture.db")
	key := seedKey(t, path, store.RoleAdmin)

	var up atomic.Bool
	var mu sync.Mutex
	delivered := map[string]bool{}
	var secret atomic.Value
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		wh, _ := standardwebhooks.NewWebhook(secret.Load().(string))
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("signature: %v", err)
		}
		mu.Lock()
		delivered[r.Header.Get("webhook-id")] = true
		mu.Unlock()
	}))
	defer rcv.Close()

	addr := freeAddr(t)
	base := "http://" + addr
	// Retries far enough apart that every delivery has failed once before the
	// first is retried (two at a time go to one endpoint), and under River's
	// 5 s scheduler interval, so that a retry is kept available: otherwise it
	// waits for a leader's scheduler, and the killed process held the
	// leadership until its lease runs out.
	flags := []string{"--webhooks-allow-private", "--webhook-retry-schedule", "4s,4s,4s"}
	cmd := startServer(t, path, addr, flags...)
	call := func(method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return string(b)
	}
	created := call("POST", "/v1/webhook_endpoints", fmt.Sprintf(`{"url":%q,"enabled_events":["*"]}`, rcv.URL))
	_, s, _ := strings.Cut(created, `"secret":"`)
	s, _, _ = strings.Cut(s, `"`)
	secret.Store(s)
	const n = 10
	for i := range n {
		call("POST", "/v1/prospects", fmt.Sprintf(`{"email":"p%d@example.com"}`, i))
	}

	// Kill once every delivery failed an attempt and waits for its retry
	// (River keeps a retry due soon, or one waiting for its endpoint's slot, as
	// available, and the others as retryable).
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	poll.Until(t, 20*time.Second, fmt.Sprintf("all %d deliveries to wait for a retry", n), func() (bool, string) {
		var waiting int
		if err := raw.QueryRow(`SELECT count(*) FROM river_job WHERE state IN ('retryable', 'available') AND attempt >= 1`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting == n, fmt.Sprintf("%d of %d deliveries waiting for a retry", waiting, n)
	})
	cmd.Process.Kill()
	cmd.Wait()

	up.Store(true)
	startServer(t, path, addr, flags...)
	poll.Until(t, 20*time.Second, fmt.Sprintf("all %d events delivered after the restart", n), func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == n, fmt.Sprintf("%d of %d events delivered after the restart", len(delivered), n)
	})
}
