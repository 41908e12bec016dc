package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// TestOddRequests drives requests that are easy to get wrong; every answer also
// passes the contract check of apitest.
func TestOddRequests(t *testing.T) {
	s := apitest.New(t)
	k := s.StandardKey
	url := s.URL + "/v1/prospects"

	t.Run("trailing data after the JSON body", func(t *testing.T) {
		for _, body := range []string{`{"email": "a@example.com"} trailing`, `{"email": "a@example.com"}{"email": "b@example.com"}`} {
			res, b := do(t, "POST", url, k, "application/json", body)
			wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeBodyInvalidJson, "")
		}
	})
	t.Run("escaped slash in an id", func(t *testing.T) {
		res, b := do(t, "GET", url+"/%2F", k, "", "")
		if res.StatusCode != 404 {
			t.Errorf("status %d: %s", res.StatusCode, b)
		}
	})
	t.Run("HEAD answers like GET without a body", func(t *testing.T) {
		for _, path := range []string{"/v1/account", "/healthz"} {
			res, b := do(t, "HEAD", s.URL+path, k, "", "")
			if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("Request-Id") == "" {
				t.Errorf("HEAD %s: %d, %d bytes", path, res.StatusCode, len(b))
			}
		}
	})
	t.Run("a specific q=0 beats a wildcard", func(t *testing.T) {
		res, b := do(t, "GET", s.URL+"/v1/account", k, "", "", "Accept", "application/json;q=0, */*;q=0.5")
		wantError(t, res, b, 406, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeNotAcceptable, "")
	})
	t.Run("probes answer whatever the Accept", func(t *testing.T) {
		if res, _ := do(t, "GET", s.URL+"/healthz", "", "", "", "Accept", "text/plain"); res.StatusCode != 200 {
			t.Errorf("/healthz with Accept: text/plain: %d", res.StatusCode)
		}
	})
	t.Run("unknown query parameter", func(t *testing.T) {
		res, b := do(t, "GET", url+"?limt=5", k, "", "")
		wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterUnknown, "limt")
	})
	t.Run("a single-valued parameter given twice", func(t *testing.T) {
		res, b := do(t, "GET", url+"?limit=5&limit=6", k, "", "")
		wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "limit")
	})
	t.Run("Bearer without a key", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.URL+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer ")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantError(t, res, b, 401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyMissing, "")
	})
	t.Run("an update cannot grow metadata past 50 keys", func(t *testing.T) {
		fifty := func(prefix string) string {
			var kv []string
			for i := range 50 {
				kv = append(kv, fmt.Sprintf(`"%s%d": "v"`, prefix, i))
			}
			return "{" + strings.Join(kv, ",") + "}"
		}
		p := create(t, s.Client(t, k), gen.ProspectCreate{Email: "meta@example.com"})
		res, b := do(t, "PATCH", url+"/"+p.Id, k, "application/json", `{"metadata": `+fifty("a")+`}`)
		if res.StatusCode != 200 {
			t.Fatalf("50 keys: %d %s", res.StatusCode, b)
		}
		res, b = do(t, "PATCH", url+"/"+p.Id, k, "application/json", `{"metadata": `+fifty("b")+`}`)
		wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "metadata")
		// Replacing keys stays within the limit: remove one, add one.
		if res, b := do(t, "PATCH", url+"/"+p.Id, k, "application/json", `{"metadata": {"a0": "", "c": "v"}}`); res.StatusCode != 200 {
			t.Errorf("swap a key: %d %s", res.StatusCode, b)
		}
	})
	t.Run("metadata keys count characters", func(t *testing.T) {
		key := strings.Repeat("é", 40) // 80 bytes, 40 characters
		res, b := do(t, "POST", url, k, "application/json", `{"email": "utf8@example.com", "metadata": {"`+key+`": "v"}}`)
		if res.StatusCode != 201 {
			t.Errorf("40-character key: %d %s", res.StatusCode, b)
		}
	})
}

// TestIdempotencyDoesNotCrossRoles: a replay never shows a standard key what an
// admin key was answered.
func TestIdempotencyDoesNotCrossRoles(t *testing.T) {
	s := apitest.New(t)
	body := `{"email": "secret@example.com", "hidden": true}`
	res, b := do(t, "POST", s.URL+"/v1/prospects", s.AdminKey, "application/json", body, "Idempotency-Key", "shared")
	if res.StatusCode != 201 {
		t.Fatalf("admin create: %d %s", res.StatusCode, b)
	}
	res, b = do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", body, "Idempotency-Key", "shared")
	if res.StatusCode == 201 || strings.Contains(string(b), "secret@example.com") {
		t.Fatalf("the standard key got the admin's answer: %d %s", res.StatusCode, b)
	}
	wantError(t, res, b, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")
}

// TestHiddenDuplicateKeepsItsID: a standard key learns that the email is taken,
// not the id of a prospect it may not see.
func TestHiddenDuplicateKeepsItsID(t *testing.T) {
	s := apitest.New(t)
	hidden := create(t, s.Client(t, s.AdminKey), gen.ProspectCreate{Email: "vip@example.com", Hidden: ptr(true)})
	res, b := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "vip@example.com"}`)
	d := wantError(t, res, b, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email")
	if d.ExistingId != nil || strings.Contains(string(b), hidden.Id) {
		t.Errorf("the standard key learned the hidden prospect's id: %s", b)
	}
	res, b = do(t, "POST", s.URL+"/v1/prospects", s.AdminKey, "application/json", `{"email": "vip@example.com"}`)
	if d := wantError(t, res, b, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email"); d.ExistingId == nil || *d.ExistingId != hidden.Id {
		t.Errorf("admin key: existing_id %v, want %s", d.ExistingId, hidden.Id)
	}
}

// TestSlowBodyMeetsTheDeadline: a client trickling its body in gets 504 at the
// deadline, not whenever it finishes.
func TestSlowBodyMeetsTheDeadline(t *testing.T) {
	s := apitest.New(t, func(c *server.Config) { c.RequestTimeout = 300 * time.Millisecond })
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"email": "`)
		for range 40 { // 4 s of trickle, far past the deadline
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(pw, "a"); err != nil {
				return
			}
		}
		io.WriteString(pw, `@example.com"}`)
		pw.Close()
	}()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", s.URL+"/v1/prospects", pr)
	req.Header.Set("Authorization", "Bearer "+s.StandardKey)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantError(t, res, b, 504, gen.ErrorTypeApiError, gen.ErrorCodeTimeout, "")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("answered after %v; the deadline is 300ms", elapsed)
	}
}

func TestMetricsMethodLabelIsBounded(t *testing.T) {
	s := apitest.New(t)
	for i := range 3 {
		do(t, fmt.Sprintf("INVENTED%d", i), s.URL+"/anywhere", "", "", "")
	}
	_, b := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
	if strings.Contains(string(b), "INVENTED") {
		t.Error("client-invented methods became metric labels")
	}
	if !strings.Contains(string(b), `method="OTHER"`) {
		t.Error(`no method="OTHER" series`)
	}
}

// TestNULRefused: text holding U+0000 is refused with the field's name on
// every engine (PostgreSQL's text cannot hold it), nothing is stored, and an
// id holding it names nothing.
func TestNULRefused(t *testing.T) { onEachEngine(t, testNULRefused) }

func testNULRefused(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	k := s.AdminKey
	p := create(t, s.Client(t, k), gen.ProspectCreate{Email: "kept@example.com", FirstName: ptr("Kept")})
	refused := []struct{ method, path, body, param string }{
		{"POST", "/v1/prospects", `{"email": "a@example.com", "first_name": "a\u0000b"}`, "first_name"},
		{"POST", "/v1/prospects", `{"email": "a@example.com", "tags": ["ok", "\u0000"]}`, "tags[1]"},
		{"POST", "/v1/prospects", `{"email": "a@example.com", "metadata": {"k": "v\u0000"}}`, "metadata.k"},
		{"POST", "/v1/prospects", `{"email": "a@example.com", "metadata": {"k\u0000": "v"}}`, "metadata.k\x00"},
		{"PATCH", "/v1/prospects/" + p.Id, `{"company": "\u0000"}`, "company"},
		{"PATCH", "/v1/prospects/" + p.Id, `{"metadata": {"\u0000": "v"}}`, "metadata.\x00"},
		{"GET", "/v1/prospects?tag=a%00b", "", "tag"},
		{"GET", "/v1/prospects?email=a%00@example.com", "", "email"},
		{"GET", "/v1/prospects?starting_after=prs_%00", "", "starting_after"},
		{"GET", "/v1/prospects?ending_before=prs_%00", "", "ending_before"},
		{"GET", "/v1/events?starting_after=evt_%00", "", "starting_after"},
		{"POST", "/v1/webhook_endpoints", `{"url": "https://example.com/h", "enabled_events": ["*"], "description": "\u0000"}`, "description"},
	}
	for _, c := range refused {
		contentType := ""
		if c.body != "" {
			contentType = "application/json"
		}
		res, b := do(t, c.method, s.URL+c.path, k, contentType, c.body)
		e := wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, c.param)
		if !strings.Contains(e.Message, "U+0000") {
			t.Errorf("%s %s: message %q does not say why", c.method, c.path, e.Message)
		}
	}
	res, b := do(t, "POST", s.URL+"/v1/prospects/batch", k, "application/json",
		`{"prospects": [{"email": "b@example.com", "title": "\u0000"}, {"email": "c@example.com"}]}`)
	var batch struct {
		Data []struct {
			Error *gen.ErrorDetail
		}
	}
	if err := json.Unmarshal(b, &batch); err != nil || res.StatusCode != 200 || len(batch.Data) != 2 ||
		batch.Data[0].Error == nil || batch.Data[0].Error.Param == nil || *batch.Data[0].Error.Param != "prospects[0].title" ||
		batch.Data[1].Error != nil {
		t.Errorf("batch: %d %s", res.StatusCode, b)
	}

	for _, path := range []string{"/v1/prospects/prs_%00", "/v1/events/evt_%00", "/v1/webhook_endpoints/we_%00"} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			if path == "/v1/events/evt_%00" && method != "GET" {
				continue
			}
			body, contentType := "", ""
			if method == "PATCH" {
				body, contentType = `{"disabled": true}`, "application/json"
				if strings.HasPrefix(path, "/v1/prospects") {
					body = `{"first_name": "x"}`
				}
			}
			res, b := do(t, method, s.URL+path, k, contentType, body)
			wantError(t, res, b, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
		}
	}

	// Nothing refused was stored, and the prospect patched is as it was.
	list, err := s.Client(t, k).ListProspectsWithResponse(context.Background(), &gen.ListProspectsParams{})
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v", err)
	}
	var emails []string
	for _, q := range list.JSON200.Data {
		emails = append(emails, string(q.Email))
		if q.Id == p.Id && (!q.Company.IsNull() || len(q.Metadata) != 0) {
			t.Errorf("refused patch changed the prospect: %+v", q)
		}
	}
	if fmt.Sprint(emails) != "[c@example.com kept@example.com]" {
		t.Errorf("stored %v, want the batch's valid item and the first prospect", emails)
	}
}
