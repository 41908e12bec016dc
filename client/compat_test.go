package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
)

// The contract lets the API grow (docs: "The contract grows without breaking
// clients"): a newer server may add fields to any object, error codes and
// prospect statuses. This client, generated from today's contract, must still
// decode such answers.
func TestAnswersOfANewerServerDecode(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Request-Id", "req_new")
		switch r.URL.Path {
		case "/v1/prospects/prs_1":
			p := prospectJSON("prs_1", "ada@example.com")
			p["status"] = "nurturing"                                 // a status added later
			p["lifetime_value"] = 1200                                // a field added later
			p["owner"] = map[string]any{"id": "usr_1", "x": []int{1}} // an object added later
			writeJSON(w, 200, p)
		case "/v1/prospects":
			p := prospectJSON("prs_2", "bob@example.com")
			p["status"] = "archived"
			writeJSON(w, 200, map[string]any{"object": "list", "data": []any{p}, "has_more": false, "url": "/v1/prospects", "next_page": nil})
		default:
			writeJSON(w, 422, map[string]any{"error": map[string]any{
				"type": "invalid_request_error", "code": "prospect_locked", // a code added later
				"message": "The prospect is locked by an import.", "param": "id",
				"request_id": "req_new", "doc_url": "https://api.example.com/docs#error-prospect_locked",
				"decline_code": "import_running", // a field added later
			}, "hint": "try later"})
		}
	})
	c := fastClient(srv.URL)
	ctx := context.Background()

	p, err := c.Prospects.Get(ctx, "prs_1")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "prs_1" || p.Status != "nurturing" || p.Email != "ada@example.com" {
		t.Fatalf("prospect from a newer server decoded as %+v", p)
	}
	var seen []client.ProspectStatus
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, p.Status)
	}
	if len(seen) != 1 || seen[0] != "archived" {
		t.Fatalf("list from a newer server decoded statuses %q", seen)
	}

	_, err = c.Prospects.Delete(ctx, "prs_locked")
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *client.Error, got %T %v", err, err)
	}
	if e.Code != "prospect_locked" || e.Type != client.ErrorTypeInvalidRequestError || e.StatusCode != 422 ||
		e.Param != "id" || e.RequestID != "req_new" || !strings.Contains(e.Message, "locked") {
		t.Fatalf("error from a newer server decoded as %+v", e)
	}
	if !errors.Is(err, client.ErrInvalidRequest) || client.IsRetryable(err) {
		t.Fatalf("an unknown code must still be handled by its type and status: %+v", e)
	}
}

func TestNewNeedsABaseURL(t *testing.T) {
	t.Setenv(client.BaseURLEnv, "")
	_, err := client.New("sk_test").Account.Get(context.Background())
	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIConnectionError || e.Attempts != 0 || client.IsRetryable(err) ||
		!strings.Contains(e.Message, "WithBaseURL") || !strings.Contains(e.Message, "CAPTURE_URL") {
		t.Fatalf("want a non-retryable error naming WithBaseURL and CAPTURE_URL, got %+v", e)
	}
}

func TestNewReadsTheBaseURLFromTheEnvironment(t *testing.T) {
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 200, "prs_1")
	})
	t.Setenv(client.BaseURLEnv, srv.URL+"/from-env")
	if _, err := client.New("sk_test").Prospects.Get(context.Background(), "prs_1"); err != nil {
		t.Fatal(err)
	}
	// An option wins over the environment.
	if _, err := client.New("sk_test", client.WithBaseURL(srv.URL)).Prospects.Get(context.Background(), "prs_1"); err != nil {
		t.Fatal(err)
	}
	if got := []string{srv.requests[0].URL.Path, srv.requests[1].URL.Path}; got[0] != "/from-env/v1/prospects/prs_1" || got[1] != "/v1/prospects/prs_1" {
		t.Fatalf("paths = %q", got)
	}
}

// A prospect encodes back to JSON as the API sent it: the fields the API sends
// as null are null again.
func TestProspectEncodesAsTheAPISendsIt(t *testing.T) {
	in := prospectJSON("prs_1", "ada@example.com")
	in["first_name"], in["consent_at"] = "Ada", 1700000000
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var p client.Prospect
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.FirstName != "Ada" || p.Title != "" || p.ConsentAt != 1700000000 {
		t.Fatalf("decoded %+v", p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("re-encoded\n%s\nwant\n%s", out, b)
	}
}

// A deletion's event names its object deleted_prospect, as the contract's
// discriminator has it; servers before the discriminator sent prospect. Both
// decode, as do key roles and error types added later.
func TestDeletionEventsAndNewEnumValuesDecode(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Request-Id", "req_new")
		deletion := func(object string) map[string]any {
			return map[string]any{"id": "evt_1", "object": "event", "type": "prospect.deleted", "created": 1,
				"data":    map[string]any{"object": map[string]any{"id": "prs_1", "object": object, "deleted": true}},
				"request": map[string]any{"id": "req_1", "idempotency_key": nil}}
		}
		switch r.URL.Path {
		case "/v1/events/evt_old":
			writeJSON(w, 200, deletion("prospect"))
		case "/v1/events/evt_new":
			writeJSON(w, 200, deletion("deleted_prospect"))
		case "/v1/account":
			writeJSON(w, 200, map[string]any{"id": "acct_1", "object": "account", "name": "Acme", "prospect_limit": 10,
				"prospect_count": 1, "rate_limit": 100, "key_id": "key_1", "role": "auditor"}) // a role added later
		default:
			writeJSON(w, 409, map[string]any{"error": map[string]any{
				"type": "conflict_error", "code": "prospect_locked", // a type added later
				"message": "Locked.", "request_id": "req_new", "doc_url": "https://api.example.com/docs#error-prospect_locked",
			}})
		}
	})
	c := fastClient(srv.URL)
	ctx := context.Background()

	for id, object := range map[string]string{"evt_old": "prospect", "evt_new": "deleted_prospect"} {
		e, err := c.Events.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if e.Data.Object.ID != "prs_1" || e.Data.Object.Object != object {
			t.Errorf("%s: data.object decoded as %+v", id, e.Data.Object)
		}
	}
	a, err := c.Account.Get(ctx)
	if err != nil || a.Role != "auditor" {
		t.Fatalf("account with a new role: %+v, %v", a, err)
	}
	_, err = c.Prospects.Get(ctx, "prs_locked")
	e := asError(t, err)
	if e.Type != "conflict_error" || e.Code != "prospect_locked" || e.StatusCode != 409 {
		t.Fatalf("error of a new type decoded as %+v", e)
	}
}
