package docs_test

import (
	"bytes"
	"context"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
)

// These tests load the reference page and the console in headless Chromium,
// so that what they check is what a person sees: the reference page with
// JavaScript turned off, and the console once Swagger UI has fetched
// /openapi.json and rendered it, Markdown table and all. Chromium renders in
// virtual time: the budget lets the page's scripts run to quiescence (network
// fetches pause the clock) before the DOM is dumped or the screenshot taken.
//
// Without Chromium on PATH they skip, unless CAPTURE_REQUIRE_BROWSER is set,
// in which case they fail: CI sets it so that a missing browser cannot pass
// silently.

const (
	windowWidth  = 1280
	windowHeight = 1600
)

// chromiumPath finds the browser or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CAPTURE_REQUIRE_BROWSER") != "" {
		t.Fatal("Chromium is not on PATH and CAPTURE_REQUIRE_BROWSER is set (install Debian's chromium package)")
	}
	t.Skip("Chromium is not on PATH (install Debian's chromium package to run the browser tests)")
	return ""
}

// runChromium runs headless Chromium on url with the extra flags and returns
// what it printed on stdout.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	profile, err := os.MkdirTemp("", "capture-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })

	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-quic", "--no-first-run",
		"--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile,
		"--virtual-time-budget=30000",
		"--window-size=" + strconv.Itoa(windowWidth) + "," + strconv.Itoa(windowHeight),
		"--hide-scrollbars", "--run-all-compositor-stages-before-draw",
	}
	args = append(args, extra...)
	args = append(args, url)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, lastLines(stderr.String(), 20))
	}
	return stdout.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	scriptOrStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>`)
	anyTag        = regexp.MustCompile(`<[^>]*>`)
	tableRow      = regexp.MustCompile(`(?is)<tr\b([^>]*)>(.*?)</tr>`)
	spaces        = regexp.MustCompile(`\s+`)
)

// visibleText is the text of an HTML fragment, without scripts and styles,
// with runs of white space made one space.
func visibleText(h string) string {
	h = scriptOrStyle.ReplaceAllString(h, " ")
	h = anyTag.ReplaceAllString(h, "")
	return spaces.ReplaceAllString(html.UnescapeString(h), " ")
}

// row is one rendered table row: its attributes and its text.
type row struct{ attrs, text string }

func tableRows(dom string) []row {
	var rows []row
	for _, m := range tableRow.FindAllStringSubmatch(dom, -1) {
		rows = append(rows, row{attrs: m[1], text: visibleText(m[2])})
	}
	return rows
}

// scriptsOff serves h with JavaScript turned off: a Content-Security-Policy
// that lets no script run. (Chromium's own switch, the Blink setting
// scriptEnabled=false, also stops the DOM dump and the screenshot.)
func scriptsOff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Content-Security-Policy", "script-src 'none'")
		h.ServeHTTP(w, r)
	})
}

func TestBrowserRendersConsole(t *testing.T) {
	bin := chromiumPath(t)
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()

	dom := string(runChromium(t, bin, srv.URL+docs.ConsolePath, "--dump-dom"))
	text := visibleText(dom)

	for _, want := range []string{
		"Capture API",
		"/v1/prospects", "/v1/prospects/{id}",
		"Create a prospect", "List prospects", "Retrieve a prospect",
		"Update a prospect", "Delete a prospect",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page does not show %q", want)
		}
	}

	// The error table must be a real table, with the status, its meaning,
	// the type and the codes in one row, and no Markdown left over.
	if strings.Contains(text, "|---|") {
		t.Error("the error table is shown as Markdown source, not rendered")
	}
	rows := tableRows(dom)
	for _, want := range [][]string{
		{"400", "Bad Request", "invalid_request_error", "parameter_invalid", "body_invalid_json"},
		{"401", "Unauthorized", "authentication_error", "api_key_missing"},
		{"402", "Request Failed", "plan_limit_reached"},
		{"403", "Forbidden", "prospect_hidden"},
		{"404", "Not Found", "resource_missing", "route_not_found"},
		{"405", "Method Not Allowed", "method_not_allowed"},
		{"406", "Not Acceptable", "not_acceptable"},
		{"409", "Conflict", "invalid_request_error", "idempotency_key_in_use", "prospect_exists"},
		{"410", "Gone", "resource_gone"},
		{"429", "Too Many Requests", "rate_limit_error", "rate_limit"},
		{"500", "Internal Server Error", "api_error", "internal_error"},
		{"502", "Bad Gateway", "bad_gateway"},
		{"503", "Service Unavailable", "maintenance", "storage_unavailable"},
		{"504", "Gateway Timeout", "timeout"},
	} {
		if !anyRowHasAll(rows, want) {
			t.Errorf("no rendered table row shows all of %q", want)
		}
	}

	if t.Failed() {
		t.Logf("rendered text:\n%s", text)
	}
}

func anyRowHasAll(rows []row, want []string) bool {
	for _, r := range rows {
		all := true
		for _, w := range want {
			if !strings.Contains(r.text, w) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func TestBrowserReadsReferenceWithoutJavaScript(t *testing.T) {
	bin := chromiumPath(t)
	srv := httptest.NewServer(scriptsOff(docs.Handler()))
	defer srv.Close()
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}

	dom := string(runChromium(t, bin, srv.URL+docs.ErrorURL("prospect_exists"), "--dump-dom"))
	text := visibleText(dom)
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(text, method+" "+path+" "+op.Summary) {
				t.Errorf("the page without JavaScript does not show %q", method+" "+path+" "+op.Summary)
			}
		}
	}
	codes, _ := spec.Components.Schemas["ErrorCode"].Value.Extensions["x-extensible-enum"].([]any)
	if len(codes) == 0 {
		t.Fatal("no ErrorCode x-extensible-enum in the spec")
	}
	for _, c := range codes {
		fragment := strings.TrimPrefix(docs.ErrorURL(c.(string)), docs.Path+"#")
		if !strings.Contains(dom, `id="`+fragment+`"`) {
			t.Errorf("no element with id %q in the page without JavaScript", fragment)
		}
	}
	for _, want := range []string{"prospect_exists", "409 Conflict", "existing_id", "What to do"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page without JavaScript does not show %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered text:\n%s", text)
	}
}

func TestBrowserScreenshot(t *testing.T) {
	bin := chromiumPath(t)
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()
	noJS := httptest.NewServer(scriptsOff(docs.Handler()))
	defer noJS.Close()

	dir := os.Getenv("CAPTURE_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "capture-artifacts-"); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{
		"docs-nojs.png":    noJS.URL + docs.Path,
		"docs-console.png": srv.URL + docs.ConsolePath,
	} {
		file := filepath.Join(dir, name)
		os.Remove(file)
		runChromium(t, bin, url, "--screenshot="+file)
		checkScreenshot(t, file)
		t.Logf("screenshot of %s: %s", url, file)
	}
}

// checkScreenshot fails the test unless file is a PNG of the window's size
// with something drawn on it.
func checkScreenshot(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", file, err)
	}
	if b := img.Bounds(); b.Dx() != windowWidth || b.Dy() != windowHeight {
		t.Errorf("screenshot %s is %dx%d, want %dx%d", file, b.Dx(), b.Dy(), windowWidth, windowHeight)
	}
	if n := distinctColours(img, 16); n < 16 {
		t.Errorf("screenshot %s has %d colours: the page looks blank", file, n)
	}
}

// distinctColours counts the colours on a grid of points every step pixels.
func distinctColours(img image.Image, step int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}
