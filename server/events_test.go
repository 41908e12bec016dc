package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server/store"
)

// listEvents reads every event the key sees, newest first, as raw JSON objects.
func listEvents(t *testing.T, s *apitest.Server, key, query string) []map[string]any {
	t.Helper()
	res, body := do(t, "GET", s.URL+"/v1/events"+query, key, "", "")
	if res.StatusCode != 200 {
		t.Fatalf("list events: %d %s", res.StatusCode, body)
	}
	var page struct {
		Data    []map[string]any `json:"data"`
		HasMore bool             `json:"has_more"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Data
}

// eventStore is the events log of the server's engine.
func eventStore(s *apitest.Server) store.EventStore { return s.Store.(store.EventStore) }

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestEveryChangeRecordsOneEvent(t *testing.T) { onEachEngine(t, testEveryChangeRecordsOneEvent) }

func testEveryChangeRecordsOneEvent(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	key := s.StandardKey

	res, body := do(t, "POST", s.URL+"/v1/prospects", key, "application/json",
		`{"email":"ada@example.com","first_name":"Ada"}`, "Idempotency-Key", "signup-1")
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	createReq := res.Header.Get("Request-Id")
	var p gen.Prospect
	json.Unmarshal(body, &p)

	res, body = do(t, "PATCH", s.URL+"/v1/prospects/"+p.Id, key, "application/json", `{"status":"qualified","title":"CTO"}`)
	if res.StatusCode != 200 {
		t.Fatalf("update: %d %s", res.StatusCode, body)
	}
	updateReq := res.Header.Get("Request-Id")
	res, body = do(t, "DELETE", s.URL+"/v1/prospects/"+p.Id, key, "", "")
	if res.StatusCode != 200 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	deleteReq := res.Header.Get("Request-Id")

	// Changes that fail leave no event: a duplicate, an unknown id, a deleted one.
	do(t, "POST", s.URL+"/v1/prospects", key, "application/json", `{"email":"grace@example.com"}`)
	if res, _ := do(t, "POST", s.URL+"/v1/prospects", key, "application/json", `{"email":"grace@example.com"}`); res.StatusCode != 409 {
		t.Fatalf("duplicate: %d", res.StatusCode)
	}
	if res, _ := do(t, "PATCH", s.URL+"/v1/prospects/prs_nope", key, "application/json", `{"status":"new"}`); res.StatusCode != 404 {
		t.Fatalf("unknown: %d", res.StatusCode)
	}
	if res, _ := do(t, "DELETE", s.URL+"/v1/prospects/"+p.Id, key, "", ""); res.StatusCode != 410 {
		t.Fatalf("deleted again: %d", res.StatusCode)
	}

	events := listEvents(t, s, key, "?limit=100")
	var types []string
	for _, e := range events {
		types = append(types, e["type"].(string))
	}
	want := []string{"prospect.created", "prospect.deleted", "prospect.updated", "prospect.created"}
	if !slices.Equal(types, want) {
		t.Fatalf("event types newest first = %v, want %v", types, want)
	}
	deleted, updated, created := events[1], events[2], events[3]

	// The prospect is deleted: its earlier events keep its id, object, status
	// and created, and of previous_attributes the status alone.
	data := created["data"].(map[string]any)
	obj := data["object"].(map[string]any)
	if obj["id"] != p.Id || obj["status"] != "new" || obj["created"] != float64(p.Created) || len(obj) != 4 {
		t.Errorf("created event's object = %v", obj)
	}
	if _, ok := data["previous_attributes"]; ok {
		t.Error("a created event has previous_attributes")
	}
	if r := created["request"].(map[string]any); r["id"] != createReq || r["idempotency_key"] != "signup-1" {
		t.Errorf("created event's request = %v, want %s with its key", r, createReq)
	}

	data = updated["data"].(map[string]any)
	obj = data["object"].(map[string]any)
	if obj["status"] != "qualified" || len(obj) != 4 {
		t.Errorf("updated event's object = %v", obj)
	}
	prev := data["previous_attributes"].(map[string]any)
	if len(prev) != 1 || prev["status"] != "new" {
		t.Errorf("previous_attributes = %v, want {status: new}", prev)
	}
	if r := updated["request"].(map[string]any); r["id"] != updateReq || r["idempotency_key"] != nil {
		t.Errorf("updated event's request = %v", r)
	}

	// A deletion's event carries the id only: no personal field.
	obj = deleted["data"].(map[string]any)["object"].(map[string]any)
	if got := keys(obj); !slices.Equal(got, []string{"deleted", "id", "object"}) || obj["id"] != p.Id {
		t.Errorf("deleted event's object = %v", obj)
	}
	if raw, _ := json.Marshal(deleted); strings.Contains(string(raw), "ada@") || strings.Contains(string(raw), "Ada") {
		t.Errorf("deleted event carries personal data: %s", raw)
	}
	if r := deleted["request"].(map[string]any); r["id"] != deleteReq {
		t.Errorf("deleted event's request = %v", r)
	}

	// Each event reads back by id.
	res, body = do(t, "GET", s.URL+"/v1/events/"+updated["id"].(string), key, "", "")
	if res.StatusCode != 200 || !strings.Contains(string(body), `"previous_attributes"`) {
		t.Errorf("get event: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "GET", s.URL+"/v1/events/evt_nope", key, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
}

// An idempotent replay is no second change: it records no second event.
func TestReplayRecordsNoEvent(t *testing.T) { onEachEngine(t, testReplayRecordsNoEvent) }

func testReplayRecordsNoEvent(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	for range 2 {
		res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
			`{"email":"ada@example.com"}`, "Idempotency-Key", "once")
		if res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
	}
	if n := len(listEvents(t, s, s.StandardKey, "")); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// createThenFail creates a prospect of acme in a transaction that then fails,
// and returns the account.
func createThenFail(t *testing.T, s *apitest.Server, email string) *store.Account {
	t.Helper()
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.Store.Atomically(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomically = %v", err)
	}
	return a
}

// The event is written in the change's transaction: a transaction that fails
// after the change leaves neither.
func TestEventCommitsWithItsChange(t *testing.T) { onEachEngine(t, testEventCommitsWithItsChange) }

func testEventCommitsWithItsChange(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	a := createThenFail(t, s, "ada@example.com")
	page, err := eventStore(s).ListEvents(ctx, a.ID, store.EventListParams{Limit: 10, IncludeHidden: true})
	if err != nil || len(page.Events) != 0 {
		t.Errorf("events after a rolled-back create: %v, %v", page, err)
	}
	if n := countProspects(t, s, s.AdminKey); n != 0 {
		t.Errorf("%d prospects after a rolled-back create", n)
	}
}

func TestEventsPagesAndFilters(t *testing.T) { onEachEngine(t, testEventsPagesAndFilters) }

func testEventsPagesAndFilters(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	for i := range 5 {
		p := create(t, c, gen.ProspectCreate{Email: openapi_types.Email(fmt.Sprintf("p%d@example.com", i))})
		if i%2 == 0 {
			if res, body := do(t, "PATCH", s.URL+"/v1/prospects/"+p.Id, s.StandardKey, "application/json", `{"status":"contacted"}`); res.StatusCode != 200 {
				t.Fatalf("update: %d %s", res.StatusCode, body)
			}
		}
	}
	all := listEvents(t, s, s.StandardKey, "?limit=100")
	if len(all) != 8 {
		t.Fatalf("%d events, want 8", len(all))
	}
	var ids []string
	for _, e := range all {
		ids = append(ids, e["id"].(string))
	}
	if !slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("events not newest first: %v", ids)
	}
	// Walk forwards two at a time, then back.
	var walked []string
	cursor := ""
	for {
		q := "?limit=3"
		if cursor != "" {
			q += "&starting_after=" + cursor
		}
		page := listEvents(t, s, s.StandardKey, q)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			walked = append(walked, e["id"].(string))
		}
		cursor = walked[len(walked)-1]
	}
	if !slices.Equal(walked, ids) {
		t.Errorf("paged walk %v, want %v", walked, ids)
	}
	back := listEvents(t, s, s.StandardKey, "?limit=2&ending_before="+ids[4])
	if len(back) != 2 || back[0]["id"] != ids[2] || back[1]["id"] != ids[3] {
		t.Errorf("ending_before page = %v, want %v", back, ids[2:4])
	}

	updates := listEvents(t, s, s.StandardKey, "?type=prospect.updated&limit=100")
	if len(updates) != 3 {
		t.Errorf("%d prospect.updated events, want 3", len(updates))
	}
	for _, e := range updates {
		if e["type"] != "prospect.updated" {
			t.Errorf("type filter let through %v", e["type"])
		}
	}
	future := time.Now().Add(time.Hour).Unix()
	if got := listEvents(t, s, s.StandardKey, fmt.Sprintf("?created_gte=%d", future)); len(got) != 0 {
		t.Errorf("created_gte in the future: %d events", len(got))
	}
	if got := listEvents(t, s, s.StandardKey, fmt.Sprintf("?created_lte=%d&limit=100", future)); len(got) != 8 {
		t.Errorf("created_lte in the future: %d events, want 8", len(got))
	}
	res, body := do(t, "GET", s.URL+"/v1/events?type=prospect.exploded", s.StandardKey, "", "")
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "type")
	res, body = do(t, "GET", s.URL+"/v1/events?starting_after=a&ending_before=b", s.StandardKey, "", "")
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "ending_before")
}

func TestHiddenProspectsEventsForAdminsOnly(t *testing.T) {
	onEachEngine(t, testHiddenProspectsEventsForAdminsOnly)
}

func testHiddenProspectsEventsForAdminsOnly(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.AdminKey, "application/json", `{"email":"vip@example.com","hidden":true}`)
	if res.StatusCode != 201 {
		t.Fatalf("create hidden: %d %s", res.StatusCode, body)
	}
	do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)

	admin := listEvents(t, s, s.AdminKey, "")
	standard := listEvents(t, s, s.StandardKey, "")
	if len(admin) != 2 || len(standard) != 1 {
		t.Fatalf("admin sees %d events, standard %d; want 2 and 1", len(admin), len(standard))
	}
	hiddenID := admin[1]["id"].(string)
	if standard[0]["id"] == hiddenID {
		t.Fatal("a standard key listed the hidden prospect's event")
	}
	res, body = do(t, "GET", s.URL+"/v1/events/"+hiddenID, s.StandardKey, "", "")
	// To a standard key it is not there, as any event it may not see.
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	if res, _ := do(t, "GET", s.URL+"/v1/events/"+hiddenID, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Errorf("admin get hidden event: %d", res.StatusCode)
	}
	// Another account sees none of them.
	other := s.NewAccountKey(t, "globex", "admin", 10)
	if got := listEvents(t, s, other, ""); len(got) != 0 {
		t.Errorf("another account sees %d events", len(got))
	}
	res, body = do(t, "GET", s.URL+"/v1/events/"+hiddenID, other, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
}

func TestEventsArePurgedAfterRetention(t *testing.T) {
	onEachEngine(t, testEventsArePurgedAfterRetention)
}

func testEventsArePurgedAfterRetention(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})
	ctx := context.Background()
	if n, err := eventStore(s).PurgeEvents(ctx, time.Now().Add(-store.EventRetention)); err != nil || n != 0 {
		t.Fatalf("purge of events older than the retention took %d, %v; want none", n, err)
	}
	if got := listEvents(t, s, s.StandardKey, ""); len(got) != 1 {
		t.Fatalf("%d events before their time is up, want 1", len(got))
	}
	// Thirty days on, the same purge takes it.
	if n, err := eventStore(s).PurgeEvents(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge took %d, %v; want 1", n, err)
	}
	if got := listEvents(t, s, s.StandardKey, ""); len(got) != 0 {
		t.Errorf("%d events after the purge", len(got))
	}
}
