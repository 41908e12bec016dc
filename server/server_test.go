package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// wantError checks an error answer: status, type, code, param and the request id.
func wantError(t *testing.T, res *http.Response, body []byte, status int, typ gen.ErrorType, code gen.ErrorCode, param string) gen.ErrorDetail {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e gen.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not the error object: %v: %s", err, body)
	}
	d := e.Error
	if d.Type != typ || d.Code != code {
		t.Errorf("type/code = %s/%s, want %s/%s (message %q)", d.Type, d.Code, typ, code, d.Message)
	}
	gotParam := ""
	if d.Param != nil {
		gotParam = *d.Param
	}
	if gotParam != param {
		t.Errorf("param = %q, want %q (message %q)", gotParam, param, d.Message)
	}
	if d.Message == "" {
		t.Error("empty message")
	}
	if !strings.HasPrefix(d.RequestId, "req_") || d.RequestId != res.Header.Get("Request-Id") {
		t.Errorf("request_id %q, Request-Id header %q", d.RequestId, res.Header.Get("Request-Id"))
	}
	if !strings.HasSuffix(d.DocUrl, "#error-"+string(code)) {
		t.Errorf("doc_url %q does not point at %s", d.DocUrl, code)
	}
	return d
}

// send sends a raw request, for the malformed requests a generated client cannot
// make; it is safe to call from any goroutine.
func send(method, url, key, contentType, body string, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// do is send on the test's goroutine, failing the test on a transport error.
func do(t *testing.T, method, url, key, contentType, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	res, b, err := send(method, url, key, contentType, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func create(t testing.TB, c *gen.ClientWithResponses, body gen.ProspectCreate) *gen.Prospect {
	t.Helper()
	res, err := c.CreateProspectWithResponse(context.Background(), nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON201 == nil {
		t.Fatalf("create: status %d: %s", res.StatusCode(), res.Body)
	}
	return res.JSON201
}

func ptr[T any](v T) *T { return &v }

func TestProspectLifecycle(t *testing.T) { onEachEngine(t, testProspectLifecycle) }

func testProspectLifecycle(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	ctx := context.Background()

	p := create(t, c, gen.ProspectCreate{Email: "Ada@Example.com", FirstName: ptr("Ada"),
		Tags: &gen.Tags{"vip"}, Metadata: &gen.Metadata{"plan": "pro"}, MarketingConsent: ptr(true)})
	if p.Email != "ada@example.com" || p.Status != gen.ProspectStatusNew || !strings.HasPrefix(p.Id, "prs_") {
		t.Errorf("created %+v", p)
	}
	if !p.ConsentAt.IsSpecified() || p.ConsentAt.IsNull() {
		t.Error("consent_at not set with marketing_consent")
	}

	got, err := c.GetProspectWithResponse(ctx, p.Id)
	if err != nil || got.JSON200 == nil || got.JSON200.Id != p.Id {
		t.Fatalf("get: %v %s", err, got.Body)
	}

	// PATCH: null clears, absent leaves alone, metadata merges.
	res, err := c.UpdateProspectWithBodyWithResponse(ctx, p.Id, nil, "application/json",
		strings.NewReader(`{"first_name": null, "company": "Analytical Engines", "metadata": {"plan": "", "seats": "3"}, "status": "qualified"}`))
	if err != nil || res.JSON200 == nil {
		t.Fatalf("update: %v %s", err, res.Body)
	}
	u := res.JSON200
	if !u.FirstName.IsNull() || u.Company.MustGet() != "Analytical Engines" || u.Status != gen.ProspectStatusQualified {
		t.Errorf("after update: %+v", u)
	}
	if len(u.Metadata) != 1 || u.Metadata["seats"] != "3" || len(u.Tags) != 1 {
		t.Errorf("metadata/tags after update: %v %v", u.Metadata, u.Tags)
	}

	del, err := c.DeleteProspectWithResponse(ctx, p.Id)
	if err != nil || del.JSON200 == nil || !bool(del.JSON200.Deleted) {
		t.Fatalf("delete: %v %s", err, del.Body)
	}
	// A deleted email is free again.
	create(t, c, gen.ProspectCreate{Email: "ada@example.com"})
}

func TestBadRequest(t *testing.T) {
	s := apitest.New(t)
	url := s.URL + "/v1/prospects"
	k := s.StandardKey
	cases := []struct {
		name, contentType, body string
		code                    gen.ErrorCode
		param                   string
	}{
		{"malformed JSON", "application/json", `{"email": "a@example.com"`, gen.ErrorCodeBodyInvalidJson, ""},
		{"not an object", "application/json", `["a@example.com"]`, gen.ErrorCodeBodyInvalidJson, ""},
		{"missing email", "application/json", `{"first_name": "Ada"}`, gen.ErrorCodeParameterMissing, "email"},
		{"empty body", "application/json", ``, gen.ErrorCodeParameterMissing, ""},
		{"invalid email", "application/json", `{"email": "not-an-email"}`, gen.ErrorCodeParameterInvalid, "email"},
		{"quoted email", "application/json", `{"email": "\"ada lovelace\"@example.com"}`, gen.ErrorCodeParameterInvalid, "email"},
		{"dotless email domain", "application/json", `{"email": "ada@localhost"}`, gen.ErrorCodeParameterInvalid, "email"},
		{"bad status", "application/json", `{"email": "a@example.com", "status": "hot"}`, gen.ErrorCodeParameterInvalid, "status"},
		{"bad tag", "application/json", `{"email": "a@example.com", "tags": ["ok", 3]}`, gen.ErrorCodeParameterInvalid, "tags[1]"},
		{"bad metadata value", "application/json", `{"email": "a@example.com", "metadata": {"plan": 1}}`, gen.ErrorCodeParameterInvalid, "metadata.plan"},
		{"long metadata key", "application/json", `{"email": "a@example.com", "metadata": {"` + strings.Repeat("k", 41) + `": "v"}}`, gen.ErrorCodeParameterInvalid, "metadata." + strings.Repeat("k", 41)},
		{"unknown field", "application/json", `{"email": "a@example.com", "nickname": "Ada"}`, gen.ErrorCodeParameterUnknown, "nickname"},
		{"wrong content type", "text/plain", `{"email": "a@example.com"}`, gen.ErrorCodeContentTypeInvalid, ""},
		{"too large", "application/json", `{"email": "a@example.com", "source": "` + strings.Repeat("x", server.MaxBodyBytes) + `"}`, gen.ErrorCodeBodyTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, "POST", url, k, tc.contentType, tc.body)
			wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, tc.code, tc.param)
			if tc.param == "email" && tc.code == gen.ErrorCodeParameterInvalid && !strings.Contains(string(body), "must be a valid email address") {
				t.Errorf("the message does not say what a valid email is: %s", body)
			}
		})
	}
	t.Run("query parameter", func(t *testing.T) {
		res, body := do(t, "GET", url+"?limit=101", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "limit")
		res, body = do(t, "GET", url+"?created_gte=yesterday", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "created_gte")
		res, body = do(t, "GET", url+"?created_gte=9999999999999", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "created_gte")
		res, body = do(t, "GET", url+"?created_lte=253402300800", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "created_lte")
		res, body = do(t, "GET", s.URL+"/v1/events?created_lte=9999999999999", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "created_lte")
		res, body = do(t, "GET", url+"?starting_after=prs_a&ending_before=prs_b", k, "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "ending_before")
	})
	t.Run("nothing stored", func(t *testing.T) {
		res, err := s.Client(t, k).ListProspectsWithResponse(context.Background(), nil)
		if err != nil || res.JSON200 == nil || len(res.JSON200.Data) != 0 {
			t.Fatalf("bad requests stored something: %v %s", err, res.Body)
		}
	})
}

func TestUnauthorized(t *testing.T) { onEachEngine(t, testUnauthorized) }

func testUnauthorized(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	url := s.URL + "/v1/account"
	check := func(res *http.Response, body []byte, code gen.ErrorCode) {
		t.Helper()
		wantError(t, res, body, 401, gen.ErrorTypeAuthenticationError, code, "")
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		if strings.Contains(string(body), s.StandardKey) {
			t.Error("error body repeats the secret")
		}
	}
	res, body := do(t, "GET", url, "", "", "")
	check(res, body, gen.ErrorCodeApiKeyMissing)
	res, body = do(t, "GET", url, "sk_"+strings.Repeat("x", 40), "", "")
	check(res, body, gen.ErrorCodeApiKeyInvalid)

	// Basic auth with the key as user name works, as with curl -u sk_…:
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(s.StandardKey, "")
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("basic auth: %v %v", err, r.Status)
	}
	r.Body.Close()

	acct, _ := s.Store.AccountByName(context.Background(), "acme")
	k, secret, err := s.Store.CreateKey(context.Background(), acct.ID, store.RoleStandard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	res, body = do(t, "GET", url, secret, "", "")
	check(res, body, gen.ErrorCodeApiKeyRevoked)
}

func TestPlanLimit(t *testing.T) { onEachEngine(t, testPlanLimit) }

func testPlanLimit(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.NewAccountKey(t, "tiny", "standard", 2))
	create(t, c, gen.ProspectCreate{Email: "a@example.com"})
	second := create(t, c, gen.ProspectCreate{Email: "b@example.com"})
	res, err := c.CreateProspectWithResponse(context.Background(), nil, gen.ProspectCreate{Email: "c@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res.HTTPResponse, res.Body, 402, gen.ErrorTypeInvalidRequestError, gen.ErrorCodePlanLimitReached, "")
	// At the limit, an email already taken is still the conflict, with the
	// prospect that has it: a retried create learns that it landed.
	res, err = c.CreateProspectWithResponse(context.Background(), nil, gen.ProspectCreate{Email: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	d := wantError(t, res.HTTPResponse, res.Body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email")
	if d.ExistingId == nil || *d.ExistingId != second.Id {
		t.Errorf("existing_id = %v, want %s", d.ExistingId, second.Id)
	}
	// Deleting frees a place in the plan, and the refused create left nothing
	// behind: its email is free.
	if _, err := c.DeleteProspectWithResponse(context.Background(), second.Id); err != nil {
		t.Fatal(err)
	}
	create(t, c, gen.ProspectCreate{Email: "c@example.com"})
}

func TestHidden(t *testing.T) { onEachEngine(t, testHidden) }

func testHidden(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	admin, standard := s.Client(t, s.AdminKey), s.Client(t, s.StandardKey)
	hidden := create(t, admin, gen.ProspectCreate{Email: "secret@example.com", Hidden: ptr(true)})
	visible := create(t, standard, gen.ProspectCreate{Email: "open@example.com"})

	res, _ := standard.GetProspectWithResponse(ctx, hidden.Id)
	wantError(t, res.HTTPResponse, res.Body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectHidden, "id")
	upd, _ := standard.UpdateProspectWithResponse(ctx, hidden.Id, nil, gen.ProspectUpdate{Status: ptr(gen.ProspectStatusContacted)})
	wantError(t, upd.HTTPResponse, upd.Body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectHidden, "id")
	del, _ := standard.DeleteProspectWithResponse(ctx, hidden.Id)
	wantError(t, del.HTTPResponse, del.Body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectHidden, "id")

	cr, _ := standard.CreateProspectWithResponse(ctx, nil, gen.ProspectCreate{Email: "x@example.com", Hidden: ptr(true)})
	wantError(t, cr.HTTPResponse, cr.Body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "hidden")
	upd, _ = standard.UpdateProspectWithResponse(ctx, visible.Id, nil, gen.ProspectUpdate{Hidden: ptr(true)})
	wantError(t, upd.HTTPResponse, upd.Body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "hidden")

	list := func(c *gen.ClientWithResponses) []string {
		res, err := c.ListProspectsWithResponse(ctx, nil)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v", err)
		}
		var ids []string
		for _, p := range res.JSON200.Data {
			ids = append(ids, p.Id)
		}
		return ids
	}
	if ids := list(standard); len(ids) != 1 || ids[0] != visible.Id {
		t.Errorf("standard key lists %v, want only %s", ids, visible.Id)
	}
	if ids := list(admin); len(ids) != 2 {
		t.Errorf("admin key lists %v, want both", ids)
	}
	if g, _ := admin.GetProspectWithResponse(ctx, hidden.Id); g.JSON200 == nil || !g.JSON200.Hidden {
		t.Errorf("admin get hidden: %s", g.Body)
	}
}

// TestListAnswersWhatGetAnswers: a listed prospect is, value for value, the one
// GET answers, however odd its strings; SQLite writes a list's prospects in
// its query and each one GET answers in Go.
func TestListAnswersWhatGetAnswers(t *testing.T) { onEachEngine(t, testListAnswersWhatGetAnswers) }

func testListAnswersWhatGetAnswers(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	odd := []string{`quote " back\slash /`, "<b>fish & chips</b>", "line\nbreak\ttab\u0001soh\u001fus\u007fdel",
		"sep\u2028para\u2029", "Zoë 東京 🚀 e\u0301", "\ufffd"}
	for i, text := range odd {
		body, err := json.Marshal(map[string]any{"email": fmt.Sprintf("p%d@example.com", i), "first_name": text,
			"company": text, "source": text, "tags": []string{text, "t"}, "metadata": map[string]string{"k" + text: text, "a": "b"},
			"marketing_consent": i%2 == 0, "hidden": i%3 == 0})
		if err != nil {
			t.Fatal(err)
		}
		if res, b := do(t, "POST", s.URL+"/v1/prospects", s.AdminKey, "application/json", string(body)); res.StatusCode != 201 {
			t.Fatalf("create %q: %d %s", text, res.StatusCode, b)
		}
	}
	res, b := do(t, "GET", s.URL+"/v1/prospects?limit=100", s.AdminKey, "", "")
	var list struct{ Data []map[string]any }
	if err := json.Unmarshal(b, &list); err != nil || res.StatusCode != 200 || len(list.Data) != len(odd) {
		t.Fatalf("list: %d %v, %d prospects: %s", res.StatusCode, err, len(list.Data), b)
	}
	for _, listed := range list.Data {
		res, b := do(t, "GET", s.URL+"/v1/prospects/"+listed["id"].(string), s.AdminKey, "", "")
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || res.StatusCode != 200 {
			t.Fatalf("get: %d %v: %s", res.StatusCode, err, b)
		}
		if !reflect.DeepEqual(listed, got) {
			t.Errorf("listed %v\nget    %v", listed, got)
		}
	}
}

func TestNotFoundAndGone(t *testing.T) { onEachEngine(t, testNotFoundAndGone) }

func testNotFoundAndGone(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	c := s.Client(t, s.StandardKey)

	res, _ := c.GetProspectWithResponse(ctx, "prs_doesnotexist")
	wantError(t, res.HTTPResponse, res.Body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")

	// Another account's prospect is unknown, not forbidden.
	other := create(t, s.Client(t, s.NewAccountKey(t, "globex", "admin", 10)), gen.ProspectCreate{Email: "hank@globex.com"})
	res, _ = c.GetProspectWithResponse(ctx, other.Id)
	wantError(t, res.HTTPResponse, res.Body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	del, _ := c.DeleteProspectWithResponse(ctx, other.Id)
	wantError(t, del.HTTPResponse, del.Body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")

	p := create(t, c, gen.ProspectCreate{Email: "gone@example.com"})
	if d, _ := c.DeleteProspectWithResponse(ctx, p.Id); d.StatusCode() != 200 {
		t.Fatalf("delete: %s", d.Body)
	}
	res, _ = c.GetProspectWithResponse(ctx, p.Id)
	wantError(t, res.HTTPResponse, res.Body, 410, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceGone, "id")
	upd, _ := c.UpdateProspectWithResponse(ctx, p.Id, nil, gen.ProspectUpdate{Status: ptr(gen.ProspectStatusContacted)})
	wantError(t, upd.HTTPResponse, upd.Body, 410, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceGone, "id")
	del, _ = c.DeleteProspectWithResponse(ctx, p.Id)
	wantError(t, del.HTTPResponse, del.Body, 410, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceGone, "id")

	r, body := do(t, "GET", s.URL+"/v2/prospects", s.StandardKey, "", "")
	wantError(t, r, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeRouteNotFound, "")
	r, body = do(t, "GET", s.URL+"/v1/leads", "", "", "")
	wantError(t, r, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeRouteNotFound, "")
}

func TestMethodNotAllowed(t *testing.T) {
	s := apitest.New(t)
	for path, allow := range map[string]string{
		"/v1/prospects":         "GET, HEAD, POST",
		"/v1/prospects/prs_abc": "GET, HEAD, PATCH, DELETE",
		"/v1/account":           "GET, HEAD",
		"/docs/":                "GET, HEAD", // pages the API's router does not know
		"/openapi.yaml":         "GET, HEAD",
	} {
		res, body := do(t, "PUT", s.URL+path, s.StandardKey, "application/json", `{}`)
		wantError(t, res, body, 405, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeMethodNotAllowed, "")
		if got := res.Header.Get("Allow"); got != allow {
			t.Errorf("PUT %s: Allow = %q, want %q", path, got, allow)
		}
	}
	// A concrete path comes before a templated one for every method, as in
	// OpenAPI: batch is no prospect id.
	for _, method := range []string{"GET", "PATCH", "DELETE"} {
		res, body := do(t, method, s.URL+"/v1/prospects/batch", s.StandardKey, "application/json", `{}`)
		wantError(t, res, body, 405, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeMethodNotAllowed, "")
		if got := res.Header.Get("Allow"); got != "POST" {
			t.Errorf("%s /v1/prospects/batch: Allow = %q, want POST", method, got)
		}
	}
}

func TestNotAcceptable(t *testing.T) {
	s := apitest.New(t)
	url := s.URL + "/v1/account"
	for _, accept := range []string{"text/html", "application/xml, text/*;q=0.9", "application/json;q=0"} {
		res, body := do(t, "GET", url, s.StandardKey, "", "", "Accept", accept)
		wantError(t, res, body, 406, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeNotAcceptable, "")
	}
	for _, accept := range []string{"application/json", "*/*", "application/*", "text/html, application/json;q=0.5", "application/json; charset=utf-8"} {
		if res, body := do(t, "GET", url, s.StandardKey, "", "", "Accept", accept); res.StatusCode != 200 {
			t.Errorf("Accept %q: %d %s", accept, res.StatusCode, body)
		}
	}
}

func TestConflictCarriesExistingID(t *testing.T) { onEachEngine(t, testConflictCarriesExistingID) }

func testConflictCarriesExistingID(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	first := create(t, c, gen.ProspectCreate{Email: "dup@example.com"})
	res, _ := c.CreateProspectWithResponse(context.Background(), nil, gen.ProspectCreate{Email: "DUP@example.com"})
	d := wantError(t, res.HTTPResponse, res.Body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email")
	if d.ExistingId == nil || *d.ExistingId != first.Id {
		t.Errorf("existing_id = %v, want %s", d.ExistingId, first.Id)
	}
	// Changing another prospect's email to a taken one is the same conflict.
	second := create(t, c, gen.ProspectCreate{Email: "other@example.com"})
	upd, _ := c.UpdateProspectWithBodyWithResponse(context.Background(), second.Id, nil, "application/json",
		strings.NewReader(`{"email": "dup@example.com"}`))
	d = wantError(t, upd.HTTPResponse, upd.Body, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email")
	if d.ExistingId == nil || *d.ExistingId != first.Id {
		t.Errorf("existing_id = %v, want %s", d.ExistingId, first.Id)
	}
}

// faultyStore is the real SQLite store with one method made to fail as a bug or a
// stuck query would.
type faultyStore struct {
	*sqlite.DB
	panicOnGet bool
	hangOnList bool
}

func (f *faultyStore) Prospect(ctx context.Context, accountID, id string) (*store.Prospect, error) {
	if f.panicOnGet {
		panic("index out of range")
	}
	return f.DB.Prospect(ctx, accountID, id)
}

// ListProspectsJSON is the list the server runs on SQLite (ProspectJSONLister).
func (f *faultyStore) ListProspectsJSON(ctx context.Context, accountID string, p store.ListParams) ([]json.RawMessage, bool, error) {
	if f.hangOnList {
		<-ctx.Done() // a query that only the deadline ends
		return nil, false, ctx.Err()
	}
	return f.DB.ListProspectsJSON(ctx, accountID, p)
}

func TestPanicIsInternalError(t *testing.T) {
	s := apitest.New(t, func(c *server.Config) {
		c.Store = &faultyStore{DB: c.Store.(*sqlite.DB), panicOnGet: true}
	})
	res, body := do(t, "GET", s.URL+"/v1/prospects/prs_any", s.StandardKey, "", "")
	wantError(t, res, body, 500, gen.ErrorTypeApiError, gen.ErrorCodeInternalError, "")
	if strings.Contains(string(body), "index out of range") || strings.Contains(string(body), "goroutine") {
		t.Errorf("500 leaks the panic: %s", body)
	}
}

func TestDeadlineIsGatewayTimeout(t *testing.T) {
	s := apitest.New(t, func(c *server.Config) {
		c.Store = &faultyStore{DB: c.Store.(*sqlite.DB), hangOnList: true}
		c.RequestTimeout = 100 * time.Millisecond
	})
	start := time.Now()
	res, body := do(t, "GET", s.URL+"/v1/prospects", s.StandardKey, "", "")
	wantError(t, res, body, 504, gen.ErrorTypeApiError, gen.ErrorCodeTimeout, "")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("504 after %v: the deadline did not cancel the work", elapsed)
	}
}

func TestHealth(t *testing.T) {
	s := apitest.New(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res, body := do(t, "GET", s.URL+path, "", "", ""); res.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
		// Documented as their 400: the probes refuse unknown query parameters too.
		res, body := do(t, "GET", s.URL+path+"?verbose=1", "", "", "")
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterUnknown, "verbose")
	}
}

// TestRevocationReachesARunningServer: key lookups are cached for KeyCacheTTL, so a
// revoked key that was just used stops working within it.
func TestRevocationReachesARunningServer(t *testing.T) {
	onEachEngine(t, testRevocationReachesARunningServer)
}

func testRevocationReachesARunningServer(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, func(c *server.Config) { c.KeyCacheTTL = 200 * time.Millisecond })
	ctx := context.Background()
	if res, _ := do(t, "GET", s.URL+"/v1/account", s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("before revocation: %d", res.StatusCode)
	}
	k, err := s.Store.KeyBySecret(ctx, s.StandardKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	var res *http.Response
	var body []byte
	poll.Until(t, time.Second, "the revoked key to be refused", func() (bool, string) {
		res, body = do(t, "GET", s.URL+"/v1/account", s.StandardKey, "", "")
		return res.StatusCode == 401, fmt.Sprintf("GET /v1/account answers %d", res.StatusCode)
	})
	wantError(t, res, body, 401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyRevoked, "")
}
