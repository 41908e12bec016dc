package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
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
	// bucket is not full, having spent only the one request every request
	// spends before its body is read.
	res, body = do(t, "POST", url, key, "application/json", batchOf("c", 300))
	wantError(t, res, body, 429, "rate_limit_error", "rate_limit", "")
	if r := res.Header.Get("RateLimit"); r != `"default";r=15;t=1` {
		t.Errorf("a refused batch: RateLimit = %q, want r=15 (one spent)", r)
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

// TestBatchPastTheLimitIsNotRead: a key with nothing left of its allowance
// gets 429 for a batch whatever its body, before the body is read, as for any
// other request; a batch does not escape the limit by being malformed.
func TestBatchPastTheLimitIsNotRead(t *testing.T) {
	s := apitest.New(t)
	clock := time.Unix(1_800_000_000, 0)
	server.SetRateLimitClock(s.Handler, func() time.Time { return clock })
	if _, err := s.DB.CreateAccount(context.Background(), "drained", 10_000, 2); err != nil {
		t.Fatal(err)
	}
	key := s.NewAccountKey(t, "drained", "standard", 0)
	url := s.URL + "/v1/prospects/batch"
	for range 2 {
		res, body := do(t, "POST", url, key, "application/json", `{"prospects": [`)
		wantError(t, res, body, 400, "invalid_request_error", "body_invalid_json", "")
	}
	for _, body := range []string{`{"prospects": [`, `not json`, batchOf("d", 5)} {
		res, got := do(t, "POST", url, key, "application/json", body)
		wantError(t, res, got, 429, "rate_limit_error", "rate_limit", "")
	}
}

// TestBatchChecksItemsOutsideTheWriter: an idempotent batch checks its items
// before it takes SQLite's single writer, so another account's create
// completes while the batch is still checking them.
func TestBatchChecksItemsOutsideTheWriter(t *testing.T) {
	s := apitest.New(t)
	if _, err := s.DB.CreateAccount(context.Background(), "bulk", 10_000, 1000); err != nil {
		t.Fatal(err)
	}
	bulk := s.NewAccountKey(t, "bulk", "standard", 0)
	checking, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	restore := server.SetEmailCheck(func(email string) {
		if email == "slow@example.com" {
			close(checking)
			<-release
		}
	})
	t.Cleanup(restore)

	type answer struct {
		status int
		body   []byte
		err    error
	}
	batchDone := make(chan answer, 1)
	go func() {
		res, body, err := send("POST", s.URL+"/v1/prospects/batch", bulk, "application/json",
			`{"prospects": [{"email": "first@example.com"}, {"email": "slow@example.com"}, {"email": "not an email"}]}`,
			"Idempotency-Key", "flood-1")
		if err != nil {
			batchDone <- answer{err: err}
			return
		}
		batchDone <- answer{status: res.StatusCode, body: body}
	}()
	<-checking // the batch is checking its items

	var created atomic.Int32
	go func() {
		res, _, err := send("POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "other@example.com"}`)
		if err == nil && res.StatusCode == 201 {
			created.Store(1)
		} else {
			created.Store(2)
		}
	}()
	poll.Until(t, 5*time.Second, "another account's create to complete while the batch checks its items", func() (bool, string) {
		switch created.Load() {
		case 1:
			return true, ""
		case 2:
			return true, "failed"
		}
		return false, "the create waits (for the writer the batch holds)"
	})
	if created.Load() != 1 {
		t.Fatal("the other account's create failed")
	}
	free()
	a := <-batchDone
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), `"created":2`) || !strings.Contains(string(a.body), `"failed":1`) {
		t.Fatalf("batch: %d %v %.300s, want 200 with 2 created and 1 failed", a.status, a.err, a.body)
	}
}
