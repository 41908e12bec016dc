package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
)

// The binary keeps one signing secret per account in the user's configuration
// directory, readable by the user alone, and every session reuses it.
func TestWebhooksListenKeepsOneSecretPerAccount(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	config := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + config, "CAPTURE_URL=" + s.URL}
	printSecret := func(key string) string {
		t.Helper()
		out, errOut, code := runPiped(t, append(env, "CAPTURE_API_KEY="+key), "webhooks", "listen", "--print-secret")
		if code != 0 || !strings.HasPrefix(out, "whsec_") || strings.Count(out, "\n") != 1 {
			t.Fatalf("listen --print-secret: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	first := printSecret(s.StandardKey)
	if again := printSecret(s.AdminKey); again != first {
		t.Errorf("the account's admin key got %s, its standard key %s: one secret per account", again, first)
	}
	other := printSecret(s.NewAccountKey(t, "globex", "standard", 10))
	if other == first {
		t.Error("another account got the same secret")
	}
	files, _ := filepath.Glob(filepath.Join(config, "capture", "webhooks-listen", "*"))
	if len(files) != 2 {
		t.Fatalf("secret files %v, want one per account", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	// A file that holds no secret is named, with what to do.
	for _, f := range files {
		os.WriteFile(f, []byte("hello\n"), 0o600)
	}
	_, errOut, code := runPiped(t, append(env, "CAPTURE_API_KEY="+s.StandardKey), "webhooks", "listen", "--print-secret")
	if code != exitRequest || !strings.Contains(errOut, "delete it") {
		t.Errorf("a broken secret file: exit %d, stderr %q", code, errOut)
	}
}

// A kept secret that others could read or replace is refused, not used to
// sign: a receiver trusting it would trust whoever wrote or read it. The
// refusal says what to do, and never shows the secret.
func TestWebhooksListenRefusesAnExposedSecret(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows keeps no Unix modes")
	}
	t.Parallel()
	s := apitest.New(t)
	printSecret := func(config string) (string, string, int) {
		t.Helper()
		return runPiped(t, []string{"XDG_CONFIG_HOME=" + config, "CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + s.StandardKey},
			"webhooks", "listen", "--print-secret")
	}
	config := t.TempDir()
	secret, errOut, code := printSecret(config)
	if code != 0 {
		t.Fatalf("listen --print-secret: exit %d, stderr %q", code, errOut)
	}
	secret = strings.TrimSpace(secret)
	files, _ := filepath.Glob(filepath.Join(config, "capture", "webhooks-listen", "acct_*"))
	if len(files) != 1 {
		t.Fatalf("secret files %v, want one", files)
	}
	file, dir := files[0], filepath.Dir(files[0])
	refused := func(what, hint string) {
		t.Helper()
		out, errOut, code := printSecret(config)
		if code != exitRequest || out != "" || !strings.Contains(errOut, hint) || strings.Contains(errOut, secret) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", what, code, out, errOut, exitRequest, hint)
		}
	}
	// Readable by others.
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	refused("a secret file of mode 0644", "chmod 600")
	os.Chmod(file, 0o600)
	// In a directory others may write to, where the file could be swapped.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	refused("a directory of mode 0777", "chmod 700")
	os.Chmod(dir, 0o700)
	// A link to a file elsewhere, which another could have planted.
	planted := filepath.Join(t.TempDir(), "planted")
	os.WriteFile(planted, []byte("whsec_"+strings.Repeat("A", 32)+"\n"), 0o600)
	os.Remove(file)
	if err := os.Symlink(planted, file); err != nil {
		t.Fatal(err)
	}
	refused("a symbolic link", "delete it")
}

// A forward the receiver fails is tried again with backoff; one that never
// succeeds is reported, not dropped in silence.
func TestWebhooksListenRetriesFailedForwards(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	s := apitest.New(t)
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}
	secret, errOut, code := captureCLI(append([]string{"webhooks", "listen", "--print-secret"}, standard...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	secret = strings.TrimSpace(secret)
	var mu sync.Mutex
	script := []int{503, 503, 500} // then 204
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e, err := client.VerifyWebhook(body, r.Header, secret)
		if err != nil {
			t.Errorf("VerifyWebhook with the kept secret: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		status := http.StatusNoContent
		if len(script) > 0 {
			status, script = script[0], script[1:]
		}
		mu.Unlock()
		got <- fmt.Sprintf("%s %d", e.Type, status)
		w.WriteHeader(status)
	}))
	defer rcv.Close()

	var out, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"webhooks", "listen", "--forward-to", rcv.URL, "--interval", "20ms", "--retries", "1"},
			standard...), &out, &stderr)
	}()
	poll.Until(t, 10*time.Second, "listen to start", func() (bool, string) {
		return strings.Contains(out.String(), "signing secret is "+secret), fmt.Sprintf("stdout %q, stderr %q", out.String(), stderr.String())
	})
	created, errOut, code := captureCLI(append([]string{"prospects", "create", "--email", "ada@example.com"}, standard...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	id := decode(t, created)["id"].(string)
	if _, errOut, code := captureCLI(append([]string{"prospects", "delete", id}, standard...)...); code != 0 {
		t.Fatal(errOut)
	}
	// prospect.created: 503, then 503 on its one retry: given up, and said so.
	// prospect.deleted: 500, then 204 on its retry.
	want := []string{"prospect.created 503", "prospect.created 503", "prospect.deleted 500", "prospect.deleted 204"}
	for _, w := range want {
		select {
		case g := <-got:
			if g != w {
				t.Errorf("the receiver got %s, want %s", g, w)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s: stdout %q, stderr %q", w, out.String(), stderr.String())
		}
	}
	poll.Until(t, 10*time.Second, "listen to report the delivered forward", func() (bool, string) {
		return strings.Contains(out.String(), "prospect.deleted"), "stdout " + out.String()
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("listen exited %d: %s", code, stderr.String())
	}
	report := stderr.String()
	for _, w := range []string{"prospect.created", "[503], retrying in 1s (attempt 1 of 2)", "not delivered after 2 attempts: [503]",
		"[500], retrying in 1s (attempt 1 of 2)"} {
		if !strings.Contains(report, w) {
			t.Errorf("stderr lacks %q:\n%s", w, report)
		}
	}
	if !strings.Contains(out.String(), "[204]") || strings.Contains(out.String(), "prospect.created") {
		t.Errorf("stdout:\n%s", out.String())
	}
}

// A receiver's redirect is its answer, as it is to a webhook delivery: listen
// does not follow it, so the signed event goes nowhere else, and a receiver
// that only redirects does not look like one that works.
func TestWebhooksListenDoesNotFollowRedirects(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	s := apitest.New(t)
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}
	elsewhere := make(chan string, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere <- r.Header.Get("webhook-signature")
	}))
	defer other.Close()
	rcv := httptest.NewServer(http.RedirectHandler(other.URL+"/steal", http.StatusTemporaryRedirect))
	defer rcv.Close()

	var out, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"webhooks", "listen", "--forward-to", rcv.URL, "--interval", "20ms"}, standard...), &out, &stderr)
	}()
	poll.Until(t, 10*time.Second, "listen to start", func() (bool, string) {
		return strings.Contains(out.String(), "signing secret is "), fmt.Sprintf("stdout %q, stderr %q", out.String(), stderr.String())
	})
	if _, errOut, code := captureCLI(append([]string{"prospects", "create", "--email", "ada@example.com"}, standard...)...); code != 0 {
		t.Fatal(errOut)
	}
	poll.Until(t, 10*time.Second, "listen to report the forward", func() (bool, string) {
		return strings.Contains(out.String(), "prospect.created"), fmt.Sprintf("stdout %q, stderr %q", out.String(), stderr.String())
	})
	cancel()
	<-done
	if !strings.Contains(out.String(), "prospect.created") || !strings.Contains(out.String(), "[307]") {
		t.Errorf("stdout %q, want the receiver's 307", out.String())
	}
	select {
	case sig := <-elsewhere:
		t.Errorf("the redirect was followed: the event went, signed %q, where the receiver pointed", sig)
	default:
	}
}

func TestEventsResendCLI(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	admin := []string{"--url", s.URL, "--api-key", s.AdminKey}
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}
	out, errOut, code := captureCLI(append([]string{"webhooks", "create", "--endpoint", "https://crm.example.com/hook", "--event", "prospect.created"}, admin...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	ep := decode(t, out)["id"].(string)
	if _, errOut, code := captureCLI(append([]string{"prospects", "create", "--email", "ada@example.com"}, standard...)...); code != 0 {
		t.Fatal(errOut)
	}
	out, _, _ = captureCLI(append([]string{"events", "list", "--type", "prospect.created"}, standard...)...)
	var e struct{ ID string }
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("events list: %q %v", out, err)
	}

	for _, args := range [][]string{{"resend", e.ID}, {"resend", e.ID, "--endpoint", ep}} {
		out, errOut, code = captureCLI(append(append([]string{"events"}, args...), admin...)...)
		got := decode(t, out)
		if code != 0 || got["object"] != "event_resend" || got["event"] != e.ID || fmt.Sprint(got["endpoints"]) != "["+ep+"]" {
			t.Errorf("events %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	_, errOut, code = captureCLI(append([]string{"events", "resend", e.ID, "--endpoint", "we_nope"}, admin...)...)
	if code != exitRequest || errorFields(t, errOut)["code"] != "resource_missing" || errorFields(t, errOut)["param"] != "endpoint" {
		t.Errorf("an unknown endpoint: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = captureCLI(append([]string{"events", "resend", e.ID}, standard...)...)
	if code != exitRequest || errorFields(t, errOut)["code"] != "admin_key_required" {
		t.Errorf("a standard key: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = captureCLI(append([]string{"events", "resend"}, admin...)...); code != exitUsage {
		t.Errorf("no event: exit %d, stderr %q", code, errOut)
	}
	// No endpoint receives the type: nothing is sent, and stderr says so.
	captureCLI(append([]string{"webhooks", "delete", ep}, admin...)...)
	out, errOut, code = captureCLI(append([]string{"events", "resend", e.ID}, admin...)...)
	if code != 0 || fmt.Sprint(decode(t, out)["endpoints"]) != "[]" || !strings.Contains(errOut, "nothing was sent") {
		t.Errorf("with no endpoint: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestTriggerCLI(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}
	out, errOut, code := captureCLI(append([]string{"trigger", "prospect.updated"}, standard...)...)
	if code != 0 {
		t.Fatalf("trigger: exit %d, stderr %q", code, errOut)
	}
	var types []string
	var prospect string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e client.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		types = append(types, e.Type)
		if prospect == "" {
			prospect = e.Data.Object.ID
		}
		if e.Data.Object.ID != prospect || strings.Contains(line, "ada@") {
			t.Errorf("event about another prospect: %s", line)
		}
	}
	if fmt.Sprint(types) != "[prospect.created prospect.updated prospect.deleted]" {
		t.Errorf("trigger prospect.updated made %v", types)
	}
	if !strings.Contains(errOut, "created prospect "+prospect+" (trigger+") || !strings.Contains(errOut, "deleted prospect "+prospect) {
		t.Errorf("stderr %q", errOut)
	}
	if _, _, code := captureCLI(append([]string{"prospects", "get", prospect}, standard...)...); code != exitRequest {
		t.Errorf("the triggered prospect is still there: exit %d", code)
	}

	out, errOut, code = captureCLI(append([]string{"trigger", "prospect.created", "--keep"}, standard...)...)
	var kept client.Event
	if err := json.Unmarshal([]byte(out), &kept); code != 0 || err != nil || kept.Type != "prospect.created" ||
		!strings.HasPrefix(kept.Data.Object.Email, "trigger+") || kept.Data.Object.Source != "capture_trigger" {
		t.Fatalf("trigger --keep: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := captureCLI(append([]string{"prospects", "get", kept.Data.Object.ID}, standard...)...); code != 0 {
		t.Errorf("the kept prospect: %s", errOut)
	}
	for _, args := range [][]string{{"trigger", "prospect.exploded"}, {"trigger", "prospect.deleted", "--keep"}, {"trigger"}} {
		if _, errOut, code := captureCLI(append(args, standard...)...); code != exitUsage {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// trigger finds its events by the server's clock, not this machine's: against
// a server whose clock is an hour behind, it still prints the events it caused.
func TestTriggerWithAServerClockBehind(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	target, _ := url.Parse(s.URL)
	const skew = 3600
	created := regexp.MustCompile(`"created":(\d+)`)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		// The server's created_gte is its own clock's: an hour behind ours.
		q := r.Out.URL.Query()
		for _, k := range []string{"created_gte", "created_lte"} {
			if v, err := strconv.ParseInt(q.Get(k), 10, 64); err == nil {
				q.Set(k, strconv.FormatInt(v+skew, 10))
			}
		}
		r.Out.URL.RawQuery = q.Encode()
	}}
	proxy.ModifyResponse = func(res *http.Response) error {
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		b = created.ReplaceAllFunc(b, func(m []byte) []byte {
			v, _ := strconv.ParseInt(string(created.FindSubmatch(m)[1]), 10, 64)
			return []byte(`"created":` + strconv.FormatInt(v-skew, 10))
		})
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	behind := httptest.NewServer(proxy)
	t.Cleanup(behind.Close)
	out, errOut, code := captureCLI("trigger", "prospect.created", "--url", behind.URL, "--api-key", s.StandardKey)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[0], `"prospect.created"`) || !strings.Contains(lines[1], `"prospect.deleted"`) {
		t.Errorf("trigger against a server an hour behind: exit %d, stdout %q, stderr %q; want its two events", code, out, errOut)
	}
}

// On a terminal, trigger prints its events as a table and resend the
// endpoints field by field; the binary's stderr says what trigger did.
func TestTriggerAndResendOnATerminal(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + s.AdminKey}
	out, errOut, code := runPiped(t, env, "webhooks", "create", "--endpoint", "https://crm.example.com/hook")
	if code != 0 {
		t.Fatalf("webhooks create: exit %d, %s", code, errOut)
	}
	ep := decode(t, out)["id"].(string)

	term := startTerminal(t, env, "trigger", "prospect.created")
	table, code := term.wait(t)
	row := `evt_[0-9a-z]+ +prospect\.%s +prs_[0-9a-z]+ +req_[0-9a-z]+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n`
	if code != 0 || !regexp.MustCompile(`^created prospect prs_[0-9a-z]+ \(trigger\+[0-9a-f]+@example\.com\)\ndeleted prospect prs_[0-9a-z]+\n`+
		`ID +TYPE +PROSPECT +REQUEST +CREATED\n`+fmt.Sprintf(row, "created")+fmt.Sprintf(row, "deleted")+`$`).MatchString(table) {
		t.Fatalf("trigger on a terminal: exit %d:\n%q", code, table)
	}
	evt := regexp.MustCompile(`evt_[0-9a-z]+`).FindString(table)
	term = startTerminal(t, env, "events", "resend", evt)
	fields, code := term.wait(t)
	if code != 0 || !regexp.MustCompile(`endpoints +`+ep+`\n`).MatchString(fields) || !strings.Contains(fields, evt) {
		t.Fatalf("events resend on a terminal: exit %d:\n%q", code, fields)
	}
}
