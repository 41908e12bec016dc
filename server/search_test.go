package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

func TestSearch(t *testing.T) { onEachEngine(t, testSearch) }

// testSearch walks a search's pages by next_page, hides hidden prospects from
// standard keys, and answers each kind of bad query with its error.
func testSearch(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	admin, standard := s.Client(t, s.AdminKey), s.Client(t, s.StandardKey)
	var want []string // newest first
	for i := range 5 {
		p := create(t, admin, gen.ProspectCreate{Email: openapi_types.Email(fmt.Sprintf("p%d@acme.example.com", i)),
			Company: ptr(fmt.Sprintf("Acme %d", i))})
		want = append([]string{p.Id}, want...)
	}
	hidden := create(t, admin, gen.ProspectCreate{Email: "hidden@acme.example.com", Company: ptr("Acme H"), Hidden: ptr(true)})
	create(t, admin, gen.ProspectCreate{Email: "other@example.com", Company: ptr("Globex")})

	search := func(key, query, page string, limit int) (*http.Response, []byte) {
		v := url.Values{"query": {query}}
		if page != "" {
			v.Set("page", page)
		}
		if limit > 0 {
			v.Set("limit", fmt.Sprint(limit))
		}
		return do(t, "GET", s.URL+"/v1/prospects/search?"+v.Encode(), key, "", "")
	}
	walk := func(key string) (ids []string) {
		page := ""
		for range 10 {
			res, body := search(key, `company~"ACME"`, page, 2)
			var r gen.SearchResult
			if err := json.Unmarshal(body, &r); err != nil || res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if r.Object != "search_result" || r.Url != "/v1/prospects/search" {
				t.Errorf("object %q, url %q", r.Object, r.Url)
			}
			for _, p := range r.Data {
				ids = append(ids, p.Id)
			}
			next, err := r.NextPage.Get()
			if r.HasMore != (err == nil) {
				t.Fatalf("has_more %v with next_page %q (%v)", r.HasMore, next, err)
			}
			if !r.HasMore {
				return ids
			}
			page = next
		}
		t.Fatal("the walk did not end")
		return nil
	}
	if got := walk(s.StandardKey); !slices.Equal(got, want) {
		t.Errorf("a standard key walked %v, want %v", got, want)
	}
	if got := walk(s.AdminKey); !slices.Equal(got, append([]string{hidden.Id}, want...)) {
		t.Errorf("an admin key walked %v, want the hidden %s first, then %v", got, hidden.Id, want)
	}
	res, err := standard.SearchProspectsWithResponse(context.Background(), &gen.SearchProspectsParams{Query: `email:"P3@ACME.example.com"`})
	if err != nil || res.JSON200 == nil || len(res.JSON200.Data) != 1 || res.JSON200.Data[0].Id != want[1] {
		t.Errorf("by email: %v %s", err, res.Body)
	}

	for _, tc := range []struct{ query, message string }{
		{`status:`, `Invalid query: expected a value after "status:" at position 7.`},
		{`colour:"red"`, `Invalid query: unknown field "colour": search knows email, first_name, last_name, company, title, phone, website, source, status, tag, created and metadata["key"] at position 0.`},
		{`company~"ac"`, `Invalid query: a substring (~) needs at least 3 characters; "ac" has 2 at position 8.`},
		{`status:"won"`, `Invalid query: unknown status "won"; a status is one of new, contacted, qualified, unqualified, converted.`},
		{`created>9224318016000`, `Invalid query: a time is at most 253402300799 (the last second of the year 9999) at position 8.`},
		{`created<9223372036854775807`, `Invalid query: a time is at most 253402300799 (the last second of the year 9999) at position 8.`},
		{`created<="99999999999999999999"`, `Invalid query: a time is at most 253402300799 (the last second of the year 9999) at position 10.`},
		{`tag:"a" AND tag:"b" OR tag:"c"`, `Invalid query: a query joins its clauses all with AND or all with OR; found OR after AND at position 20.`},
	} {
		res, body := search(s.StandardKey, tc.query, "", 0)
		if e := wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeQueryInvalid, "query"); e.Message != tc.message {
			t.Errorf("%s:\n got %s\nwant %s", tc.query, e.Message, tc.message)
		}
	}
	// Not base64; base64 of no prospect id; of "prs_\x00", "prs_\xff", and an id of 25 characters.
	for _, page := range []string{"not a cursor!", "Zm9vYmFy", "cHJzXwA", "cHJzX_8", "cHJzXzAxamRxN3o4eDRrM201bjZwN3E4cjlzMHQ"} {
		res, body := search(s.StandardKey, `company~"acme"`, page, 0)
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "page")
	}
	res1, body := search(s.StandardKey, `company~"acme"`, "cHJzX++", 0)
	e := wantError(t, res1, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "page")
	if want := "Invalid page: must match the pattern ^[A-Za-z0-9_-]+$; page is the `next_page` of the previous answer, for the page after it (the same query must be sent with it)."; e.Message != want {
		t.Errorf("a page of the wrong characters:\n got %s\nwant %s", e.Message, want)
	}
	res2, body2 := do(t, "GET", s.URL+"/v1/prospects/search", s.StandardKey, "", "")
	wantError(t, res2, body2, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterMissing, "query")
}

func TestSearchReadsItsWritesOnEveryReplica(t *testing.T) {
	onEachEngine(t, testSearchReadsItsWritesOnEveryReplica)
}

// testSearchReadsItsWritesOnEveryReplica creates prospects on one server and
// at once searches for each on another (on PostgreSQL, a second replica of the
// same database; SQLite has one server), from many goroutines: no search
// misses its prospect, an update is found as it is now and a deletion is gone.
func testSearchReadsItsWritesOnEveryReplica(t *testing.T, newServer apitest.NewFunc) {
	unlimited := func(c *server.Config) { c.DefaultRateLimit = 1 << 20 }
	writer := newServer(t, unlimited)
	reader := writer
	if writer.PostgresURL != "" {
		reader = apitest.NewOnPostgres(t, writer.PostgresURL, unlimited)
	}
	w, r := writer.Client(t, writer.AdminKey), reader.Client(t, reader.AdminKey)
	ctx := context.Background()
	find := func(query string) []string {
		res, err := r.SearchProspectsWithResponse(ctx, &gen.SearchProspectsParams{Query: query})
		if err != nil || res.JSON200 == nil {
			t.Errorf("%s: %v %s", query, err, res.Body)
			return nil
		}
		var ids []string
		for _, p := range res.JSON200.Data {
			ids = append(ids, p.Id)
		}
		return ids
	}
	const n, workers = 1000, 8
	var mu sync.Mutex
	var misses []string
	miss := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		misses = append(misses, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < n; i += workers {
				created, err := w.CreateProspectWithResponse(ctx, nil, gen.ProspectCreate{
					Email: openapi_types.Email(fmt.Sprintf("raw%04d@example.com", i)), Company: ptr(fmt.Sprintf("Firm %04d Ltd", i))})
				if err != nil || created.JSON201 == nil {
					t.Errorf("create: %v", err)
					return
				}
				p := created.JSON201
				if got := find(fmt.Sprintf(`company~"firm %04d"`, i)); !slices.Equal(got, []string{p.Id}) {
					miss("%s created: found %v", p.Id, got)
				}
				if i%20 != 0 {
					continue
				}
				res, err := w.UpdateProspectWithResponse(ctx, p.Id, nil, gen.ProspectUpdate{Title: nullable.NewNullableWithValue("Chief Searcher")})
				if err != nil || res.JSON200 == nil {
					t.Errorf("update: %v %s", err, res.Body)
					return
				}
				if got := find(fmt.Sprintf(`company~"firm %04d" AND title:"Chief Searcher"`, i)); !slices.Equal(got, []string{p.Id}) {
					miss("%s updated: found %v", p.Id, got)
				}
				if res, err := w.DeleteProspectWithResponse(ctx, p.Id); err != nil || res.JSON200 == nil {
					t.Errorf("delete: %v", err)
					return
				}
				if got := find(fmt.Sprintf(`company~"firm %04d"`, i)); len(got) != 0 {
					miss("%s deleted: found %v", p.Id, got)
				}
			}
		})
	}
	wg.Wait()
	if len(misses) > 0 {
		t.Errorf("%d searches of %d writes missed them:\n%s", len(misses), n, strings.Join(misses, "\n"))
	}
}
