package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
)

// noRedirects is a client that shows a 303 instead of following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends a submission without a key.
func post(t *testing.T, target, contentType, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// newForm creates a form through the API.
func newForm(t *testing.T, s *apitest.Server, body string) gen.Form {
	t.Helper()
	res, b := do(t, http.MethodPost, s.URL+"/v1/forms", s.AdminKey, "application/json", body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create form: %d %s", res.StatusCode, b)
	}
	var f gen.Form
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// submissions lists a form's submissions.
func submissions(t *testing.T, s *apitest.Server, formID, query string) []gen.FormSubmission {
	t.Helper()
	res, b := do(t, http.MethodGet, s.URL+"/v1/forms/"+formID+"/submissions"+query, s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("list submissions: %d %s", res.StatusCode, b)
	}
	var l gen.FormSubmissionList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.Data
}

// prospectByEmail is the live prospect with the email, read as the API answers it.
func prospectByEmail(t *testing.T, s *apitest.Server, email string) *gen.Prospect {
	t.Helper()
	res, b := do(t, http.MethodGet, s.URL+"/v1/prospects?email="+url.QueryEscape(email), s.AdminKey, "", "")
	var l gen.ProspectList
	if err := json.Unmarshal(b, &l); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", res.StatusCode, b)
	}
	if len(l.Data) == 0 {
		return nil
	}
	return &l.Data[0]
}

const webinarForm = `{"name": "Spring webinar", "allowed_origins": ["https://www.example.com"],
	"redirect_url": "https://www.example.com/thanks", "defaults": {"source": "web_form", "tags": ["webinar"]},
	"consent_text": "I agree to receive product news."}`

func TestFormsCRUD(t *testing.T) { onEachEngine(t, testFormsCRUD) }

func testFormsCRUD(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	f := newForm(t, s, `{"name": "Demo", "allowed_origins": ["https://www.example.com"], "captcha": {"provider": "turnstile", "secret": "sekrit"}}`)
	if !strings.HasPrefix(f.Id, "frm_") || f.SubmitUrl != "/v1/forms/"+f.Id+"/submissions" || f.Disabled {
		t.Fatalf("created form: %+v", f)
	}
	res, b := do(t, http.MethodGet, s.URL+"/v1/forms/"+f.Id, s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK || bytes.Contains(b, []byte("sekrit")) || !bytes.Contains(b, []byte(`"captcha":{"provider":"turnstile"}`)) {
		t.Fatalf("get: %d %s", res.StatusCode, b)
	}
	res, b = do(t, http.MethodGet, s.URL+"/v1/forms", s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(f.Id)) || bytes.Contains(b, []byte("sekrit")) {
		t.Fatalf("list: %d %s", res.StatusCode, b)
	}
	res, b = do(t, http.MethodPatch, s.URL+"/v1/forms/"+f.Id, s.AdminKey, "application/json", `{"disabled": true, "captcha": null}`)
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"disabled":true`)) || bytes.Contains(b, []byte(`"captcha"`)) {
		t.Fatalf("patch: %d %s", res.StatusCode, b)
	}
	res, b = post(t, s.URL+f.SubmitUrl, "application/json", `{"email": "ada@example.com"}`)
	wantError(t, res, b, http.StatusNotFound, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	res, b = do(t, http.MethodPost, s.URL+"/v1/forms", s.StandardKey, "application/json", webinarForm)
	wantError(t, res, b, http.StatusForbidden, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "")
	res, b = do(t, http.MethodPost, s.URL+"/v1/forms", s.AdminKey, "application/json", `{"name": "x", "allowed_origins": ["https://a.example/"]}`)
	wantError(t, res, b, http.StatusBadRequest, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "allowed_origins[0]")
	res, b = do(t, http.MethodDelete, s.URL+"/v1/forms/"+f.Id, s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", res.StatusCode, b)
	}
	res, b = do(t, http.MethodGet, s.URL+"/v1/forms/"+f.Id, s.AdminKey, "", "")
	wantError(t, res, b, http.StatusNotFound, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
}

func TestFormSubmissions(t *testing.T) { onEachEngine(t, testFormSubmissions) }

func testFormSubmissions(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	f := newForm(t, s, webinarForm)
	target := s.URL + f.SubmitUrl
	origin := "https://www.example.com"

	// A fetch from the allowed origin: 201 with CORS, the prospect created with its attribution.
	res, b := post(t, target, "application/json", `{"email": "Ada@Example.com", "first_name": "Ada", "marketing_consent": true,
		"utm_source": "newsletter", "utm_campaign": "spring", "page_url": "https://www.example.com/webinar", "plan": "pro"}`, "Origin", origin)
	if res.StatusCode != http.StatusCreated || res.Header.Get("Access-Control-Allow-Origin") != origin || res.Header.Get("Vary") != "Origin" {
		t.Fatalf("submit: %d %v %s", res.StatusCode, res.Header, b)
	}
	var receipt gen.FormSubmissionReceipt
	if err := json.Unmarshal(b, &receipt); err != nil || !strings.HasPrefix(receipt.Id, "fsub_") || receipt.Received != true {
		t.Fatalf("receipt: %s", b)
	}
	p := prospectByEmail(t, s, "ada@example.com")
	if p == nil || p.Attribution == nil || deref(p.Attribution.FirstTouch.UtmSource) != "newsletter" || p.Attribution.FirstTouch.Form != f.Id ||
		p.Source.MustGet() != "web_form" || p.Tags[0] != "webinar" || p.Metadata["plan"] != "pro" || !p.MarketingConsent {
		t.Fatalf("prospect: %+v", p)
	}
	do(t, http.MethodPatch, s.URL+"/v1/prospects/"+p.Id, s.AdminKey, "application/json", `{"status": "qualified", "tags": ["vip"]}`)

	// The same person again, as a plain HTML form post: 303 to redirect_url, the prospect updated.
	form := url.Values{"email": {"ada@example.com"}, "last_name": {"Lovelace"}, "utm_source": {"ads"}, "team": {"r&d"}}
	res, b = post(t, target, "application/x-www-form-urlencoded", form.Encode(), "Accept", "text/html,application/xhtml+xml,*/*;q=0.8", "Origin", origin)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://www.example.com/thanks" {
		t.Fatalf("plain post: %d %v %s", res.StatusCode, res.Header, b)
	}
	p2 := prospectByEmail(t, s, "ada@example.com")
	if p2.Id != p.Id || p2.LastName.MustGet() != "Lovelace" || p2.FirstName.MustGet() != "Ada" || string(p2.Status) != "qualified" ||
		strings.Join(p2.Tags, ",") != "vip,webinar" || p2.Metadata["plan"] != "pro" || p2.Metadata["team"] != "r&d" ||
		deref(p2.Attribution.FirstTouch.UtmSource) != "newsletter" || deref(p2.Attribution.LastTouch.UtmSource) != "ads" {
		t.Fatalf("updated prospect: %+v", p2)
	}

	// A multipart post without files is a submission; with a file, 400.
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("email", "grace@example.com")
	w.Close()
	if res, b = post(t, target, w.FormDataContentType(), mp.String()); res.StatusCode != http.StatusCreated {
		t.Fatalf("multipart: %d %s", res.StatusCode, b)
	}
	mp.Reset()
	w = multipart.NewWriter(&mp)
	w.WriteField("email", "grace@example.com")
	fw, _ := w.CreateFormFile("cv", "cv.pdf")
	fw.Write([]byte("%PDF"))
	w.Close()
	res, b = post(t, target, w.FormDataContentType(), mp.String())
	wantError(t, res, b, http.StatusBadRequest, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "cv")

	// Another origin: 403 and nothing stored; to a plain post, the same as an HTML page.
	before := len(submissions(t, s, f.Id, "?limit=100"))
	res, b = post(t, target, "application/json", `{"email": "eve@example.com"}`, "Origin", "https://evil.example.net")
	wantError(t, res, b, http.StatusForbidden, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeOriginNotAllowed, "Origin")
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a refused origin got Access-Control-Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
	res, b = post(t, target, "application/x-www-form-urlencoded", "email=eve%40example.com", "Origin", "https://evil.example.net", "Accept", "text/html")
	if res.StatusCode != http.StatusForbidden || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte("allowed_origins")) {
		t.Fatalf("html error: %d %v %s", res.StatusCode, res.Header, b)
	}
	if after := len(submissions(t, s, f.Id, "?limit=100")); after != before || prospectByEmail(t, s, "eve@example.com") != nil {
		t.Fatalf("a refused origin's submission was kept: %d submissions, %d before", after, before)
	}
	res, b = post(t, s.URL+"/v1/forms/frm_nope/submissions", "application/json", `{"email": "a@example.com"}`)
	wantError(t, res, b, http.StatusNotFound, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")

	// The honeypot quarantines; approving makes the prospect.
	res, b = post(t, target, "application/json", `{"email": "bot@example.com", "_gotcha": "http://spam.example"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("honeypot: %d %s", res.StatusCode, b)
	}
	q := submissions(t, s, f.Id, "?status=quarantined")
	if len(q) != 1 || q[0].Status != "quarantined" || strings.Join(q[0].Reasons, ",") != "honeypot" || q[0].Prospect.IsSpecified() && !q[0].Prospect.IsNull() {
		t.Fatalf("quarantined: %+v", q)
	}
	if prospectByEmail(t, s, "bot@example.com") != nil {
		t.Fatal("a quarantined submission made a prospect")
	}
	res, b = do(t, http.MethodPost, s.URL+"/v1/forms/"+f.Id+"/submissions/"+q[0].Id+"/approve", s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"status":"accepted"`)) || prospectByEmail(t, s, "bot@example.com") == nil {
		t.Fatalf("approve: %d %s", res.StatusCode, b)
	}
	all := submissions(t, s, f.Id, "?limit=100")
	if len(all) != 4 || all[len(all)-1].Attribution.UtmSource == nil || all[len(all)-1].Ip == "" || !all[len(all)-1].ConsentText.IsSpecified() {
		t.Fatalf("submissions: %+v", all)
	}

	// Each submission recorded its event, with its verdict.
	res, b = do(t, http.MethodGet, s.URL+"/v1/events?type=form_submission.created&limit=100", s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK || bytes.Count(b, []byte(`"type":"form_submission.created"`)) != 4 || !bytes.Contains(b, []byte(`"reasons":["honeypot"]`)) {
		t.Fatalf("events: %d %s", res.StatusCode, b)
	}
}

func TestFormPreflight(t *testing.T) { onEachEngine(t, testFormPreflight) }

func testFormPreflight(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	f := newForm(t, s, webinarForm)
	preflight := func(path, origin string) (*http.Response, []byte) {
		return do(t, http.MethodOptions, s.URL+path, "", "", "", "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type")
	}
	res, b := preflight(f.SubmitUrl, "https://www.example.com")
	h := res.Header
	if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://www.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "POST" || h.Get("Access-Control-Allow-Headers") != "Content-Type" ||
		h.Get("Access-Control-Max-Age") != "600" || h.Get("Vary") != "Origin" {
		t.Fatalf("preflight: %d %v %s", res.StatusCode, h, b)
	}
	res, b = preflight(f.SubmitUrl, "https://evil.example.net")
	wantError(t, res, b, http.StatusForbidden, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeOriginNotAllowed, "Origin")
	// No other route answers a preflight with CORS.
	res, _ = preflight("/v1/prospects", "https://www.example.com")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight of /v1/prospects: %d %v", res.StatusCode, res.Header)
	}
}

func TestFormPlanLimit(t *testing.T) { onEachEngine(t, testFormPlanLimit) }

// testFormPlanLimit: at the plan's limit, a new person's submission is kept
// quarantined with plan_limit_reached, and answered 201 as any other.
func testFormPlanLimit(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	key := s.NewAccountKey(t, "tiny", "admin", 1)
	res, b := do(t, http.MethodPost, s.URL+"/v1/forms", key, "application/json", `{"name": "x", "allowed_origins": []}`)
	var f gen.Form
	if err := json.Unmarshal(b, &f); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("form: %d %s", res.StatusCode, b)
	}
	for _, email := range []string{"a@example.com", "b@example.com", "a@example.com"} {
		if res, b := post(t, s.URL+f.SubmitUrl, "application/json", `{"email": "`+email+`"}`); res.StatusCode != http.StatusCreated {
			t.Fatalf("submit %s: %d %s", email, res.StatusCode, b)
		}
	}
	res, b = do(t, http.MethodGet, s.URL+"/v1/forms/"+f.Id+"/submissions?status=quarantined", key, "", "")
	if res.StatusCode != http.StatusOK || bytes.Count(b, []byte(`"plan_limit_reached"`)) != 1 || !bytes.Contains(b, []byte("b@example.com")) {
		t.Fatalf("quarantined: %s", b)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

var _ = context.Background
