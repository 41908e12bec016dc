package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
)

// get answers a GET with its status, failing the test if there is no answer.
func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestServeOnATerminalPrintsABanner(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "banner.db")
	term := startTerminal(t, []string{"CAPTURE_RATE_LIMIT=42"}, "serve", "--addr", "127.0.0.1:0", "--db", db)
	out := term.waitFor(t, "Request logs follow")
	if !strings.Contains(out, "Created account \"default\" with admin key key_") {
		t.Errorf("the first start should still print the admin key:\n%s", out)
	}
	api := regexp.MustCompile(`API +(http://127\.0\.0\.1:\d+)/v1\n`).FindStringSubmatch(out)
	if api == nil {
		t.Fatalf("the banner gives no API URL:\n%s", out)
	}
	base := api[1]
	metrics := regexp.MustCompile(`Metrics +(http://127\.0\.0\.1:\d+)/metrics\n`).FindStringSubmatch(out)
	if metrics == nil || metrics[1] == base {
		t.Fatalf("the banner gives no metrics URL apart from the API's:\n%s", out)
	}
	for _, want := range []string{"Docs      " + base + "/docs\n", "Database  " + db + "\n",
		"Limits    42 requests/s per key unless its account sets its own; requests time out after 10s;\n",
		"at most 512 API requests at once\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	if get(t, base+"/docs") != 200 || get(t, metrics[1]+"/metrics") != 200 {
		t.Fatal("the banner's /docs and /metrics URLs should answer 200")
	}
	// The API's port does not serve metrics: scrapes stay off it.
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if err := apitest.Check(t, "GET", base+"/metrics", res, body); err != nil || res.StatusCode != 404 || !strings.Contains(string(body), `"code":"route_not_found"`) {
		t.Errorf("GET /metrics on the API's port: %d %s (%v), want 404 route_not_found", res.StatusCode, body, err)
	}
	// On a terminal, request logs are text for people.
	if get(t, base+"/v1/prospects") != 401 {
		t.Fatal("want 401 without a key")
	}
	out = term.waitFor(t, "status=401")
	if !regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=request .*route=/v1/prospects .*status=401`).MatchString(out) {
		t.Errorf("no text request log line for the 401:\n%s", out)
	}
	if !strings.Contains(out, "one text line per request") {
		t.Errorf("the banner should say the logs are text:\n%s", out)
	}
	if err := term.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if out, code := term.wait(t); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, out)
	}

	// Restarted, the database has its account: no key is printed, and the
	// banner gives the command that makes one. CAPTURE_LOG_FORMAT=json asks
	// for JSON logs even on a terminal.
	term = startTerminal(t, []string{"CAPTURE_LOG_FORMAT=json"}, "serve", "--addr", "127.0.0.1:0", "--db", db)
	out = term.waitFor(t, "Request logs follow")
	hint := regexp.MustCompile(`The database has accounts already, so no admin key was printed\. To make one:\n\n    (capture keys create .*)\n`).FindStringSubmatch(out)
	if hint == nil || strings.Contains(out, "Created account") || !strings.Contains(out, "one JSON line per request") {
		t.Fatalf("a restart should print no key, say how to make one, and log JSON:\n%s", out)
	}
	if want := "capture keys create --account default --role admin --db " + db; hint[1] != want {
		t.Errorf("the banner's command is %q, want %q", hint[1], want)
	}
	if out := term.waitFor(t, `"msg":"serving"`); !regexp.MustCompile(`(?m)^\{"time":.*"msg":"serving"`).MatchString(out) {
		t.Errorf("want JSON log lines with --log-format from CAPTURE_LOG_FORMAT:\n%s", out)
	}
	if err := term.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if out, code := term.wait(t); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, out)
	}
	// The command works as printed.
	args := strings.Fields(hint[1])[1:]
	if secret, errOut, code := runPiped(t, nil, args...); code != 0 || !strings.HasPrefix(secret, "sk_") {
		t.Fatalf("%s: exit %d, stdout %q, stderr %q", hint[1], code, secret, errOut)
	}
}

func TestServeWithoutATerminalPrintsNoBanner(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "quiet.db")
	cmd := command(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", db)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	logs := bufio.NewScanner(stderr)
	serving := false
	for !serving && logs.Scan() {
		var line struct{ Msg string }
		serving = json.Unmarshal(logs.Bytes(), &line) == nil && line.Msg == "serving"
	}
	if !serving {
		t.Fatal("no serving log line")
	}
	go io.Copy(io.Discard, stderr)
	cmd.Process.Signal(syscall.SIGTERM)
	printed, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.HasPrefix(string(printed), "Created account \"default\" with admin key") || strings.Contains(string(printed), "Capture is serving") {
		t.Fatalf("piped, stdout should hold only the first admin key, got:\n%s", printed)
	}
}

// TestServeOnABusyPortSaysSoInOneLine: the API's port and the metrics port
// alike, before any database is created, with a hint that names the flag.
func TestServeOnABusyPortSaysSoInOneLine(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, flag := range []string{"--addr", "--metrics-addr"} {
		db := filepath.Join(t.TempDir(), "busy.db")
		args := []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db, flag, addr}
		out, errOut, code := runPiped(t, nil, args...)
		want := "capture serve: cannot listen on " + addr + ": address already in use (is another capture serve running? stop it, or choose another " + flag + ")\n"
		if code != 1 || out != "" || errOut != want {
			t.Fatalf("want exit 1 and the one line\n%q\ngot exit %d, stdout %q, stderr\n%q", want, code, out, errOut)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%s busy: a server that could not listen should leave no database behind", flag)
		}
	}
}

func TestProspectsOnATerminalPrintTables(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + s.StandardKey}
	out, errOut, code := runPiped(t, env, "prospects", "create", "--email", "ada@example.com", "--first-name", "Ada", "--company", "Analytical Engines", "--tag", "vip", "--tag", "beta")
	if code != 0 {
		t.Fatalf("create: exit %d, %s", code, errOut)
	}
	id := decode(t, out)["id"].(string)
	if _, errOut, code := runPiped(t, env, "prospects", "create", "--email", "grace@example.com", "--status", "qualified"); code != 0 {
		t.Fatalf("create: exit %d, %s", code, errOut)
	}

	term := startTerminal(t, env, "prospects", "list")
	table, code := term.wait(t)
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	header := regexp.MustCompile(`^ID +EMAIL +FIRST_NAME +LAST_NAME +COMPANY +STATUS +CREATED$`)
	if code != 0 || len(lines) != 3 || !header.MatchString(lines[0]) {
		t.Fatalf("list on a terminal: want a header and 2 rows, exit %d:\n%s", code, table)
	}
	emailAt := strings.Index(lines[0], "EMAIL")
	if !strings.HasPrefix(lines[1][emailAt:], "grace@example.com ") || !strings.HasPrefix(lines[2][emailAt:], "ada@example.com ") ||
		!strings.Contains(lines[2], " Analytical Engines ") || !regexp.MustCompile(` \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(lines[2]) {
		t.Fatalf("rows should be aligned under the header, newest first, with dates:\n%s", table)
	}

	term = startTerminal(t, env, "prospects", "list", "--fields", "email,tags")
	table, _ = term.wait(t)
	if !regexp.MustCompile(`^EMAIL +TAGS\ngrace@example.com +\nada@example.com +vip,beta\n$`).MatchString(table) {
		t.Fatalf("list --fields email,tags on a terminal:\n%q", table)
	}

	term = startTerminal(t, env, "prospects", "get", id)
	card, code := term.wait(t)
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?m)^FIELD +VALUE$`), regexp.MustCompile(`(?m)^id +` + id + `$`),
		regexp.MustCompile(`(?m)^company +Analytical Engines$`), regexp.MustCompile(`(?m)^tags +vip,beta$`)} {
		if code != 0 || !want.MatchString(card) {
			t.Errorf("get on a terminal: want a line matching %s, exit %d:\n%s", want, code, card)
		}
	}

	term = startTerminal(t, env, "prospects", "list", "--json")
	asJSON, _ := term.wait(t)
	if rows := jsonLines(t, asJSON); len(rows) != 2 || rows[1]["id"] != id {
		t.Fatalf("--json on a terminal: want JSON lines:\n%s", asJSON)
	}
	piped, _, _ := runPiped(t, env, "prospects", "list")
	if rows := jsonLines(t, piped); len(rows) != 2 || rows[0]["email"] != "grace@example.com" {
		t.Fatalf("piped: want JSON lines:\n%s", piped)
	}
}

func TestAdminListsOnATerminal(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "lists.db")
	if _, errOut, code := runPiped(t, nil, "migrate", "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	secret, errOut, code := runPiped(t, nil, "keys", "create", "--account", "acme", "--create-account", "--role", "admin", "--db", db)
	if code != 0 {
		t.Fatal(errOut)
	}
	term := startTerminal(t, nil, "keys", "list", "--db", db)
	table, code := term.wait(t)
	if code != 0 || !regexp.MustCompile(`^ID +ACCOUNT +ROLE +CREATED +REVOKED\nkey_[0-9a-z]+ +acme +admin +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d *\n$`).MatchString(table) {
		t.Fatalf("keys list on a terminal: exit %d:\n%q", code, table)
	}
	if strings.Contains(table, strings.TrimSpace(secret)) {
		t.Fatal("keys list printed the secret")
	}
	term = startTerminal(t, nil, "accounts", "list", "--db", db)
	table, code = term.wait(t)
	if code != 0 || !regexp.MustCompile(`^ID +NAME +PROSPECTS +LIMIT +RATE LIMIT +ENDPOINT LIMIT +RETENTION +CREATED\nacct_[0-9a-z]+ +acme +0 +100000 +default +16 +forever +\d{4}-`).MatchString(table) {
		t.Fatalf("accounts list on a terminal: exit %d:\n%q", code, table)
	}
}

func TestVersionOfTheBuiltBinary(t *testing.T) {
	t.Parallel()
	out, _, code := runPiped(t, nil, "version")
	info, err := exec.Command("go", "version", "-m", binary(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^\tmod\t\S+\t(\S+)`).FindSubmatch(info)
	rev := "unknown"
	if m := regexp.MustCompile(`(?m)^\tbuild\tvcs\.revision=(\S+)`).FindSubmatch(info); m != nil {
		rev = string(m[1])
	}
	version := "dev" // what a build from a work tree records, "(devel)", is no version
	if mod != nil && string(mod[1]) != "(devel)" {
		version = string(mod[1])
	}
	if code != 0 || mod == nil || !strings.HasPrefix(out, "capture "+version+"\nrevision "+rev) {
		t.Fatalf("capture version should give the module version and revision of the build info\n%s\ngot:\n%s", info, out)
	}
	if dash, _, _ := runPiped(t, nil, "--version"); dash != out {
		t.Fatalf("--version printed %q, version %q", dash, out)
	}
}

func TestEventsAndWebhooksOnATerminalPrintTables(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + s.AdminKey}
	out, errOut, code := runPiped(t, env, "prospects", "create", "--email", "ada@example.com")
	if code != 0 {
		t.Fatalf("create: exit %d, %s", code, errOut)
	}
	id := decode(t, out)["id"].(string)
	if _, errOut, code := runPiped(t, env, "webhooks", "create", "--endpoint", "https://crm.example.com/hook", "--description", "CRM sync"); code != 0 {
		t.Fatalf("webhooks create: exit %d, %s", code, errOut)
	}

	term := startTerminal(t, env, "events", "list")
	table, code := term.wait(t)
	if code != 0 || !regexp.MustCompile(`^ID +TYPE +PROSPECT +REQUEST +CREATED\nevt_[0-9a-z]+ +prospect\.created +`+id+` +req_[0-9a-z]+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$`).MatchString(table) {
		t.Fatalf("events list on a terminal: exit %d:\n%q", code, table)
	}
	term = startTerminal(t, env, "webhooks", "list")
	table, code = term.wait(t)
	if code != 0 || !regexp.MustCompile(`^ID +URL +EVENTS +STATE +DESCRIPTION +CREATED\nwe_[0-9a-z]+ +https://crm\.example\.com/hook +\* +enabled +CRM sync +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$`).MatchString(table) {
		t.Fatalf("webhooks list on a terminal: exit %d:\n%q", code, table)
	}
}
