package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/captureapi/capture"
	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// metricValue reads one series' value from a Prometheus text exposition.
func metricValue(t *testing.T, exposition, series string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		t.Errorf("series %s missing from /metrics", series)
		return ""
	}
	return m[1]
}

func TestMetricsMove(t *testing.T) {
	s := apitest.New(t)
	if _, err := s.DB.CreateAccount(t.Context(), "slow", 10, 1); err != nil {
		t.Fatal(err)
	}
	slow := s.NewAccountKey(t, "slow", "standard", 0)

	do(t, "GET", s.URL+"/v1/account", s.StandardKey, "", "")
	do(t, "GET", s.URL+"/v1/prospects/prs_missing", s.StandardKey, "", "")
	do(t, "GET", s.URL+"/nowhere", "", "", "")
	do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "a@example.com"}`, "Idempotency-Key", "m1")
	do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "a@example.com"}`, "Idempotency-Key", "m1")
	do(t, "GET", s.URL+"/v1/account", slow, "", "")
	do(t, "GET", s.URL+"/v1/account", slow, "", "")

	res, body := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	m := string(body)
	for series, want := range map[string]string{
		`capture_http_requests_total{method="GET",route="/v1/account",status="200"}`:        "2",
		`capture_http_requests_total{method="GET",route="/v1/prospects/{id}",status="404"}`: "1",
		`capture_http_requests_total{method="GET",route="unmatched",status="404"}`:          "1",
		`capture_http_requests_total{method="POST",route="/v1/prospects",status="201"}`:     "2",
		`capture_errors_total{code="resource_missing",type="invalid_request_error"}`:        "1",
		`capture_errors_total{code="route_not_found",type="invalid_request_error"}`:         "1",
		`capture_errors_total{code="rate_limit",type="rate_limit_error"}`:                   "1",
		`capture_rate_limited_total`:       "1",
		`capture_idempotent_replays_total`: "1",
		`capture_http_request_duration_seconds_count{method="POST",route="/v1/prospects"}`: "2",
	} {
		if got := metricValue(t, m, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
}

func TestRequestLog(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	s := apitest.New(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	})
	res, _ := do(t, "GET", s.URL+"/v1/prospects/prs_missing", s.StandardKey, "", "")
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), s.StandardKey) || strings.Contains(buf.String(), s.StandardKey[3:]) {
		t.Fatal("the log contains the secret key")
	}
	var line map[string]any
	for l := range strings.Lines(buf.String()) {
		json.Unmarshal([]byte(l), &line)
		if line["request_id"] == res.Header.Get("Request-Id") {
			break
		}
	}
	if line["request_id"] != res.Header.Get("Request-Id") {
		t.Fatalf("no log line for the request:\n%s", buf.String())
	}
	for field, want := range map[string]any{"route": "/v1/prospects/{id}", "status": float64(404), "error_code": "resource_missing", "method": "GET"} {
		if line[field] != want {
			t.Errorf("log %s = %v, want %v", field, line[field], want)
		}
	}
	for _, field := range []string{"latency_ms", "bytes", "key_id"} {
		if _, ok := line[field]; !ok {
			t.Errorf("log line lacks %s: %v", field, line)
		}
	}
	if id, _ := line["key_id"].(string); !strings.HasPrefix(id, "key_") {
		t.Errorf("key_id = %q", id)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestPublishedReference(t *testing.T) {
	s := apitest.New(t)
	res, body := do(t, "GET", s.URL+"/openapi.yaml", "", "", "")
	if res.StatusCode != 200 || !bytes.Equal(body, capture.OpenAPIYAML) {
		t.Errorf("/openapi.yaml: %d, %d bytes; want openapi.yaml as written", res.StatusCode, len(body))
	}
	for _, path := range []string{"/docs", "/docs/console", "/openapi.json"} {
		if res, _ := do(t, "GET", s.URL+path, "", "", ""); res.StatusCode != 200 || res.Header.Get("Request-Id") == "" {
			t.Errorf("GET %s: %d, Request-Id %q", path, res.StatusCode, res.Header.Get("Request-Id"))
		}
	}
	// The pages outside the API answer wrong methods like the API does.
	res, body = do(t, "POST", s.URL+"/docs", "", "application/json", "{}")
	wantError(t, res, body, 405, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeMethodNotAllowed, "")
	if res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /docs: Allow = %q, want GET, HEAD", res.Header.Get("Allow"))
	}
	res, body = do(t, "GET", s.URL+"/docs/nothing-here.js", "", "", "")
	d := wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeRouteNotFound, "")
	// The error's doc_url lands on the code's section of the reference page.
	u, err := url.Parse(d.DocUrl)
	if err != nil {
		t.Fatal(err)
	}
	res, body = do(t, "GET", s.URL+u.Path, "", "", "")
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(`id="`+u.Fragment+`"`)) {
		t.Errorf("doc_url %s: status %d, and no element with id %q on the page", d.DocUrl, res.StatusCode, u.Fragment)
	}
	// Metrics are on a listener of their own, not the API's port.
	res, body = do(t, "GET", s.URL+"/metrics", "", "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeRouteNotFound, "")
}
