package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/cputime"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

// benchServer is the real handler on SQLite with a rate limit too high to matter,
// called in-process so that the figures are the server's cost, not the network's.
func benchServer(b *testing.B) (*apitest.Server, http.Handler) {
	s := apitest.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
	s.DB.CreateAccount(b.Context(), "bench", 1<<40, 0)
	return s, s.Handler
}

// benchProspect creates a prospect and returns its id.
func benchProspect(b *testing.B, h http.Handler, key string) string {
	req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(`{"email": "ada@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 201 {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()[strings.Index(rec.Body.String(), "prs_"):][:30]
}

// reportCPU reports the CPU time the test process spent on each of n
// iterations since start (a cputime.Process): the server's cost apart from its
// waits on a database in another process, which wall time per op includes.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if end := cputime.Process(); end > 0 && n > 0 {
		b.ReportMetric(float64((end-start).Microseconds())/float64(n), "cpu-µs/op")
	}
}

func serve(b *testing.B, h http.Handler, req *http.Request, want int) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
}

// BenchmarkCreateProspect measures a create with and without an Idempotency-Key
// (the difference is the cost of the idempotency layer), and for an account with
// a webhook endpoint, whose create also enqueues its event's delivery, on each
// engine (PostgreSQL when CAPTURE_TEST_POSTGRES_URL is set).
func BenchmarkCreateProspect(b *testing.B) {
	for _, e := range apitest.Engines() {
		for _, bc := range []struct {
			name                string
			idempotent, webhook bool
		}{
			{"without-idempotency-key", false, false},
			{"with-idempotency-key", true, false},
			{"with-webhook-endpoint", false, true},
		} {
			b.Run(e.Name+"/"+bc.name, func(b *testing.B) {
				s := e.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
				if _, err := s.Store.CreateAccount(b.Context(), "bench", 1<<40, 0); err != nil {
					b.Fatal(err)
				}
				if bc.webhook {
					benchEndpoint(b, s, "https://receiver.example/hook")
				}
				key := s.NewAccountKey(b, "bench", "standard", 0)
				i := 0
				cpu := cputime.Process()
				for b.Loop() {
					i++
					req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(fmt.Sprintf(`{"email": "p%d@example.com", "tags": ["a"]}`, i)))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					if bc.idempotent {
						req.Header.Set("Idempotency-Key", fmt.Sprintf("key-%d", i))
					}
					serve(b, s.Handler, req, 201)
				}
				reportCPU(b, cpu, i)
			})
		}
	}
}

func BenchmarkGetProspect(b *testing.B) {
	s, h := benchServer(b)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	id := benchProspect(b, h, key)
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/prospects/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		serve(b, h, req, 200)
	}
}

// BenchmarkUpdateProspect measures a PATCH of one field, one request at a time.
func BenchmarkUpdateProspect(b *testing.B) {
	s, h := benchServer(b)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	id := benchProspect(b, h, key)
	n := 0
	for b.Loop() {
		n++
		req := httptest.NewRequest("PATCH", "/v1/prospects/"+id, strings.NewReader(fmt.Sprintf(`{"company": "Acme %d"}`, n)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		serve(b, h, req, 200)
	}
}

// BenchmarkErrors measures answers that are errors: they should cost less than work.
func BenchmarkErrors(b *testing.B) {
	s, h := benchServer(b)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	for _, c := range []struct {
		name, method, path, key, body string
		want                          int
	}{
		{"404-route", "GET", "/v1/nothing", key, "", 404},
		{"404-prospect", "GET", "/v1/prospects/prs_missing", key, "", 404},
		{"401", "GET", "/v1/prospects", "", "", 401},
		{"400-validation", "POST", "/v1/prospects", key, `{"email": "not-an-email"}`, 400},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var body io.Reader // none, as net/http gives a request without one
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req := httptest.NewRequest(c.method, c.path, body)
				if c.key != "" {
					req.Header.Set("Authorization", "Bearer "+c.key)
				}
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				serve(b, h, req, c.want)
			}
		})
	}
}

func BenchmarkListProspects(b *testing.B) {
	s, h := benchServer(b)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	for i := range 100 {
		req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(fmt.Sprintf(
			`{"email": "p%d@example.com", "first_name": "P", "tags": ["a", "b"], "metadata": {"plan": "pro"}}`, i)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		serve(b, h, req, 201)
	}
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/prospects?limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		serve(b, h, req, 200)
	}
}

// BenchmarkCreateBatch measures a batch of 500 new prospects on each engine
// (PostgreSQL when CAPTURE_TEST_POSTGRES_URL is set); prospects/s is the
// figure to set against BenchmarkCreateProspect's creates per second.
func BenchmarkCreateBatch(b *testing.B) {
	for _, e := range apitest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			s := e.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
			if _, err := s.Store.CreateAccount(b.Context(), "bench", 1<<40, 0); err != nil {
				b.Fatal(err)
			}
			key := s.NewAccountKey(b, "bench", "standard", 0)
			n := 0
			for b.Loop() {
				var body strings.Builder
				body.WriteString(`{"prospects": [`)
				for i := range 500 {
					n++
					if i > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"email": "p%d@example.com", "first_name": "Grace", "last_name": "Hopper", "company": "Compilers Inc",`+
						`"source": "import", "tags": ["bench", "load"], "metadata": {"campaign": "spring"}, "marketing_consent": true}`, n)
				}
				body.WriteString(`]}`)
				req := httptest.NewRequest("POST", "/v1/prospects/batch", strings.NewReader(body.String()))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				serve(b, s.Handler, req, 200)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "prospects/s")
		})
	}
}

// benchEndpoint gives the bench account an endpoint for prospect.created at url.
func benchEndpoint(b *testing.B, s *apitest.Server, url string) {
	a, err := s.Store.AccountByName(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Store.(store.WebhookStore).CreateWebhookEndpoint(b.Context(),
		&store.WebhookEndpoint{AccountID: a.ID, URL: url, EnabledEvents: []string{"prospect.created"}}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWebhookDeliveries measures delivery throughput to a fast local
// receiver: b.N creates wait in the outbox, then the clock runs from starting
// the queue until the receiver has had every delivery (reported as deliveries/s).
func BenchmarkWebhookDeliveries(b *testing.B) {
	s, h := benchServer(b)
	var received atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if received.Add(1) == n {
			close(all)
		}
	}))
	b.Cleanup(rcv.Close)
	benchEndpoint(b, s, rcv.URL)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	for i := range b.N {
		req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(fmt.Sprintf(`{"email": "d%d@example.com"}`, i)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		serve(b, h, req, 201)
	}
	b.ResetTimer()
	start := time.Now()
	startDeliveries(b, s.Store, server.DeliveryOptions{AllowPrivate: true})
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d deliveries after 2 minutes", received.Load(), n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
}

// BenchmarkUpsertBatch measures a batch whose emails all exist, under
// on_conflict update, of 100 and of 500 items on each engine: every item
// updates its prospect, so the figure is the cost of resolving a batch of
// conflicts, and the two sizes show that it grows linearly.
func BenchmarkUpsertBatch(b *testing.B) {
	for _, e := range apitest.Engines() {
		for _, size := range []int{100, 500} {
			b.Run(fmt.Sprintf("%s/%d", e.Name, size), func(b *testing.B) {
				s := e.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
				if _, err := s.Store.CreateAccount(b.Context(), "bench", 1<<40, 0); err != nil {
					b.Fatal(err)
				}
				key := s.NewAccountKey(b, "bench", "standard", 0)
				batch := func(onConflict string, round int) *http.Request {
					var body strings.Builder
					fmt.Fprintf(&body, `{"on_conflict": %q, "prospects": [`, onConflict)
					for i := range size {
						if i > 0 {
							body.WriteByte(',')
						}
						fmt.Fprintf(&body, `{"email": "u%d@example.com", "first_name": "Grace", "company": "Compilers %d"}`, i, round)
					}
					body.WriteString(`]}`)
					req := httptest.NewRequest("POST", "/v1/prospects/batch", strings.NewReader(body.String()))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					return req
				}
				serve(b, s.Handler, batch("error", 0), 200)
				round := 0
				for b.Loop() {
					round++
					serve(b, s.Handler, batch("update", round), 200)
				}
				b.ReportMetric(float64(size*round)/b.Elapsed().Seconds(), "prospects/s")
			})
		}
	}
}

// BenchmarkResendEvent measures POST /v1/events/{id}/resend to the account's
// one endpoint that receives the type, on each engine: reading the event and
// enqueueing its delivery in the outbox (the relay is not running).
func BenchmarkResendEvent(b *testing.B) {
	for _, e := range apitest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			s := e.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
			if _, err := s.Store.CreateAccount(b.Context(), "bench", 1<<40, 0); err != nil {
				b.Fatal(err)
			}
			benchEndpoint(b, s, "https://receiver.example/hook")
			key := s.NewAccountKey(b, "bench", "admin", 0)
			benchProspect(b, s.Handler, key)
			req := httptest.NewRequest("GET", "/v1/events?limit=1", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			rec := httptest.NewRecorder()
			s.Handler.ServeHTTP(rec, req)
			evt := rec.Body.String()[strings.Index(rec.Body.String(), `"id":"evt_`)+6:][:30]
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/events/"+evt+"/resend", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				serve(b, s.Handler, req, 202)
			}
		})
	}
}
