package server_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
)

// TestBatchItemsAsOneByOne: a batch under on_conflict update answers and
// records each item as a create or an update of it alone would, in order,
// on both engines: a duplicate of an earlier item updates the prospect that
// item created, with an event of the change (previous_attributes as before
// it) after the create's, and the search finds the prospects as they are
// after the batch, the ones it updated included.
func TestBatchItemsAsOneByOne(t *testing.T) { onEachEngine(t, testBatchItemsAsOneByOne) }

func testBatchItemsAsOneByOne(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	old := create(t, c, gen.ProspectCreate{Email: "old@example.com", Company: ptr("Initech")})
	got := batch(t, c, gen.OnConflictUpdate, []map[string]any{
		{"email": "new@example.com", "first_name": "Ada"},
		{"email": "NEW@example.com", "first_name": "Grace"},
		{"email": "old@example.com", "company": "Globex"},
		{"email": "old@example.com", "company": "Umbrella"},
	})
	if got.Created != 1 || got.Updated != 3 || got.Failed != 0 {
		t.Fatalf("counters %+v", got)
	}
	created := got.Data[0].Prospect
	if got.Data[0].Status != 201 || got.Data[1].Status != 200 || got.Data[1].Prospect.Id != created.Id ||
		got.Data[1].Prospect.FirstName.MustGet() != "Grace" {
		t.Errorf("a duplicate of an earlier item: %+v", got.Data[1])
	}
	if u := got.Data[3].Prospect; u.Id != old.Id || u.Company.MustGet() != "Umbrella" {
		t.Errorf("the second update of an existing prospect: %+v", got.Data[3])
	}
	events := listEvents(t, s, s.StandardKey, "?limit=10") // newest first
	type ev struct{ typ, id, prev string }
	var seen []ev
	for _, e := range events {
		var data struct {
			Object             struct{ ID string } `json:"object"`
			PreviousAttributes map[string]any      `json:"previous_attributes"`
		}
		b, _ := json.Marshal(e["data"])
		json.Unmarshal(b, &data)
		prev, _ := json.Marshal(data.PreviousAttributes)
		seen = append([]ev{{e["type"].(string), data.Object.ID, string(prev)}}, seen...)
	}
	want := []ev{
		{"prospect.created", old.Id, "null"},
		{"prospect.created", created.Id, "null"},
		{"prospect.updated", created.Id, `{"first_name":"Ada"}`},
		{"prospect.updated", old.Id, `{"company":"Initech"}`},
		{"prospect.updated", old.Id, `{"company":"Globex"}`},
	}
	if len(seen) != len(want) {
		t.Fatalf("events %+v, want %+v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, seen[i], want[i])
		}
	}
	for query, wantID := range map[string]string{`company~"Umbrella"`: old.Id, `first_name~"Grace"`: created.Id} {
		res, body := do(t, "GET", s.URL+"/v1/prospects/search?"+url.Values{"query": {query}}.Encode(), s.StandardKey, "", "")
		var page struct {
			Data []struct{ ID string } `json:"data"`
		}
		json.Unmarshal(body, &page)
		if res.StatusCode != 200 || len(page.Data) != 1 || page.Data[0].ID != wantID {
			t.Errorf("search %s: %d %s", query, res.StatusCode, body)
		}
	}
	res, body := do(t, "GET", s.URL+"/v1/prospects/search?"+url.Values{"query": {`company~"Initech"`}}.Encode(), s.StandardKey, "", "")
	if res.StatusCode != 200 || containsID(body, old.Id) {
		t.Errorf("search for the company before the batch: %d %s", res.StatusCode, body)
	}
}

func containsID(body []byte, id string) bool {
	var page struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.Unmarshal(body, &page)
	for _, p := range page.Data {
		if p.ID == id {
			return true
		}
	}
	return false
}
