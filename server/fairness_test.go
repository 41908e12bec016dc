package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// batchOf is a batch body of n new prospects, their emails starting with prefix.
func batchOf(prefix string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"email": "%s-%d@example.com"}`, prefix, i)
	}
	return `{"prospects": [` + strings.Join(items, ",") + `]}`
}

// TestBatchSpendsByItems: a batch of n items spends ceil(n/10) of its key's
// requests, at most the whole burst, so a big batch is never refused for its
// size alone; the RateLimit header shows what it spent.
func TestBatchSpendsByItems(t *testing.T) {
	s := apitest.New(t)
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	server.SetRateLimitClock(s.Handler, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	if _, err := s.DB.CreateAccount(context.Background(), "bulk", 10_000, 20); err != nil {
		t.Fatal(err)
	}
	key := s.NewAccountKey(t, "bulk", "standard", 0)
	url := s.URL + "/v1/prospects/batch"

	// 25 items: 3 requests' worth, of 20.
	res, body := do(t, "POST", url, key, "application/json", batchOf("a", 25))
	if res.StatusCode != 200 {
		t.Fatalf("batch of 25: %d %s", res.StatusCode, body)
	}
	if r := res.Header.Get("RateLimit"); r != `"default";r=17;t=1` {
		t.Errorf("after a batch of 25: RateLimit = %q, want r=17 (3 spent of 20)", r)
	}
	// 10 items: one.
	res, body = do(t, "POST", url, key, "application/json", batchOf("b", 10))
	if res.StatusCode != 200 {
		t.Fatalf("batch of 10: %d %s", res.StatusCode, body)
	}
	if r := res.Header.Get("RateLimit"); r != `"default";r=16;t=1` {
		t.Errorf("after a batch of 10: RateLimit = %q, want r=16", r)
	}
	// 300 items would be 30, more than the burst of 20: refused while the
	// bucket is not full, and spending nothing.
	res, body = do(t, "POST", url, key, "application/json", batchOf("c", 300))
	wantError(t, res, body, 429, "rate_limit_error", "rate_limit", "")
	if r := res.Header.Get("RateLimit"); r != `"default";r=16;t=1` {
		t.Errorf("a refused batch: RateLimit = %q, want r=16 (nothing spent)", r)
	}
	// With the bucket full again it is taken, spending the whole burst.
	mu.Lock()
	clock = clock.Add(time.Second)
	mu.Unlock()
	res, body = do(t, "POST", url, key, "application/json", batchOf("c", 300))
	if res.StatusCode != 200 {
		t.Fatalf("batch of 300 on a full bucket: %d %s", res.StatusCode, body)
	}
	if r := res.Header.Get("RateLimit"); r != `"default";r=0;t=1` {
		t.Errorf("after a batch of 300: RateLimit = %q, want r=0 (the burst of 20 spent)", r)
	}
}
