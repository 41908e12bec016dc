package server

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/sqlite"
)

// benchServer is a Server on an empty SQLite file, for the pieces that do not
// reach the database.
func benchServer(b *testing.B) *Server {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	srv, err := New(Config{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkValidateRequest measures kin-openapi's validation of a create body alone.
func BenchmarkValidateRequest(b *testing.B) {
	srv := benchServer(b)
	body := `{"email": "ada@example.com", "first_name": "Ada", "tags": ["vip", "emea"], "metadata": {"plan": "pro"}}`
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		c := &call{w: newRecorder(httptest.NewRecorder(), req), r: req, operation: srv.routes.find(req)}
		if err := srv.readBody(c); err != nil {
			b.Fatal(err)
		}
		if err := srv.validateRequest(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteError measures turning an error into the JSON error object.
func BenchmarkWriteError(b *testing.B) {
	srv := benchServer(b)
	req := httptest.NewRequest("GET", "/v1/prospects/prs_x", nil)
	req = req.WithContext(withRecorder(req.Context(), &recorder{requestID: newRequestID()}))
	apiErr := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such prospect: '%s'.", "prs_x")
	for b.Loop() {
		srv.writeError(httptest.NewRecorder(), req, apiErr)
	}
}

// BenchmarkRateLimit measures the per-request cost of the rate-limit layer.
func BenchmarkRateLimit(b *testing.B) {
	l := newLimiters()
	for b.Loop() {
		if a := l.allow("key_bench", 1<<30, 1); !a.Allowed {
			b.Fatal("refused")
		}
	}
}
