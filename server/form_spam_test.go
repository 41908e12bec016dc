package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// captchaStub is a provider's siteverify: "good" tokens pass with the right
// secret, others fail. It records what it was asked.
type captchaStub struct {
	mu    sync.Mutex
	asked []string
}

func (c *captchaStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	c.mu.Lock()
	c.asked = append(c.asked, r.PostForm.Get("secret")+" "+r.PostForm.Get("response")+" "+r.PostForm.Get("remoteip"))
	c.mu.Unlock()
	ok := r.PostForm.Get("secret") == "sekrit" && r.PostForm.Get("response") == "good"
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"success": ` + strconv.FormatBool(ok) + `}`))
}

// verdict submits and returns the submission's status and reasons, as the list shows them.
func verdict(t *testing.T, s *apitest.Server, f gen.Form, body string, header ...string) (string, string) {
	t.Helper()
	res, b := post(t, s.URL+f.SubmitUrl, "application/json", body, header...)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("submit %s: %d %s", body, res.StatusCode, b)
	}
	l := submissions(t, s, f.Id, "?limit=1")
	return l[0].Status, strings.Join(l[0].Reasons, ",")
}

func TestFormCaptcha(t *testing.T) { onEachEngine(t, testFormCaptcha) }

func testFormCaptcha(t *testing.T, newServer apitest.NewFunc) {
	stub := &captchaStub{}
	provider := httptest.NewServer(stub)
	defer provider.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // an address where nothing answers
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then net/http sees the client hang up
		<-r.Context().Done()        // answers after the verification gave up (server.CaptchaTimeout)
	}))
	defer slow.Close()
	for _, tc := range []struct {
		name, verifyURL, provider, field, token, status, reasons string
	}{
		{"turnstile passed", provider.URL, "turnstile", "cf-turnstile-response", "good", "accepted", ""},
		{"hcaptcha passed", provider.URL, "hcaptcha", "h-captcha-response", "good", "accepted", ""},
		{"failed", provider.URL, "turnstile", "cf-turnstile-response", "forged", "quarantined", "captcha_failed"},
		{"no token", provider.URL, "turnstile", "h-captcha-response", "good", "quarantined", "captcha_failed"},
		{"provider unreachable", down.URL, "hcaptcha", "h-captcha-response", "good", "quarantined", "captcha_unverified"},
		{"provider too slow", slow.URL, "turnstile", "cf-turnstile-response", "good", "quarantined", "captcha_unverified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(c *server.Config) { c.CaptchaVerifyURL = tc.verifyURL })
			f := newForm(t, s, `{"name": "c", "allowed_origins": [], "captcha": {"provider": "`+tc.provider+`", "secret": "sekrit"}}`)
			status, reasons := verdict(t, s, f, `{"email": "ada@example.com", "`+tc.field+`": "`+tc.token+`"}`)
			if status != tc.status || reasons != tc.reasons {
				t.Fatalf("verdict %s %q, want %s %q", status, reasons, tc.status, tc.reasons)
			}
			if (prospectByEmail(t, s, "ada@example.com") != nil) != (tc.status == "accepted") {
				t.Errorf("prospect exists: %v, want %v", !(tc.status == "accepted"), tc.status == "accepted")
			}
		})
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if len(stub.asked) == 0 || !strings.HasPrefix(stub.asked[0], "sekrit good 127.0.0.1") {
		t.Errorf("the provider was asked %q, want the form's secret, the token and the client's address", stub.asked)
	}
}

func TestFormDisposableEmail(t *testing.T) { onEachEngine(t, testFormDisposableEmail) }

func testFormDisposableEmail(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	f := newForm(t, s, `{"name": "d", "allowed_origins": []}`)
	if status, reasons := verdict(t, s, f, `{"email": "someone@Mailinator.com"}`); status != "quarantined" || reasons != "disposable_email" {
		t.Fatalf("a disposable domain: %s %q", status, reasons)
	}
	if status, reasons := verdict(t, s, f, `{"email": "ada@example.com", "_gotcha": "x"}`); status != "quarantined" || reasons != "honeypot" {
		t.Fatalf("the honeypot: %s %q", status, reasons)
	}
	if status, _ := verdict(t, s, f, `{"email": "grace@example.com"}`); status != "accepted" {
		t.Fatalf("an ordinary address: %s", status)
	}
}

func TestFormSubmissionLimit(t *testing.T) { onEachEngine(t, testFormSubmissionLimit) }

// testFormSubmissionLimit: each client address may submit 10 times a minute to
// a form; X-Forwarded-For names the address only behind a trusted proxy.
func testFormSubmissionLimit(t *testing.T, newServer apitest.NewFunc) {
	submit := func(s *apitest.Server, f gen.Form, forwarded string) *http.Response {
		res, b := post(t, s.URL+f.SubmitUrl, "application/json", `{"email": "ada@example.com"}`, "X-Forwarded-For", forwarded)
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("submit: %d %s", res.StatusCode, b)
		}
		if res.StatusCode == http.StatusTooManyRequests {
			wantError(t, res, b, http.StatusTooManyRequests, gen.ErrorTypeRateLimitError, gen.ErrorCodeRateLimit, "")
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
		return res
	}
	t.Run("untrusted", func(t *testing.T) {
		s := newServer(t)
		f := newForm(t, s, `{"name": "l", "allowed_origins": []}`)
		for i := range server.DefaultSubmissionsPerMinute {
			if res := submit(s, f, "198.51.100."+strconv.Itoa(i)); res.StatusCode != http.StatusCreated {
				t.Fatalf("submission %d: %d", i+1, res.StatusCode)
			}
		}
		// Another X-Forwarded-For changes nothing: the peer is not a trusted proxy.
		if res := submit(s, f, "203.0.113.9"); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the 11th submission from one peer: %d, want 429", res.StatusCode)
		}
		// Another form has a limit of its own.
		g := newForm(t, s, `{"name": "m", "allowed_origins": []}`)
		if res := submit(s, g, ""); res.StatusCode != http.StatusCreated {
			t.Fatalf("another form: %d", res.StatusCode)
		}
		if l := submissions(t, s, f.Id, "?limit=100"); len(l) != server.DefaultSubmissionsPerMinute || l[0].Ip != "127.0.0.1" {
			t.Fatalf("kept %d submissions (the first from %s), want %d from 127.0.0.1", len(l), l[0].Ip, server.DefaultSubmissionsPerMinute)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		s := newServer(t, func(c *server.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		f := newForm(t, s, `{"name": "l", "allowed_origins": []}`)
		for i := range server.DefaultSubmissionsPerMinute {
			if res := submit(s, f, "198.51.100.7, 127.0.0.2"); res.StatusCode != http.StatusCreated {
				t.Fatalf("submission %d: %d", i+1, res.StatusCode)
			}
		}
		if res := submit(s, f, "198.51.100.7"); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the 11th submission from 198.51.100.7: %d, want 429", res.StatusCode)
		}
		if res := submit(s, f, "198.51.100.8"); res.StatusCode != http.StatusCreated {
			t.Fatalf("another client behind the proxy: %d, want 201", res.StatusCode)
		}
		if l := submissions(t, s, f.Id, "?limit=1"); l[0].Ip != "198.51.100.8" {
			t.Fatalf("the submission's ip %q, want the forwarded client's", l[0].Ip)
		}
	})
}
