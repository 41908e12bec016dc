package clienttest_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

func TestRealServerRetriedCreateNeverDuplicates(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	lose := &loseFirstAnswer{}
	c := realClient(s, s.StandardKey, client.WithHTTPClient(&http.Client{Transport: lose}))
	ctx := context.Background()

	var resp client.Response
	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"}, client.WithResponse(&resp))
	if err != nil {
		t.Fatalf("the retry should get the first attempt's result, got %v", err)
	}
	sameValues(t, "Idempotency-Key", lose.keys, 2)
	if !resp.Replayed || resp.StatusCode != 201 {
		t.Fatalf("the second answer should be the stored one (Idempotent-Replayed), got %+v", resp)
	}
	a, err := realClient(s, s.StandardKey).Account.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.ProspectCount != 1 {
		t.Fatalf("one create call made %d prospects", a.ProspectCount)
	}
	if _, err := c.Prospects.Get(ctx, p.ID); err != nil {
		t.Fatalf("the returned prospect must exist: %v", err)
	}
}

func TestRealServerRateLimit(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	if _, err := s.DB.CreateAccount(ctx, "slow", 1000, 1); err != nil { // one request per second
		t.Fatal(err)
	}
	key := s.NewAccountKey(t, "slow", "standard", 1000)
	once := realClient(s, key, client.WithMaxRetries(0))
	patient := client.New(key, client.WithBaseURL(s.URL), client.WithBackoff(time.Millisecond, 5*time.Second))

	if _, err := once.Account.Get(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := once.Account.Get(ctx)
	e := asError(t, err)
	if e.StatusCode != 429 || e.Type != client.ErrorTypeRateLimitError || e.Code != client.ErrorCodeRateLimit ||
		e.RetryAfter != time.Second || !errors.Is(err, client.ErrRateLimit) || !client.IsRetryable(err) || e.Attempts != 1 {
		t.Fatalf("want a retryable 429 rate_limit with Retry-After 1s, got %+v", e)
	}

	start := time.Now()
	var resp client.Response
	if _, err := patient.Account.Get(ctx, client.WithResponse(&resp)); err != nil {
		t.Fatalf("waiting out Retry-After should succeed: %v", err)
	}
	if elapsed := time.Since(start); resp.Attempts != 2 || elapsed < 950*time.Millisecond {
		t.Fatalf("want a second attempt after the 1s Retry-After, got %d attempts in %v", resp.Attempts, elapsed)
	}
	if resp.Header.Get("RateLimit") == "" {
		t.Fatal("the rate-limit headers should be reachable through Response")
	}
}

func TestRealServerMaintenance(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	if err := s.DB.SetMaintenance(context.Background(), store.Maintenance{On: true, RetryAfter: 60}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := realClient(s, s.AdminKey).Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"})
	e := asError(t, err)
	if e.StatusCode != 503 || e.Type != client.ErrorTypeAPIError || e.Code != client.ErrorCodeMaintenance || e.RetryAfter != time.Minute {
		t.Fatalf("want 503 maintenance with Retry-After 60s, got %+v", e)
	}
	if elapsed := time.Since(start); e.Attempts != 3 || elapsed > 2*time.Second {
		t.Fatalf("want 3 attempts with waits capped at 20ms, got %d in %v", e.Attempts, elapsed)
	}
	if !errors.Is(err, &client.Error{Code: client.ErrorCodeMaintenance}) {
		t.Fatal("errors.Is should match the maintenance code")
	}
}

// slowCreates holds the first create inside the store until released, so
// that a second request with the same Idempotency-Key finds it running.
type slowCreates struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (s *slowCreates) CreateProspect(ctx context.Context, p *store.Prospect) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.Store.CreateProspect(ctx, p)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRealServerIdempotencyKeyInUseIsRetried(t *testing.T) {
	t.Parallel()
	slow := &slowCreates{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := apitest.New(t, func(cfg *server.Config) { slow.Store, cfg.Store = cfg.Store, slow })
	ctx := context.Background()
	params := client.ProspectCreateParams{Email: "ada@example.com"}

	type result struct {
		p   *client.Prospect
		err error
	}
	first := make(chan result, 1)
	go func() {
		p, err := realClient(s, s.StandardKey).Prospects.Create(ctx, params, client.WithIdempotencyKey("import-row-17"))
		first <- result{p, err}
	}()
	<-slow.entered

	// The second call meets 409 idempotency_key_in_use; the first is let go then.
	var conflicts atomic.Int32
	var once sync.Once
	// Should the second call never meet the conflict, let the first go anyway,
	// so that the test fails on its checks rather than hanging.
	defer time.AfterFunc(5*time.Second, func() { once.Do(func() { close(slow.release) }) }).Stop()
	observe := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusConflict {
			conflicts.Add(1)
			once.Do(func() { close(slow.release) })
		}
		return resp, err
	})
	second := client.New(s.StandardKey, client.WithBaseURL(s.URL), client.WithHTTPClient(&http.Client{Transport: observe}),
		client.WithBackoff(time.Millisecond, 200*time.Millisecond), client.WithMaxRetries(5))
	var resp client.Response
	p2, err := second.Prospects.Create(ctx, params, client.WithIdempotencyKey("import-row-17"), client.WithResponse(&resp))
	r1 := <-first
	if r1.err != nil || err != nil {
		t.Fatalf("both calls should succeed: first %v, second %v", r1.err, err)
	}
	if conflicts.Load() == 0 || resp.Attempts < 2 || !resp.Replayed || p2.ID != r1.p.ID {
		t.Fatalf("want the second call to retry past idempotency_key_in_use and get the first's prospect; got %d conflicts, %+v, ids %s %s",
			conflicts.Load(), resp, r1.p.ID, p2.ID)
	}
	if a, err := realClient(s, s.StandardKey).Account.Get(ctx); err != nil || a.ProspectCount != 1 {
		t.Fatalf("want one prospect, got %v (%v)", a, err)
	}
}

func TestRealServerIdempotencyKeyReuse(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.StandardKey)
	ctx := context.Background()
	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"}, client.WithIdempotencyKey("k-1"))
	if err != nil {
		t.Fatal(err)
	}

	var resp client.Response
	again, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"}, client.WithIdempotencyKey("k-1"), client.WithResponse(&resp))
	if err != nil || again.ID != p.ID || !resp.Replayed {
		t.Fatalf("the same key and body should replay the first answer: %v, %+v", err, resp)
	}

	_, err = c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "bob@example.com"}, client.WithIdempotencyKey("k-1"))
	e := asError(t, err)
	if e.StatusCode != 409 || e.Code != client.ErrorCodeIdempotencyKeyReused || e.Param != "Idempotency-Key" ||
		e.Attempts != 1 || client.IsRetryable(err) || !errors.Is(err, client.ErrIdempotencyKeyReused) {
		t.Fatalf("another body with the key: want a final 409 idempotency_key_reused, got %+v", e)
	}
}
