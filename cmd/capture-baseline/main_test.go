package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
)

const (
	testKey     = "sk_test0000000000000000000000000000000"
	testAccount = "acct_1"
	// seededID is a prospect written straight into the table, as the load
	// harness seeds them.
	seededID = "prs_01jdq7z8x4k3m5n6p7q8r9s0t1"
)

// onEngines runs test on the floor over SQLite and over PostgreSQL (skipped
// without CAPTURE_TEST_POSTGRES_URL), each serving a database laid out by
// Capture's own migrations, with one account and one seeded prospect.
func onEngines(t *testing.T, test func(t *testing.T, srv *httptest.Server)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, newPostgresTestServer(t)) })
}

// newPostgresTestServer is newTestServer on a PostgreSQL schema of the test's own.
func newPostgresTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	dsn := pgtest.URL(t)
	pgtest.OpenURL(t, dsn)
	pgtest.Exec(t, dsn, `INSERT INTO accounts (id, name, prospect_limit, created) VALUES ($1, 'test', 100, now())`, testAccount)
	pgtest.Exec(t, dsn, `INSERT INTO prospects (id, account_id, email, first_name, tags, metadata, marketing_consent, consent_at, created, updated)
		VALUES ($1, $2, 'ada@example.com', 'Ada', '{seed}', '{"plan":"pro"}', true, to_timestamp(1700000000), to_timestamp(1700000000), to_timestamp(1700000000))`,
		seededID, testAccount)
	s, err := openPostgres(dsn, testAccount, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	return srv
}

// migratedFile is a SQLite file laid out by Capture's own migrations, with
// the test's account, and a connection to it.
func migratedFile(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capture.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.Close()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`INSERT INTO accounts (id, name, prospect_limit, created) VALUES (?, 'test', 100, 0)`, testAccount); err != nil {
		t.Fatal(err)
	}
	return path, db
}

// newTestServer serves a SQLite database laid out by Capture's own
// migrations, with one account and one seeded prospect.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	path, db := migratedFile(t)
	if _, err := db.Exec(`INSERT INTO prospects (id, account_id, email, first_name, tags, metadata, marketing_consent, consent_at, created, updated)
		VALUES (?, ?, 'ada@example.com', 'Ada', '["seed"]', '{"plan":"pro"}', 1, 1700000000, 1700000000, 1700000000)`, seededID, testAccount); err != nil {
		t.Fatal(err)
	}
	s, err := open(path, testAccount, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	raw    []byte
	body   map[string]any
}

func call(t *testing.T, method, url, key, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	a.raw, _ = io.ReadAll(resp.Body)
	if err := json.Unmarshal(a.raw, &a.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, url, a.raw)
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

// The error answers carry the codes Capture gives for the same requests, so
// the harness's rows check the same thing on both servers.
func TestFloorAnswersErrorsAsFixedJSON(t *testing.T) { onEngines(t, testFloorAnswersErrorsAsFixedJSON) }

func testFloorAnswersErrorsAsFixedJSON(t *testing.T, srv *httptest.Server) {
	for _, tc := range []struct {
		method, path, key, body string
		status                  int
		code                    string
	}{
		{"GET", "/v1/prospects/" + seededID, "", "", 401, "api_key_missing"},
		{"GET", "/v1/prospects/" + seededID, "sk_wrong", "", 401, "api_key_invalid"},
		{"GET", "/v1/prospects/prs_00000000000000000000000000", testKey, "", 404, "resource_missing"},
		{"GET", "/nowhere", testKey, "", 404, "route_not_found"},
		{"POST", "/v1/prospects", testKey, `{"email": `, 400, "body_invalid_json"},
		{"GET", "/v1/prospects?limit=101", testKey, "", 400, "parameter_invalid"},
	} {
		a := call(t, tc.method, srv.URL+tc.path, tc.key, tc.body)
		if a.status != tc.status || errorCodeOf(a) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, a.status, errorCodeOf(a), tc.status, tc.code)
		}
	}
}

// A seeded row comes back in Capture's wire form: every field of the API's
// Prospect and no other.
func TestFloorReadsSeededRowsInCapturesWireForm(t *testing.T) {
	onEngines(t, testFloorReadsSeededRowsInCapturesWireForm)
}

func testFloorReadsSeededRowsInCapturesWireForm(t *testing.T, srv *httptest.Server) {
	got := call(t, "GET", srv.URL+"/v1/prospects/"+seededID, testKey, "")
	if got.status != 200 {
		t.Fatalf("get: %d %s", got.status, got.raw)
	}
	var want map[string]any
	b, _ := json.Marshal(gen.Prospect{})
	json.Unmarshal(b, &want)
	if g, w := slices.Sorted(maps.Keys(got.body)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		t.Errorf("fields %v, want the API's %v", g, w)
	}
	var p gen.Prospect
	if err := json.Unmarshal(got.raw, &p); err != nil {
		t.Fatalf("not a Prospect: %v: %s", err, got.raw)
	}
	if p.Id != seededID || p.Email != "ada@example.com" || p.Object != "prospect" || p.Status != "new" ||
		!p.MarketingConsent || p.Metadata["plan"] != "pro" || len(p.Tags) != 1 {
		t.Errorf("get: %s", got.raw)
	}
}

func TestFloorCreatesThenListsNewestFirst(t *testing.T) {
	onEngines(t, testFloorCreatesThenListsNewestFirst)
}

func testFloorCreatesThenListsNewestFirst(t *testing.T, srv *httptest.Server) {
	ids := []string{seededID}
	for _, email := range []string{"b@example.com", "c@example.com"} {
		a := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "`+email+`", "tags": ["vip"]}`)
		id, _ := a.body["id"].(string)
		if a.status != 201 || !strings.HasPrefix(id, "prs_") || len(id) != 30 || a.body["email"] != email {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		ids = append(ids, id)
	}
	if got := call(t, "GET", srv.URL+"/v1/prospects/"+ids[2], testKey, ""); got.status != 200 || got.body["email"] != "c@example.com" {
		t.Errorf("get after create: %d %s", got.status, got.raw)
	}

	pageIDs := func(a answer) []string {
		var out []string
		data, _ := a.body["data"].([]any)
		for _, d := range data {
			out = append(out, d.(map[string]any)["id"].(string))
		}
		return out
	}
	first := call(t, "GET", srv.URL+"/v1/prospects?limit=2", testKey, "")
	if got := pageIDs(first); first.status != 200 || !slices.Equal(got, []string{ids[2], ids[1]}) || first.body["has_more"] != true {
		t.Errorf("first page: %v has_more %v, want %v and more", got, first.body["has_more"], []string{ids[2], ids[1]})
	}
	next := call(t, "GET", srv.URL+"/v1/prospects?limit=2&starting_after="+ids[1], testKey, "")
	if got := pageIDs(next); !slices.Equal(got, []string{ids[0]}) || next.body["has_more"] != false {
		t.Errorf("second page: %v has_more %v, want %v and no more", got, next.body["has_more"], ids[:1])
	}
}

// A create puts its row into the search index in its own transaction, as
// Capture's store does (its rows are as searchable as Capture's): none waits
// for the index, a substring search finds it, and FTS5's check finds the index
// in step with the table.
func TestFloorCreateIndexesItsRow(t *testing.T) {
	path, db := migratedFile(t)
	s, err := open(path, testAccount, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	if a := call(t, "POST", srv.URL+"/v1/prospects", testKey, `{"email": "grace@example.com", "company": "Compilers Inc"}`); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	var waiting, found int
	if err := db.QueryRow(`SELECT count(*) FROM prospects_unindexed`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM prospects_search WHERE prospects_search MATCH 'company : "compilers"'`).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 || found != 1 {
		t.Errorf("after a create: %d rows wait for the index, a search finds %d (want 0 and 1)", waiting, found)
	}
	if _, err := db.Exec(`INSERT INTO prospects_search (prospects_search, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("the search index is out of step with the prospects: %v", err)
	}
}
