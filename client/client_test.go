package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
)

func TestRequestsCarryKeyAgentAndAccept(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeJSON(w, 200, map[string]any{
			"id": "acct_1", "object": "account", "name": "acme", "prospect_limit": 1000,
			"prospect_count": 3, "rate_limit": 100, "key_id": "key_1", "role": "admin",
		})
	})
	c := client.New("sk_secret", client.WithBaseURL(srv.URL), client.WithUserAgent("crm-sync/2.1"))
	a, err := c.Account.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "acme" || a.Role != client.AccountRoleAdmin || a.ProspectCount != 3 {
		t.Fatalf("account decoded wrong: %+v", a)
	}
	r := srv.requests[0]
	if got := r.Header.Get("Authorization"); got != "Bearer sk_secret" {
		t.Fatalf("Authorization = %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != "crm-sync/2.1 capture-go/"+client.Version {
		t.Fatalf("User-Agent = %q", got)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Fatalf("Accept = %q", got)
	}
	if r.URL.Path != "/v1/account" {
		t.Fatalf("path = %q", r.URL.Path)
	}
}

func TestBaseURLPathPrefixIsKept(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 200, "prs_1")
	})
	if _, err := fastClient(srv.URL+"/capture").Prospects.Get(context.Background(), "prs_1"); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests[0].URL.Path; got != "/capture/v1/prospects/prs_1" {
		t.Fatalf("path = %q", got)
	}
}

func TestInvalidBaseURLFailsEveryCall(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"127.0.0.1:8080", "ftp://example.com", "http://[::1"} {
		_, err := client.New("sk_test", client.WithBaseURL(u)).Account.Get(context.Background())
		e := asError(t, err)
		if e.Type != client.ErrorTypeAPIConnectionError || e.Attempts != 0 || client.IsRetryable(err) || !strings.Contains(e.Message, "invalid base URL") {
			t.Fatalf("%s: want a non-retryable api_connection_error about the base URL, got %+v", u, e)
		}
	}
}

func TestCreateSendsOnlyTheGivenFields(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 201, "prs_1")
	})
	_, err := fastClient(srv.URL).Prospects.Create(context.Background(), client.ProspectCreateParams{
		Email:     "ada@example.com",
		FirstName: "Ada",
		Tags:      []string{"vip"},
		Metadata:  client.Metadata{"plan": "pro"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(srv.bodies[0]), &body); err != nil {
		t.Fatal(err)
	}
	want := `{"email":"ada@example.com","first_name":"Ada","metadata":{"plan":"pro"},"tags":["vip"]}`
	if got, _ := json.Marshal(body); string(got) != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if ct := srv.requests[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestUpdateSendsNullToClear(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 200, "prs_1")
	})
	_, err := fastClient(srv.URL).Prospects.Update(context.Background(), "prs_1", client.ProspectUpdateParams{
		Company: client.Set("Analytical Engines"),
		Phone:   client.Null[string](),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(srv.bodies[0]), `{"company":"Analytical Engines","phone":null}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if r := srv.requests[0]; r.Method != http.MethodPatch || r.URL.Path != "/v1/prospects/prs_1" {
		t.Fatalf("sent %s %s", r.Method, r.URL.Path)
	}
}

// Every update field is set one way, so that false and "" can be sent as
// values; fields left zero are not sent.
func TestUpdateSendsFalseAndEmptyValuesThatWereSet(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 200, "prs_1")
	})
	_, err := fastClient(srv.URL).Prospects.Update(context.Background(), "prs_1", client.ProspectUpdateParams{
		Status:           client.Set(client.ProspectStatusContacted),
		MarketingConsent: client.Set(false),
		Title:            client.Set(""),
		Tags:             client.Null[[]string](),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(srv.bodies[0]), `{"marketing_consent":false,"status":"contacted","tags":null,"title":""}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
}

func TestListSendsTheGivenFilters(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{}, "has_more": false, "url": "/v1/prospects"})
	})
	_, err := fastClient(srv.URL).Prospects.ListPage(context.Background(), client.ProspectListParams{
		Limit: 25, StartingAfter: "prs_a/b", Email: "ada@example.com", Status: client.ProspectStatusQualified,
		Tag: "web inar", CreatedGTE: 1700000000, CreatedLTE: 1800000000,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "created_gte=1700000000&created_lte=1800000000&email=ada%40example.com&limit=25&starting_after=prs_a%2Fb&status=qualified&tag=web+inar"
	if got := srv.requests[0].URL.RawQuery; got != want {
		t.Fatalf("query = %s, want %s", got, want)
	}
	if _, err := fastClient(srv.URL).Prospects.ListPage(context.Background(), client.ProspectListParams{}); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests[1].URL.RawQuery; got != "" {
		t.Fatalf("zero params sent the query %q", got)
	}
}

func TestInvalidEmailIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 201, "prs_1")
	})
	c := fastClient(srv.URL)
	_, err := c.Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "not an email"})
	e := asError(t, err)
	if e.Type != client.ErrorTypeInvalidRequestError || e.Code != client.ErrorCodeParameterInvalid || e.Param != "email" || e.StatusCode != 0 {
		t.Fatalf("want invalid_request_error parameter_invalid on email, got %+v", e)
	}
	_, err = c.Prospects.Create(context.Background(), client.ProspectCreateParams{})
	if e := asError(t, err); e.Code != client.ErrorCodeParameterMissing || e.Param != "email" || client.IsRetryable(err) {
		t.Fatalf("want parameter_missing on email, got %+v", e)
	}
	_, err = c.Prospects.Update(context.Background(), "prs_1", client.ProspectUpdateParams{Email: client.Set("Ada <ada@example.com>")})
	if e := asError(t, err); e.Code != client.ErrorCodeParameterInvalid || e.Param != "email" || client.IsRetryable(err) {
		t.Fatalf("want parameter_invalid on an update's email, got %+v", e)
	}
	if srv.count() != 0 {
		t.Fatal("nothing should have been sent")
	}
}

func TestEmptyIDIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 200, "prs_1")
	})
	c := fastClient(srv.URL)
	ctx := context.Background()
	_, errGet := c.Prospects.Get(ctx, "")
	_, errUpdate := c.Prospects.Update(ctx, "", client.ProspectUpdateParams{})
	_, errDelete := c.Prospects.Delete(ctx, "")
	for _, err := range []error{errGet, errUpdate, errDelete} {
		if e := asError(t, err); e.Code != client.ErrorCodeParameterMissing || e.Param != "id" {
			t.Fatalf("want parameter_missing on id, got %+v", e)
		}
	}
	if srv.count() != 0 {
		t.Fatal("nothing should have been sent")
	}
}

func TestUndecodableSuccessIsAPIErrorNotRetried(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": 42`))
	})
	_, err := fastClient(srv.URL).Prospects.Get(context.Background(), "prs_1")
	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIError || e.StatusCode != 200 || srv.count() != 1 || e.Err == nil {
		t.Fatalf("want one attempt ending in api_error with the decoding cause, got %+v", e)
	}
}

func TestErrorMatching(t *testing.T) {
	t.Parallel()
	err := error(&client.Error{
		Type: client.ErrorTypeInvalidRequestError, Code: client.ErrorCodeResourceMissing, StatusCode: 404,
		Message: "No such prospect: 'prs_1'.", Param: "id", RequestID: "req_1",
	})
	wrapped := fmt.Errorf("loading the lead: %w", err)
	for _, target := range []error{
		client.ErrNotFound, client.ErrInvalidRequest,
		&client.Error{StatusCode: 404},
		&client.Error{Type: client.ErrorTypeInvalidRequestError, Code: client.ErrorCodeResourceMissing},
	} {
		if !errors.Is(wrapped, target) {
			t.Errorf("errors.Is(err, %v) = false, want true", target)
		}
	}
	for _, target := range []error{
		client.ErrGone, client.ErrConnection, client.ErrAPI, &client.Error{},
		&client.Error{Code: client.ErrorCodeResourceMissing, StatusCode: 410},
	} {
		if errors.Is(wrapped, target) {
			t.Errorf("errors.Is(err, %v) = true, want false", target)
		}
	}
	if got, want := err.Error(), "capture: 404 resource_missing: No such prospect: 'prs_1'. (param id, request req_1)"; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
	if client.IsRetryable(wrapped) || client.IsRetryable(errors.New("plain")) || client.IsRetryable(nil) {
		t.Error("only retryable *Errors are retryable")
	}
	if !client.IsRetryable(fmt.Errorf("x: %w", &client.Error{Type: client.ErrorTypeRateLimitError, StatusCode: 429})) {
		t.Error("a 429 is retryable")
	}
}

func TestResponseReportsReplay(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("RateLimit", `"default";r=99;t=1`)
		writeProspect(w, 201, "prs_1")
	})
	var resp client.Response
	_, err := fastClient(srv.URL).Prospects.Create(context.Background(),
		client.ProspectCreateParams{Email: "ada@example.com"}, client.WithIdempotencyKey("k1"), client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Replayed || resp.StatusCode != 201 || resp.RequestID != "req_ok_prs_1" || resp.Attempts != 1 ||
		resp.IdempotencyKey != "k1" || resp.Header.Get("RateLimit") == "" {
		t.Fatalf("Response = %+v", resp)
	}
}

// pagedServer serves total prospects, newest (prs_<total>) first, honouring
// limit, starting_after and ending_before like the real API.
func pagedServer(t *testing.T, total int, failOnPage int) *fakeServer {
	ids := make([]string, total) // newest first
	for i := range ids {
		ids[i] = fmt.Sprintf("prs_%03d", total-i)
	}
	return newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == failOnPage {
			writeAPIError(w, 400, "invalid_request_error", "parameter_invalid", "starting_after: no such prospect")
			return
		}
		q := r.URL.Query()
		limit := 10
		if l := q.Get("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
		}
		var lo, hi int
		if a := q.Get("starting_after"); a != "" {
			lo = indexOf(ids, a) + 1
			hi = min(lo+limit, len(ids))
		} else if b := q.Get("ending_before"); b != "" {
			hi = indexOf(ids, b)
			lo = max(hi-limit, 0)
		} else {
			hi = min(limit, len(ids))
		}
		more := hi < len(ids)
		if q.Get("ending_before") != "" {
			more = lo > 0
		}
		data := []any{}
		for _, id := range ids[lo:hi] {
			data = append(data, prospectJSON(id, id+"@example.com"))
		}
		writeJSON(w, 200, map[string]any{"object": "list", "data": data, "has_more": more, "url": "/v1/prospects"})
	})
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

func TestListWalksEveryPage(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, 25, 0)
	var got []string
	for p, err := range fastClient(srv.URL).Prospects.List(context.Background(), client.ProspectListParams{Limit: 10, Status: client.ProspectStatusNew}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if len(got) != 25 || got[0] != "prs_025" || got[24] != "prs_001" {
		t.Fatalf("want prs_025 … prs_001, got %v", got)
	}
	var cursors []string
	for _, r := range srv.requests {
		cursors = append(cursors, r.URL.Query().Get("starting_after"))
		if r.URL.Query().Get("status") != "new" || r.URL.Query().Get("limit") != "10" {
			t.Fatalf("every page must keep the filters, sent %s", r.URL.RawQuery)
		}
	}
	if strings.Join(cursors, ",") != ",prs_016,prs_006" {
		t.Fatalf("want pages after nothing, prs_016, prs_006; got %q", cursors)
	}
}

func TestListStopsFetchingWhenTheLoopBreaks(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, 25, 0)
	n := 0
	for _, err := range fastClient(srv.URL).Prospects.List(context.Background(), client.ProspectListParams{Limit: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 7 {
			break
		}
	}
	if srv.count() != 2 {
		t.Fatalf("7 prospects in pages of 5 need 2 pages, fetched %d", srv.count())
	}
}

func TestListEndingBeforeWalksTowardsNewest(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, 25, 0)
	var got []string
	for p, err := range fastClient(srv.URL).Prospects.List(context.Background(), client.ProspectListParams{Limit: 10, EndingBefore: "prs_005"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if len(got) != 20 || got[0] != "prs_006" || got[19] != "prs_025" {
		t.Fatalf("want prs_006 … prs_025, got %v", got)
	}
}

func TestListYieldsPageErrorOnceAndStops(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, 25, 2)
	var ids []string
	var errs []error
	for p, err := range fastClient(srv.URL).Prospects.List(context.Background(), client.ProspectListParams{}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, p.ID)
	}
	if len(ids) != 10 || len(errs) != 1 || srv.count() != 2 {
		t.Fatalf("want the first page, then one error, then nothing; got %d prospects, %d errors, %d requests", len(ids), len(errs), srv.count())
	}
	if e := asError(t, errs[0]); e.StatusCode != 400 || e.Code != client.ErrorCodeParameterInvalid {
		t.Fatalf("got %+v", e)
	}
}

func TestListPageReturnsOnePage(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, 25, 0)
	page, err := fastClient(srv.URL).Prospects.ListPage(context.Background(), client.ProspectListParams{Limit: 3, StartingAfter: "prs_010"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || page.Data[0].ID != "prs_009" || !page.HasMore || srv.count() != 1 {
		t.Fatalf("got %+v after %d requests", page, srv.count())
	}
}

func TestInvalidIdempotencyKeyIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, 201, "prs_1")
	})
	c := fastClient(srv.URL)
	for _, key := range []string{"line\nbreak", "clé", strings.Repeat("k", 256)} {
		_, err := c.Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"}, client.WithIdempotencyKey(key))
		e := asError(t, err)
		if e.Code != client.ErrorCodeIdempotencyKeyInvalid || e.Param != "Idempotency-Key" || e.Attempts != 0 || client.IsRetryable(err) {
			t.Fatalf("key %q: want a final idempotency_key_invalid, got %+v", key, e)
		}
	}
	if srv.count() != 0 {
		t.Fatal("nothing should have been sent")
	}
	if _, err := c.Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"}, client.WithIdempotencyKey(strings.Repeat("k", 255))); err != nil {
		t.Fatalf("a 255-character key is valid: %v", err)
	}
}
