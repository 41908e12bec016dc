package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKey = "sk_test0000000000000000000000000000000"

// newTestServer serves a fresh database with one account and testKey.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "b.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	write.SetMaxOpenConns(1)
	t.Cleanup(func() { write.Close() })
	if _, err := write.Exec(schema); err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte(testKey))
	if _, err := write.Exec(`INSERT INTO accounts (id, name, prospect_limit, created) VALUES ('acct_1', 'test', 100, 0);
		INSERT INTO api_keys (id, account_id, hash, role, created) VALUES ('key_1', 'acct_1', ?, 'admin', 0)`, hash[:]); err != nil {
		t.Fatal(err)
	}
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { read.Close() })
	s := &server{read: read, write: write}
	if err := s.loadKeys(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, method, url, key, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, url, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	return a
}

func errorCodeOf(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestBaselineAnswersErrorsAsJSON(t *testing.T) {
	srv := newTestServer(t)
	for _, tc := range []struct {
		method, path, key, body string
		status                  int
		code                    string
	}{
		{"GET", "/v1/prospects/prs_x", "", "", 401, "api_key_missing"},
		{"GET", "/v1/prospects/prs_x", "sk_wrong", "", 401, "api_key_invalid"},
		{"GET", "/v1/prospects/prs_x", testKey, "", 404, "resource_missing"},
		{"GET", "/nowhere", testKey, "", 404, "route_not_found"},
		{"POST", "/v1/prospects", testKey, `{"email": `, 400, "body_invalid_json"},
		{"POST", "/v1/prospects", testKey, `{"first_name": "Ada"}`, 400, "parameter_missing"},
		{"POST", "/v1/prospects", testKey, `{"email": "ada@example.com", "shoe_size": 9}`, 400, "body_invalid_json"},
		{"GET", "/v1/prospects?limit=101", testKey, "", 400, "parameter_invalid"},
	} {
		a := call(t, tc.method, srv.URL+tc.path, tc.key, tc.body)
		if a.status != tc.status || errorCodeOf(a) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, a.status, errorCodeOf(a), tc.status, tc.code)
		}
		if a.header.Get("Request-Id") == "" {
			t.Errorf("%s %s: no Request-Id", tc.method, tc.path)
		}
	}
}

func TestBaselineCreatesReadsAndRejectsDuplicates(t *testing.T) {
	srv := newTestServer(t)
	created := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "Ada@Example.com", "tags": ["vip"]}`)
	if created.status != 201 {
		t.Fatalf("create: status %d %v", created.status, created.body)
	}
	id, _ := created.body["id"].(string)
	if !strings.HasPrefix(id, "prs_") || len(id) != 30 || created.body["email"] != "ada@example.com" {
		t.Errorf("create: got %v", created.body)
	}
	got := call(t, "GET", srv.URL+"/v1/prospects/"+id, testKey, "")
	if got.status != 200 || got.body["id"] != id || got.body["status"] != "new" {
		t.Errorf("get: %d %v", got.status, got.body)
	}
	dup := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "ada@example.com"}`)
	e, _ := dup.body["error"].(map[string]any)
	if dup.status != 409 || e["code"] != "prospect_exists" || e["existing_id"] != id {
		t.Errorf("duplicate: %d %v", dup.status, dup.body)
	}
}

func TestBaselineReplaysIdempotentCreate(t *testing.T) {
	srv := newTestServer(t)
	first := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "grace@example.com"}`, "Idempotency-Key", "k1")
	again := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "grace@example.com"}`, "Idempotency-Key", "k1")
	if first.status != 201 || again.status != 201 || again.body["id"] != first.body["id"] {
		t.Errorf("replay: %d %v then %d %v", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("replay without Idempotent-Replayed: true")
	}
}

func TestBaselineListsNewestFirstByKeyset(t *testing.T) {
	srv := newTestServer(t)
	var ids []string
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		a := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "`+email+`"}`)
		ids = append(ids, a.body["id"].(string))
		time.Sleep(2 * time.Millisecond) // ids are ordered by millisecond
	}
	page := call(t, "GET", srv.URL+"/v1/prospects?limit=2", testKey, "")
	data, _ := page.body["data"].([]any)
	if page.status != 200 || len(data) != 2 || page.body["has_more"] != true {
		t.Fatalf("first page: %d %v", page.status, page.body)
	}
	if data[0].(map[string]any)["id"] != ids[2] || data[1].(map[string]any)["id"] != ids[1] {
		t.Errorf("first page is not newest first: %v, created %v", data, ids)
	}
	next := call(t, "GET", srv.URL+"/v1/prospects?limit=2&starting_after="+ids[1], testKey, "")
	data, _ = next.body["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["id"] != ids[0] || next.body["has_more"] != false {
		t.Errorf("second page: %v", next.body)
	}
}
