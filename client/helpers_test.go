package client_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
)

// fakeServer is an httptest server whose handler sees the attempt number and
// which records what every attempt carried.
type fakeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newFakeServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, attempt int)) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(r.Context()))
		f.bodies = append(f.bodies, string(body))
		attempt := len(f.requests)
		f.mu.Unlock()
		h(w, r, attempt)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// headers returns the value of header name on every attempt so far.
func (f *fakeServer) headers(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		out = append(out, r.Header.Get(name))
	}
	return out
}

// fastClient retries with waits of a few milliseconds unless the server sends
// Retry-After.
func fastClient(url string, opts ...client.Option) *client.Client {
	return client.New("sk_test", append([]client.Option{
		client.WithBaseURL(url),
		client.WithBackoff(time.Millisecond, 5*time.Second),
	}, opts...)...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAPIError writes Capture's error object, as the server does.
func writeAPIError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Request-Id", fmt.Sprintf("req_%d_%s", status, code))
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"type": typ, "code": code, "message": msg,
		"request_id": fmt.Sprintf("req_%d_%s", status, code),
		"doc_url":    "http://127.0.0.1:8080/docs#error-" + code,
	}})
}

func prospectJSON(id, email string) map[string]any {
	return map[string]any{
		"id": id, "object": "prospect", "email": email,
		"first_name": nil, "last_name": nil, "company": nil, "title": nil, "phone": nil,
		"website": nil, "source": nil, "status": "new", "tags": []string{}, "metadata": map[string]string{},
		"marketing_consent": false, "consent_at": nil, "hidden": false, "created": 1700000000, "updated": 1700000000,
	}
}

func writeProspect(w http.ResponseWriter, status int, id string) {
	w.Header().Set("Request-Id", "req_ok_"+id)
	writeJSON(w, status, prospectJSON(id, "ada@example.com"))
}

func asError(t *testing.T, err error) *client.Error {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	e, ok := err.(*client.Error)
	if !ok {
		t.Fatalf("want *client.Error, got %T: %v", err, err)
	}
	return e
}

func sameValues(t *testing.T, what string, vals []string, n int) {
	t.Helper()
	if len(vals) != n {
		t.Fatalf("%s: want %d attempts, got %d (%q)", what, n, len(vals), vals)
	}
	for _, v := range vals {
		if v == "" || v != vals[0] {
			t.Fatalf("%s: want one non-empty value on every attempt, got %q", what, vals)
		}
	}
}
