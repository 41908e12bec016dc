package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/captureapi/capture/internal/apitest"
)

// These tests drive headless Chromium through a page on another origin that
// posts to a form: a plain HTML form, and a fetch() form whose JSON post needs
// CORS. Without Chromium they skip, unless CAPTURE_REQUIRE_BROWSER is set (as
// server/docs's browser tests do).

// chromium finds the browser or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CAPTURE_REQUIRE_BROWSER") != "" {
		t.Fatal("Chromium is not installed and CAPTURE_REQUIRE_BROWSER is set (install Debian's chromium package)")
	}
	t.Skip("Chromium is not installed (install Debian's chromium package to run the browser tests)")
	return ""
}

// browser starts headless Chromium with a fresh profile, for the test's length.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, for as long as ctx lives
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// within bounds the browser's steps of one check.
func within(t *testing.T, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// text is what the page shows in the element sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// title is the page's title.
func title(t *testing.T, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// formPage serves the two forms a site would paste, posting to submitURL.
// The plain form carries the page's utm_* query parameters in hidden fields.
func formPage(submitURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		var hidden strings.Builder
		for _, k := range []string{"utm_source", "utm_medium", "utm_campaign"} {
			if v := r.URL.Query().Get(k); v != "" {
				fmt.Fprintf(&hidden, `<input type="hidden" name="%s" value="%s">`, k, html.EscapeString(v))
			}
		}
		fmt.Fprintf(w, `<!doctype html><title>Sign up</title>
<form method="post" action="%s">
  <input name="email" type="email" required> <input name="first_name">
  <label><input type="checkbox" name="marketing_consent"> Keep me posted</label>
  <input type="text" name="_gotcha" style="display:none" tabindex="-1" autocomplete="off">
  %s<input type="hidden" name="page_url" value="%s">
  <button type="submit">Sign up</button>
</form>`, submitURL, hidden.String(), html.EscapeString("http://"+r.Host+r.URL.String()))
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Sign up</title>
<form id="signup"><input name="email" type="email" required> <button type="submit">Sign up</button></form>
<p id="result"></p>
<script>
document.getElementById('signup').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = document.getElementById('result');
  try {
    const fields = Object.fromEntries(new FormData(e.target));
    fields.page_url = location.href;
    const res = await fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(fields)});
    out.textContent = 'status ' + res.status;
  } catch (err) {
    out.textContent = 'failed: ' + err;
  }
  out.dataset.done = 'yes';
});
</script>`, submitURL)
	})
	return mux
}

// screenshot saves the page to $CAPTURE_ARTIFACTS, when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CAPTURE_ARTIFACTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserSubmitsForms(t *testing.T) {
	ctx := browser(t)
	s := apitest.New(t)
	allowed := httptest.NewUnstartedServer(nil)
	other := httptest.NewUnstartedServer(nil) // the same page on an origin the form does not allow
	origin := "http://" + allowed.Listener.Addr().String()
	f := newForm(t, s, `{"name": "Browser", "allowed_origins": ["`+origin+`"], "defaults": {"source": "web_form"}}`)
	submitURL := s.URL + f.SubmitUrl
	allowed.Config.Handler, other.Config.Handler = formPage(submitURL), formPage(submitURL)
	allowed.Start()
	other.Start()
	defer allowed.Close()
	defer other.Close()

	t.Run("plain form", func(t *testing.T) {
		ctx := within(t, ctx)
		err := chromedp.Do(ctx,
			chromedp.Navigate(allowed.URL+"/plain?utm_source=newsletter&utm_campaign=spring"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
			chromedp.SendKeys(chromedp.CSS(`input[name=first_name]`), "Ada"),
			chromedp.Click(chromedp.CSS(`input[name=marketing_consent]`)),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`h1`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "form-plain-thank-you.png")
		if got := title(t, ctx); got != "Thank you" {
			t.Fatalf("the plain form ended on %q (%s), want the thank-you page", got, text(t, ctx, "body"))
		}
		p := prospectByEmail(t, s, "ada@example.com")
		if p == nil || p.Attribution == nil || deref(p.Attribution.FirstTouch.UtmSource) != "newsletter" ||
			deref(p.Attribution.FirstTouch.UtmCampaign) != "spring" || !strings.HasPrefix(deref(p.Attribution.FirstTouch.PageUrl), allowed.URL) ||
			!p.MarketingConsent || p.FirstName.MustGet() != "Ada" {
			t.Fatalf("the plain form's prospect: %+v", p)
		}
	})

	t.Run("fetch form from an allowed origin", func(t *testing.T) {
		ctx := within(t, ctx)
		result := fetchForm(t, ctx, allowed.URL, "grace@example.com")
		screenshot(t, ctx, "form-fetch-allowed.png")
		if result != "status 201" {
			t.Fatalf("the fetch form: %q, want status 201", result)
		}
		if prospectByEmail(t, s, "grace@example.com") == nil {
			t.Fatal("the fetch form made no prospect")
		}
	})

	t.Run("fetch form from another origin", func(t *testing.T) {
		before := len(submissions(t, s, f.Id, "?limit=100"))
		ctx := within(t, ctx)
		result := fetchForm(t, ctx, other.URL, "eve@example.com")
		screenshot(t, ctx, "form-fetch-refused.png")
		if !strings.HasPrefix(result, "failed: TypeError") {
			t.Fatalf("the fetch form on another origin: %q, want the browser's CORS failure", result)
		}
		if n := len(submissions(t, s, f.Id, "?limit=100")); n != before || prospectByEmail(t, s, "eve@example.com") != nil {
			t.Fatalf("a refused origin's submission was stored (%d submissions, %d before)", n, before)
		}
	})

	t.Run("honeypot", func(t *testing.T) {
		ctx := within(t, ctx)
		err := chromedp.Do(ctx,
			chromedp.Navigate(allowed.URL+"/plain"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "bot@example.com"),
			chromedp.SetValue(chromedp.CSS(`input[name=_gotcha]`), "http://spam.example"),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`h1`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := title(t, ctx); got != "Thank you" {
			t.Fatalf("a bot's post ended on %q, want the same thank-you page", got)
		}
		l := submissions(t, s, f.Id, "?limit=1")
		if l[0].Status != "quarantined" || strings.Join(l[0].Reasons, ",") != "honeypot" || prospectByEmail(t, s, "bot@example.com") != nil {
			t.Fatalf("the honeypot's submission: %+v", l[0])
		}
	})
}

// fetchForm submits the fetch form of the page at origin and returns what the page reports.
func fetchForm(t *testing.T, ctx context.Context, origin, email string) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(origin+"/fetch"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(`#result[data-done]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return text(t, ctx, "#result")
}
