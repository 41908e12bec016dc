package server_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// behindProxy trusts the loopback proxy to name the client in X-Forwarded-For.
func behindProxy(c *server.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// submitAs posts a submission from the client 198.51.100.7 (behind the
// trusted proxy) with the browser's User-Agent; it must be received.
func submitAs(t *testing.T, s *apitest.Server, f gen.Form, body string) {
	t.Helper()
	res, b := post(t, s.URL+f.SubmitUrl, "application/json", body,
		"X-Forwarded-For", "198.51.100.7", "User-Agent", "Quuxzilla/5.0")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d %s", res.StatusCode, b)
	}
}

// consents lists the prospect's consent ledger.
func consents(t *testing.T, s *apitest.Server, id string) []gen.Consent {
	t.Helper()
	res, b := do(t, http.MethodGet, s.URL+"/v1/prospects/"+id+"/consents", s.AdminKey, "", "")
	var l gen.ConsentList
	if err := json.Unmarshal(b, &l); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("consents: %d %s", res.StatusCode, b)
	}
	return l.Data
}

// wantFormConsent checks that the ledger's newest entry is the form's consent
// given by the client submitAs posts as.
func wantFormConsent(t *testing.T, s *apitest.Server, f gen.Form, prospectID string) {
	t.Helper()
	l := consents(t, s, prospectID)
	if len(l) == 0 {
		t.Fatal("the consent given through the form is not in the ledger")
	}
	c := l[0]
	text, _ := c.Text.Get()
	ip, _ := c.Ip.Get()
	ua, _ := c.UserAgent.Get()
	if !c.Granted || c.Source != "form:"+f.Id || text != "I agree to receive product news." || ip != "198.51.100.7" || ua != "Quuxzilla/5.0" {
		t.Errorf("the form's consent is recorded as %+v (text %q, ip %q, user_agent %q)", c, text, ip, ua)
	}
}

// TestFormLiftsSuppression: an erased email is refused by the API, but a form
// submission with it is the person's own new consent: it is accepted, the
// suppression is lifted with it, and the prospect is created.
func TestFormLiftsSuppression(t *testing.T) { onEachEngine(t, testFormLiftsSuppression) }

func testFormLiftsSuppression(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, behindProxy)
	f := newForm(t, s, webinarForm)
	res, b := do(t, http.MethodPost, s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	var p struct{ ID string }
	json.Unmarshal(b, &p)
	if res, b := do(t, http.MethodPost, s.URL+"/v1/prospects/"+p.ID+"/erase", s.AdminKey, "", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("erase: %d %s", res.StatusCode, b)
	}
	res, b = do(t, http.MethodPost, s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)
	wantError(t, res, b, http.StatusConflict, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeEmailSuppressed, "email")

	submitAs(t, s, f, `{"email": "Ada@example.com", "first_name": "Ada", "marketing_consent": "on"}`)
	l := submissions(t, s, f.Id, "")
	got := prospectByEmail(t, s, "ada@example.com")
	if len(l) != 1 || l[0].Status != "accepted" || got == nil || l[0].Prospect.MustGet() != got.Id {
		t.Fatalf("the submission is %+v, the prospect %+v", l, got)
	}
	res, b = do(t, http.MethodPost, s.URL+"/v1/suppressions/lift", s.AdminKey, "application/json", `{"email":"ada@example.com"}`)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"lifted":false`) {
		t.Errorf("the suppression is still there after the submission: %d %s", res.StatusCode, b)
	}
	wantFormConsent(t, s, f, got.Id)
}

// TestFormConsentLedger: a consent given through a form, accepted at once or
// on approval of its quarantined submission, is in the ledger with the
// form's source and wording and the submitting client's address and browser.
func TestFormConsentLedger(t *testing.T) { onEachEngine(t, testFormConsentLedger) }

func testFormConsentLedger(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, behindProxy)
	f := newForm(t, s, webinarForm)
	submitAs(t, s, f, `{"email": "ada@example.com", "marketing_consent": "true"}`)
	wantFormConsent(t, s, f, prospectByEmail(t, s, "ada@example.com").Id)

	submitAs(t, s, f, `{"email": "grace@example.com", "marketing_consent": "on", "_gotcha": "x"}`)
	q := submissions(t, s, f.Id, "?status=quarantined")
	if len(q) != 1 {
		t.Fatalf("quarantined %d submissions, want 1", len(q))
	}
	res, b := do(t, http.MethodPost, s.URL+"/v1/forms/"+f.Id+"/submissions/"+q[0].Id+"/approve", s.AdminKey, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", res.StatusCode, b)
	}
	wantFormConsent(t, s, f, prospectByEmail(t, s, "grace@example.com").Id)
}

// submitPerson has the person of capturePerson submit a form from
// 192.0.2.77 (behind the trusted proxy), and then a quarantined submission
// with the same email; another person submits it too. It returns the form.
func submitPerson(t *testing.T, s *apitest.Server) gen.Form {
	t.Helper()
	f := newForm(t, s, webinarForm)
	for _, body := range []string{
		`{"email": "Ada.Quux@example.com", "title": "Countessqux", "marketing_consent": "on",
			"utm_campaign": "Quuxcampaign", "page_url": "https://www.example.com/?who=Quuxpage"}`,
		`{"email": "ada.quux@example.com", "last_name": "Quarantinequx", "_gotcha": "x"}`,
	} {
		res, b := post(t, s.URL+f.SubmitUrl, "application/json", body,
			"X-Forwarded-For", "192.0.2.77", "User-Agent", "Quuxzilla/5.0")
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %d %s", res.StatusCode, b)
		}
	}
	res, b := post(t, s.URL+f.SubmitUrl, "application/json", `{"email": "control@example.com", "first_name": "Keepform"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d %s", res.StatusCode, b)
	}
	return f
}

// TestExportHoldsSubmissions: the export lists the person's submissions, the
// quarantined one with their email too, and not another person's.
func TestExportHoldsSubmissions(t *testing.T) { onEachEngine(t, testExportHoldsSubmissions) }

func testExportHoldsSubmissions(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, behindProxy)
	id := capturePerson(t, s)
	submitPerson(t, s)
	res, body := do(t, http.MethodGet, s.URL+"/v1/prospects/"+id+"/export", s.AdminKey, "", "")
	var x gen.ProspectExport
	if err := json.Unmarshal(body, &x); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
	if len(x.Submissions) != 2 || x.Submissions[0].Status != "quarantined" || x.Submissions[1].Status != "accepted" ||
		x.Submissions[1].Prospect.MustGet() != id || x.Submissions[1].Fields["title"] != "Countessqux" ||
		x.Submissions[1].Ip != "192.0.2.77" || x.Submissions[1].UserAgent != "Quuxzilla/5.0" {
		t.Errorf("the export's submissions: %s", body)
	}
	if held, exported := holdsPersonal(dumpTables(t, s)), holdsPersonal(string(body)); len(exported) != len(held) {
		t.Errorf("the database holds %v about the person, the export %v", held, exported)
	}
}

// TestHiddenProspectsSubmissionEvents: the form_submission.created events of
// a hidden prospect, earlier and later ones, are for admin keys only, like
// its other events; shown again, standard keys see them again.
func TestHiddenProspectsSubmissionEvents(t *testing.T) {
	onEachEngine(t, testHiddenProspectsSubmissionEvents)
}

func testHiddenProspectsSubmissionEvents(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	f := newForm(t, s, webinarForm)
	submitted := func(key string) int {
		n := 0
		for _, e := range listEvents(t, s, key, "?limit=100") {
			if e["type"] == "form_submission.created" {
				n++
			}
		}
		return n
	}
	submitAs(t, s, f, `{"email": "ada@example.com"}`)
	p := prospectByEmail(t, s, "ada@example.com")
	if res, b := do(t, http.MethodPatch, s.URL+"/v1/prospects/"+p.Id, s.AdminKey, "application/json", `{"hidden":true}`); res.StatusCode != http.StatusOK {
		t.Fatalf("hide: %d %s", res.StatusCode, b)
	}
	submitAs(t, s, f, `{"email": "ada@example.com", "company": "Analytical"}`)
	submitAs(t, s, f, `{"email": "ada@example.com", "_gotcha": "x"}`)
	q := submissions(t, s, f.Id, "?status=quarantined")
	if res, b := do(t, http.MethodPost, s.URL+"/v1/forms/"+f.Id+"/submissions/"+q[0].Id+"/approve", s.AdminKey, "", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", res.StatusCode, b)
	}
	if n := submitted(s.StandardKey); n != 0 {
		t.Errorf("a standard key lists %d submission events of the hidden prospect", n)
	}
	if n := submitted(s.AdminKey); n != 3 {
		t.Errorf("an admin key lists %d submission events, want 3", n)
	}
	if res, b := do(t, http.MethodPatch, s.URL+"/v1/prospects/"+p.Id, s.AdminKey, "application/json", `{"hidden":false}`); res.StatusCode != http.StatusOK {
		t.Fatalf("show: %d %s", res.StatusCode, b)
	}
	if n := submitted(s.StandardKey); n != 3 {
		t.Errorf("shown again, a standard key lists %d submission events, want 3", n)
	}
}
