package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/internal/proxytest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/redis"
)

// redisURL is the Redis the tests use, or skips the test.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("CAPTURE_TEST_REDIS_URL")
	if u == "" {
		t.Skip("Redis tests skipped: set CAPTURE_TEST_REDIS_URL (such as redis://127.0.0.1:6379/0) to run them")
	}
	return u
}

func open(t *testing.T, url string) *redis.Limiter {
	t.Helper()
	l, err := redis.Open(url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// get sends GET path with the key and returns the answer, its body read.
func get(t *testing.T, s *apitest.Server, key, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// noisyKey makes a key whose account, named name, allows perSecond requests a second.
func noisyKey(t *testing.T, s *apitest.Server, name string, perSecond int) (secret, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Store.CreateAccount(ctx, name, 100, perSecond); err != nil {
		t.Fatal(err)
	}
	secret = s.NewAccountKey(t, name, "standard", 0)
	k, err := s.Store.KeyBySecret(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	return secret, k.ID
}

// TestLimitIsShared: what another replica spent of a key's allowance counts on
// this one, with the same headers as the in-process limiter.
func TestLimitIsShared(t *testing.T) {
	shared := redisURL(t)
	s := apitest.New(t, func(c *server.Config) { c.Limiter = open(t, shared) })
	secret, id := noisyKey(t, s, "noisy", 2)

	other := open(t, shared) // another replica's limiter
	for i := range 2 {
		a, err := other.Allow(context.Background(), id, 2, 1)
		if err != nil || !a.Allowed || a.Remaining != 1-i {
			t.Fatalf("the other replica's request %d: %+v %v", i+1, a, err)
		}
	}
	res, body := get(t, s, secret, "/v1/account")
	if res.StatusCode != 429 || !strings.Contains(body, `"rate_limit"`) {
		t.Fatalf("after the other replica spent the burst: %d %s, want 429 rate_limit", res.StatusCode, body)
	}
	if ra := res.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	if p, r := res.Header.Get("RateLimit-Policy"), res.Header.Get("RateLimit"); p != `"default";q=2;w=1` || r != `"default";r=0;t=1` {
		t.Errorf("RateLimit-Policy = %q, RateLimit = %q", p, r)
	}
	// And what this replica spends counts on the other: a key allowed one
	// request a second, so that no token comes back between the two.
	slow, slowID := noisyKey(t, s, "slow", 1)
	res, body = get(t, s, slow, "/v1/account")
	if res.StatusCode != 200 || res.Header.Get("RateLimit") != `"default";r=0;t=1` {
		t.Fatalf("a fresh key: %d %q %s", res.StatusCode, res.Header.Get("RateLimit"), body)
	}
	if a, err := other.Allow(context.Background(), slowID, 1, 1); err != nil || a.Allowed {
		t.Errorf("the other replica after this one spent the key's one request: %+v %v, want refused", a, err)
	}
}

// syncBuffer is a log destination the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.b.String(), s)
}

// TestFallsBackWhenRedisIsDown: with Redis cut off, requests do not fail: the
// replica limits keys on its own, says so once and counts it; once Redis is
// back, it says so once and shares limits again.
func TestFallsBackWhenRedisIsDown(t *testing.T) {
	u, err := url.Parse(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := proxytest.Start(t, u.Host)
	logs := &syncBuffer{}
	s := apitest.New(t, func(c *server.Config) {
		c.Limiter = open(t, "redis://"+proxy.Addr())
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	secret, id := noisyKey(t, s, "noisy", 5)
	if res, body := get(t, s, secret, "/v1/account"); res.StatusCode != 200 {
		t.Fatalf("with Redis up: %d %s", res.StatusCode, body)
	}

	proxy.Cut()
	for i := range 5 {
		res, body := get(t, s, secret, "/v1/account")
		if res.StatusCode != 200 || res.Header.Get("RateLimit-Policy") != `"default";q=5;w=1` {
			t.Fatalf("request %d with Redis down: %d %q %s", i+1, res.StatusCode, res.Header.Get("RateLimit-Policy"), body)
		}
	}
	if res, body := get(t, s, secret, "/v1/account"); res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("sixth request in a second with Redis down: %d %s, want 429 from the replica's own limiter", res.StatusCode, body)
	}
	if n := logs.count("shared rate limiter unreachable"); n != 1 {
		t.Errorf("%d log lines say the shared limiter is unreachable, want 1", n)
	}
	mres, err := http.Get(s.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	metrics := string(mb)
	m := regexp.MustCompile(`(?m)^capture_rate_limit_fallbacks_total (\d+)`).FindStringSubmatch(metrics)
	if m == nil {
		t.Fatal("no capture_rate_limit_fallbacks_total in /metrics")
	}
	if n, _ := strconv.Atoi(m[1]); n < 6 {
		t.Errorf("capture_rate_limit_fallbacks_total = %v, want at least 6", m)
	}

	proxy.Restore()
	// Each request lets the server find out that Redis answers again.
	poll.Until(t, 10*time.Second, "a log line saying the shared limiter is back", func() (bool, string) {
		if logs.count("shared rate limiter is back") > 0 {
			return true, ""
		}
		res, _ := get(t, s, s.StandardKey, "/v1/account")
		return false, fmt.Sprintf("no such line yet; GET /v1/account answers %d", res.StatusCode)
	})
	// Shared again: another replica's spending counts here.
	other := open(t, redisURL(t))
	for {
		a, err := other.Allow(context.Background(), id, 5, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Allowed {
			break
		}
	}
	if res, body := get(t, s, secret, "/v1/account"); res.StatusCode != 429 {
		t.Errorf("after another replica spent the burst in Redis: %d %s, want 429", res.StatusCode, body)
	}
	if n := logs.count("shared rate limiter unreachable"); n != 1 {
		t.Errorf("%d log lines say the shared limiter is unreachable, want 1", n)
	}
}

// TestBatchSpendsSharedTokens: a batch spends ceil(n/10) of the key's
// allowance in Redis too, which another replica sees.
func TestBatchSpendsSharedTokens(t *testing.T) {
	shared := redisURL(t)
	s := apitest.New(t, func(c *server.Config) { c.Limiter = open(t, shared) })
	secret, id := noisyKey(t, s, "bulk", 20)
	items := make([]string, 25)
	for i := range items {
		items[i] = fmt.Sprintf(`{"email": "bulk-%d@example.com"}`, i)
	}
	other := open(t, shared)
	req, _ := http.NewRequest("POST", s.URL+"/v1/prospects/batch", strings.NewReader(`{"prospects": [`+strings.Join(items, ",")+`]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("batch of 25: %d", res.StatusCode)
	}
	if r := res.Header.Get("RateLimit"); !strings.HasPrefix(r, `"default";r=17;`) {
		t.Errorf("after a batch of 25: RateLimit = %q, want r=17 (3 spent of 20)", r)
	}
	// Another replica's next request finds 16 left after it, give or take
	// the tokens that came back while it was on its way (one each 50 ms at
	// 20 a second); a replica that did not see the batch would find 19.
	a, err := other.Allow(context.Background(), id, 20, 1)
	refilled := int(time.Since(sent) / (50 * time.Millisecond))
	if err != nil || !a.Allowed || a.Remaining < 16 || a.Remaining > min(19, 16+refilled) {
		t.Errorf("the other replica's request %v after the batch was sent: %+v %v, want 16 remaining (at most %d with the refill)", time.Since(sent), a, err, min(19, 16+refilled))
	}
}
