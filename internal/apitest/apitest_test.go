package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recordingTB collects the failures ValidateResponses reports instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

const prospectBody = `{"id":"prs_1","object":"prospect","email":"ada@example.com","first_name":null,"last_name":null,` +
	`"company":null,"title":null,"phone":null,"website":null,"source":null,"status":"new","tags":[],"metadata":{},` +
	`"marketing_consent":false,"consent_at":null,"hidden":false,"created":1,"updated":1}`

func TestValidateResponsesCatchesViolations(t *testing.T) {
	const errBody = `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such prospect.","request_id":"req_1","doc_url":"http://x/docs#error-resource_missing"}}`
	cases := []struct {
		name, method, path string
		handler            http.HandlerFunc
		violation          string // "" when the response is valid
	}{
		{"documented error", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(errBody))
		}, ""},
		{"undocumented status", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(418)
			w.Write([]byte(errBody))
		}, "418"},
		{"missing Request-Id", "GET", "/v1/account", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{}`))
		}, "Request-Id"},
		{"body off schema", "GET", "/v1/account", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"acct_1","object":"account"}`))
		}, "name"},
		{"undocumented field", "GET", "/healthz", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok","uptime":5}`))
		}, "uptime"},
		{"request id mismatch", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(errBody))
		}, "request_id"},
		{"undocumented error code", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(strings.ReplaceAll(errBody, "resource_missing", "prospect_vanished")))
		}, "prospect_vanished"},
		{"undocumented field in the error object", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			w.Write([]byte(strings.Replace(errBody, `"message"`, `"decline_code":"x","message"`, 1)))
		}, "decline_code"},
		{"undocumented prospect status", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(strings.Replace(prospectBody, `"status":"new"`, `"status":"nurturing"`, 1)))
		}, "nurturing"},
		{"undocumented prospect field", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(strings.Replace(prospectBody, `"hidden"`, `"score":7,"hidden"`, 1)))
		}, "score"},
		{"documented prospect", "GET", "/v1/prospects/prs_1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(prospectBody))
		}, ""},
		{"405 without Allow", "PUT", "/v1/account", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Request-Id", "req_1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(405)
			w.Write([]byte(strings.ReplaceAll(errBody, "resource_missing", "method_not_allowed")))
		}, "Allow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			h := ValidateResponses(rec, tc.handler)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
			got := strings.Join(rec.errs, "\n")
			if tc.violation == "" && got != "" {
				t.Errorf("valid response reported: %s", got)
			}
			if tc.violation != "" && !strings.Contains(got, tc.violation) {
				t.Errorf("violation mentioning %q not reported; got %q", tc.violation, got)
			}
		})
	}
}
