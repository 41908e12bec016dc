package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

func countProspects(t *testing.T, s *apitest.Server, key string) int {
	t.Helper()
	res, err := s.Client(t, key).ListProspectsWithResponse(context.Background(), &gen.ListProspectsParams{Limit: ptr(100)})
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list: %v %s", err, res.Body)
	}
	return len(res.JSON200.Data)
}

func TestIdempotentConcurrentCreates(t *testing.T) { onEachEngine(t, testIdempotentConcurrentCreates) }

func testIdempotentConcurrentCreates(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	const n = 50
	type answer struct {
		res  *http.Response
		body []byte
		err  error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, body, err := send("POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
				`{"email": "once@example.com"}`, "Idempotency-Key", "create-once")
			answers[i] = answer{res, body, err}
		})
	}
	wg.Wait()
	var created []byte
	fresh, replays, inUse := 0, 0, 0
	for _, a := range answers {
		if a.err != nil {
			t.Fatal(a.err)
		}
		replayed := a.res.Header.Get("Idempotent-Replayed") == "true"
		switch {
		case a.res.StatusCode == 201 && !replayed:
			fresh++
			created = a.body
		case a.res.StatusCode == 201:
			replays++
		case a.res.StatusCode == 409:
			inUse++
			wantError(t, a.res, a.body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyInUse, "Idempotency-Key")
			if a.res.Header.Get("Retry-After") == "" {
				t.Error("idempotency_key_in_use without Retry-After")
			}
		default:
			t.Errorf("answer %d: %s", a.res.StatusCode, a.body)
		}
	}
	t.Logf("%d created, %d replays, %d in use", fresh, replays, inUse)
	if fresh != 1 || fresh+replays+inUse != n {
		t.Errorf("%d created, %d replays, %d in use; want exactly one created", fresh, replays, inUse)
	}
	if got := countProspects(t, s, s.StandardKey); got != 1 {
		t.Errorf("%d prospects stored, want 1", got)
	}
	// After the first finished, every retry is its byte-for-byte replay.
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
		`{"email": "once@example.com"}`, "Idempotency-Key", "create-once")
	if res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(body, created) {
		t.Errorf("late retry: %d replayed=%q\n%s\nwant\n%s", res.StatusCode, res.Header.Get("Idempotent-Replayed"), body, created)
	}
}

func TestIdempotencyReplaysAndRejects(t *testing.T) {
	onEachEngine(t, testIdempotencyReplaysAndRejects)
}

func testIdempotencyReplaysAndRejects(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	url := s.URL + "/v1/prospects"
	post := func(key, body string) (*http.Response, []byte) {
		return do(t, "POST", url, s.StandardKey, "application/json", body, "Idempotency-Key", key)
	}

	first, firstBody := post("k1", `{"email": "ada@example.com"}`)
	if first.StatusCode != 201 || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s", first.StatusCode, firstBody)
	}
	again, againBody := post("k1", `{"email": "ada@example.com"}`)
	if again.StatusCode != 201 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(againBody, firstBody) {
		t.Errorf("replay: %d %q %s", again.StatusCode, again.Header.Get("Idempotent-Replayed"), againBody)
	}
	if again.Header.Get("Original-Request") != first.Header.Get("Request-Id") || again.Header.Get("Request-Id") == first.Header.Get("Request-Id") {
		t.Errorf("replay ids: Request-Id %q Original-Request %q, first %q", again.Header.Get("Request-Id"),
			again.Header.Get("Original-Request"), first.Header.Get("Request-Id"))
	}

	res, body := post("k1", `{"email": "bob@example.com"}`)
	wantError(t, res, body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")
	res, body = do(t, "PATCH", url+"/prs_other", s.StandardKey, "application/json", `{"email": "ada@example.com"}`, "Idempotency-Key", "k1")
	wantError(t, res, body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")

	// A request rejected by validation keeps nothing: the key works with a fixed body.
	res, body = post("k2", `{"email": "not-an-email"}`)
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "email")
	if res, body := post("k2", `{"email": "cy@example.com"}`); res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("fixed body after a validation error: %d %s", res.StatusCode, body)
	}

	// An answer of a request that ran is kept even when it is an error.
	dup1, dupBody1 := post("k3", `{"email": "ada@example.com"}`)
	wantError(t, dup1, dupBody1, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email")
	dup2, dupBody2 := post("k3", `{"email": "ada@example.com"}`)
	if dup2.StatusCode != 409 || dup2.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(dupBody1, dupBody2) {
		t.Errorf("replayed conflict: %d %s", dup2.StatusCode, dupBody2)
	}

	// Keys are per account: another account's key of the same name is its own.
	other := s.NewAccountKey(t, "globex", "standard", 10)
	if res, body := do(t, "POST", url, other, "application/json", `{"email": "ada@example.com"}`, "Idempotency-Key", "k1"); res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("same key in another account: %d %s", res.StatusCode, body)
	}

	for _, bad := range []string{strings.Repeat("k", 256), "clé"} {
		res, body := post(bad, `{"email": "dan@example.com"}`)
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyInvalid, "Idempotency-Key")
	}
	if got := countProspects(t, s, s.StandardKey); got != 2 {
		t.Errorf("%d prospects, want 2 (ada, cy)", got)
	}
}

func TestIdempotentPatch(t *testing.T) { onEachEngine(t, testIdempotentPatch) }

func testIdempotentPatch(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	p := create(t, c, gen.ProspectCreate{Email: "ada@example.com"})
	url := s.URL + "/v1/prospects/" + p.Id
	res, first := do(t, "PATCH", url, s.StandardKey, "application/json", `{"status": "contacted"}`, "Idempotency-Key", "p1")
	if res.StatusCode != 200 {
		t.Fatalf("patch: %d %s", res.StatusCode, first)
	}
	do(t, "PATCH", url, s.StandardKey, "application/json", `{"status": "converted"}`)
	res, again := do(t, "PATCH", url, s.StandardKey, "application/json", `{"status": "contacted"}`, "Idempotency-Key", "p1")
	if res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first, again) {
		t.Errorf("patch replay: %q %s", res.Header.Get("Idempotent-Replayed"), again)
	}
	if g, _ := c.GetProspectWithResponse(context.Background(), p.Id); g.JSON200.Status != gen.ProspectStatusConverted {
		t.Errorf("the replay ran the patch again: status %s", g.JSON200.Status)
	}
}

// TestIdempotencyKeyOfCrashedRequest: a key whose request died before keeping an
// answer is locked only until its lock runs out.
func TestIdempotencyKeyOfCrashedRequest(t *testing.T) {
	onEachEngine(t, testIdempotencyKeyOfCrashedRequest)
}

func testIdempotencyKeyOfCrashedRequest(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, func(c *server.Config) { c.RequestTimeout = time.Second })
	acct, _ := s.Store.AccountByName(context.Background(), "acme")
	body := `{"email": "ada@example.com"}`
	// What a process that crashed mid-request leaves: a claim with no answer,
	// here one whose lock still runs and one whose lock ran out.
	probe, _ := http.NewRequest("POST", "/v1/prospects", strings.NewReader(body))
	fp := server.Fingerprint(probe, store.RoleStandard)
	for key, lock := range map[string]time.Duration{"crashed-now": time.Hour, "crashed-long-ago": -time.Second} {
		if rec, err := s.Store.BeginIdempotent(context.Background(), acct.ID, key, fp, "req_dead", lock); err != nil || rec != nil {
			t.Fatalf("claim %s: %v %v", key, rec, err)
		}
	}
	res, b := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", body, "Idempotency-Key", "crashed-now")
	wantError(t, res, b, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyInUse, "Idempotency-Key")
	if res, b := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", body, "Idempotency-Key", "crashed-long-ago"); res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("after the lock ran out: %d %s", res.StatusCode, b)
	}
}

func TestIdempotencyKeysArePurged(t *testing.T) { onEachEngine(t, testIdempotencyKeysArePurged) }

func testIdempotencyKeysArePurged(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "ada@example.com"}`, "Idempotency-Key", "old")
	if n, err := s.Store.PurgeIdempotency(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purged a fresh key: %d %v", n, err)
	}
	if n, err := s.Store.PurgeIdempotency(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Errorf("purge: %d %v, want 1", n, err)
	}
}

// TestRateLimit runs on a clock of its own: the bucket neither refills while the
// test runs nor depends on how fast the machine is.
func TestRateLimit(t *testing.T) {
	s := apitest.New(t)
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	server.SetRateLimitClock(s.Handler, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	ctx := context.Background()
	if _, err := s.DB.CreateAccount(ctx, "noisy", 100, 5); err != nil {
		t.Fatal(err)
	}
	noisy := s.NewAccountKey(t, "noisy", "standard", 0)
	url := s.URL + "/v1/account"

	for i := range 5 {
		res, body := do(t, "GET", url, noisy, "", "")
		if res.StatusCode != 200 {
			t.Fatalf("request %d of the burst of 5: %d %s", i+1, res.StatusCode, body)
		}
		if p := res.Header.Get("RateLimit-Policy"); p != `"default";q=5;w=1` {
			t.Errorf("RateLimit-Policy = %q", p)
		}
		if r := res.Header.Get("RateLimit"); r != fmt.Sprintf(`"default";r=%d;t=1`, 4-i) {
			t.Errorf("request %d: RateLimit = %q", i+1, r)
		}
	}
	for range 3 {
		res, body := do(t, "GET", url, noisy, "", "")
		wantError(t, res, body, 429, gen.ErrorTypeRateLimitError, gen.ErrorCodeRateLimit, "")
		if ra := res.Header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After = %q, want 1", ra)
		}
		if r := res.Header.Get("RateLimit"); r != `"default";r=0;t=1` {
			t.Errorf("RateLimit = %q", r)
		}
	}
	// Another key is not affected by the noisy one.
	if res, body := do(t, "GET", url, s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Errorf("the other key: %d %s", res.StatusCode, body)
	}
	// A refused request spends nothing: a fifth of a second later, one token is back.
	mu.Lock()
	clock = clock.Add(200 * time.Millisecond)
	mu.Unlock()
	if res, body := do(t, "GET", url, noisy, "", ""); res.StatusCode != 200 {
		t.Errorf("after 200ms: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, "GET", url, noisy, "", ""); res.StatusCode != 429 {
		t.Errorf("the token was spent, yet: %d %s", res.StatusCode, body)
	}
	mu.Lock()
	clock = clock.Add(time.Second)
	mu.Unlock()
	for i := range 5 {
		if res, body := do(t, "GET", url, noisy, "", ""); res.StatusCode != 200 {
			t.Errorf("after Retry-After, request %d: %d %s", i+1, res.StatusCode, body)
		}
	}
}

func TestStorageUnavailable(t *testing.T) { onEachEngine(t, testStorageUnavailable) }

func testStorageUnavailable(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	s.Store.Close()
	res, body := do(t, "GET", s.URL+"/v1/account", s.StandardKey, "", "")
	wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	res, body = do(t, "GET", s.URL+"/readyz", "", "", "")
	wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if res, _ := do(t, "GET", s.URL+"/healthz", "", "", ""); res.StatusCode != 200 {
		t.Errorf("/healthz: %d; the process is alive", res.StatusCode)
	}
}

// heldCreates holds each create inside its transaction until released, and
// claims keys in the transaction as the store it wraps does.
type heldCreates struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (h *heldCreates) CreateProspect(ctx context.Context, p *store.Prospect) error {
	h.entered <- struct{}{}
	<-h.release
	return h.Store.CreateProspect(ctx, p)
}

func (h *heldCreates) ClaimsInTransaction() bool {
	tc, ok := h.Store.(store.TransactionalClaims)
	return ok && tc.ClaimsInTransaction()
}

// TestIdempotencyKeyHeldInTransaction: on PostgreSQL a key's claim commits
// with the request's effect, and until then another replica answers a
// request with the key at once (not after the holder's commit): 409
// idempotency_key_in_use for the same request, idempotency_key_reused for
// another; then the replay. A request killed mid-run leaves the key free.
func TestIdempotencyKeyHeldInTransaction(t *testing.T) {
	held := &heldCreates{entered: make(chan struct{}), release: make(chan struct{})}
	a := apitest.NewPostgres(t, func(c *server.Config) { held.Store, c.Store = c.Store, held })
	b := apitest.NewOnPostgres(t, a.PostgresURL)
	const body = `{"email": "ada@example.com"}`
	type answer struct {
		res  *http.Response
		body []byte
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		res, b, err := send("POST", a.URL+"/v1/prospects", a.StandardKey, "application/json", body, "Idempotency-Key", "held")
		first <- answer{res, b, err}
	}()
	<-held.entered
	// Should another request wait for the holder instead of answering, let the
	// holder go, so that the test fails on its checks rather than hanging.
	var once sync.Once
	release := func() { once.Do(func() { close(held.release) }) }
	defer time.AfterFunc(10*time.Second, release).Stop()

	res, got := do(t, "POST", b.URL+"/v1/prospects", a.StandardKey, "application/json", body, "Idempotency-Key", "held")
	wantError(t, res, got, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyInUse, "Idempotency-Key")
	if res.Header.Get("Retry-After") == "" {
		t.Error("idempotency_key_in_use without Retry-After")
	}
	res, got = do(t, "POST", b.URL+"/v1/prospects", a.StandardKey, "application/json", `{"email": "bob@example.com"}`, "Idempotency-Key", "held")
	wantError(t, res, got, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")

	release()
	f := <-first
	if f.err != nil || f.res.StatusCode != 201 {
		t.Fatalf("the holder: %v %v %s", f.err, f.res, f.body)
	}
	res, got = do(t, "POST", b.URL+"/v1/prospects", a.StandardKey, "application/json", body, "Idempotency-Key", "held")
	if res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(got, f.body) {
		t.Errorf("after the holder committed: %d %q %s", res.StatusCode, res.Header.Get("Idempotent-Replayed"), got)
	}
	res, got = do(t, "POST", b.URL+"/v1/prospects", a.StandardKey, "application/json", `{"email": "bob@example.com"}`, "Idempotency-Key", "held")
	wantError(t, res, got, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")
	if n := countProspects(t, b, a.StandardKey); n != 1 {
		t.Errorf("%d prospects, want 1", n)
	}

	// Another request with the key that is reading the kept answer, in its
	// transaction still, does not hold the key: a retry is the replay.
	acct, err := a.Store.AccountByName(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), a.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	reader, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback(context.Background())
	var claimed string
	if err := reader.QueryRow(context.Background(), `SELECT held FROM claim_idempotency_key($1, 'held', '\x00'::bytea, 'req_other', 60000, 86400)`, acct.ID).Scan(&claimed); err != nil || claimed != "record" {
		t.Fatalf("another request's claim: %q %v; want the record", claimed, err)
	}
	res, got = do(t, "POST", b.URL+"/v1/prospects", a.StandardKey, "application/json", body, "Idempotency-Key", "held")
	if res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(got, f.body) {
		t.Errorf("a retry beside another request reading the answer: %d %q %s", res.StatusCode, res.Header.Get("Idempotent-Replayed"), got)
	}
}
