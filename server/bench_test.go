package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// benchServer is the real handler on SQLite with a rate limit too high to matter,
// called in-process so that the figures are the server's cost, not the network's.
func benchServer(b *testing.B) (*apitest.Server, http.Handler) {
	s := apitest.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
	s.DB.CreateAccount(b.Context(), "bench", 1<<40, 0)
	return s, s.Handler
}

func serve(b *testing.B, h http.Handler, req *http.Request, want int) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
}

// BenchmarkCreateProspect measures a create with and without an Idempotency-Key:
// the difference is the cost of the idempotency layer.
func BenchmarkCreateProspect(b *testing.B) {
	for _, withKey := range []bool{false, true} {
		name := "without-idempotency-key"
		if withKey {
			name = "with-idempotency-key"
		}
		b.Run(name, func(b *testing.B) {
			s, h := benchServer(b)
			key := s.NewAccountKey(b, "bench", "standard", 0)
			i := 0
			for b.Loop() {
				i++
				req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(fmt.Sprintf(`{"email": "p%d@example.com", "tags": ["a"]}`, i)))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				if withKey {
					req.Header.Set("Idempotency-Key", fmt.Sprintf("key-%d", i))
				}
				serve(b, h, req, 201)
			}
		})
	}
}

func BenchmarkGetProspect(b *testing.B) {
	s, h := benchServer(b)
	key := s.NewAccountKey(b, "bench", "standard", 0)
	req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(`{"email": "ada@example.com"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	id := rec.Body.String()[strings.Index(rec.Body.String(), "prs_"):][:30]
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/prospects/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
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
				req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
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

// BenchmarkCreateBatch measures a batch of 500 new prospects; prospects/s is
// the figure to set against BenchmarkCreateProspect's creates per second.
func BenchmarkCreateBatch(b *testing.B) {
	s, h := benchServer(b)
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
		serve(b, h, req, 200)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "prospects/s")
}
