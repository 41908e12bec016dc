package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

// cli runs `capture prospects args…` in-process and returns what it printed.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"prospects"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// errorFields parses the "name: value" lines a failure prints on stderr,
// after the announcements of retries.
func errorFields(t *testing.T, stderr string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if strings.Contains(sc.Text(), ", retrying in ") {
			continue
		}
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("stderr line %q is not name: value\n%s", sc.Text(), stderr)
		}
		fields[name] = value
	}
	return fields
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, s)
	}
	return v
}

func TestProspectsCLIAgainstRealServer(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	conn := []string{"--url", s.URL, "--api-key", s.StandardKey}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		// Connection flags go last, after the positional id, as people type them.
		return cli(t, append(args, conn...)...)
	}

	out, errOut, code := run("create", "--email", "Ada@Example.com", "--first-name", "Ada", "--company", "Analytical Engines",
		"--tag", "vip", "--tag", "beta", "--metadata", "plan=pro", "--metadata", "seats=3", "--marketing-consent", "--status", "contacted")
	if code != 0 || errOut != "" {
		t.Fatalf("create: exit %d, stderr %q", code, errOut)
	}
	p := decode(t, out)
	id, _ := p["id"].(string)
	if !strings.HasPrefix(id, "prs_") || p["email"] != "ada@example.com" || p["first_name"] != "Ada" || p["status"] != "contacted" ||
		p["marketing_consent"] != true || p["metadata"].(map[string]any)["seats"] != "3" || len(p["tags"].([]any)) != 2 {
		t.Fatalf("create printed %s", out)
	}
	if !strings.HasPrefix(out, "{\n  \"id\": ") {
		t.Fatalf("the prospect should print indented with its id first:\n%s", out)
	}

	out, _, code = run("get", id)
	if code != 0 || decode(t, out)["company"] != "Analytical Engines" {
		t.Fatalf("get: exit %d, %s", code, out)
	}

	out, errOut, code = run("update", id, "--clear", "first_name", "--clear", "metadata", "--tag", "customer", "--title", "CTO")
	if code != 0 {
		t.Fatalf("update: exit %d, %s", code, errOut)
	}
	up := decode(t, out)
	if up["first_name"] != nil || up["title"] != "CTO" || len(up["metadata"].(map[string]any)) != 0 ||
		strings.Join(toStrings(up["tags"]), ",") != "customer" || up["company"] != "Analytical Engines" {
		t.Fatalf("update printed %s", out)
	}

	for _, email := range []string{"b@example.com", "c@example.com", "d@example.com", "e@example.com"} {
		if _, errOut, code := run("create", "--email", email); code != 0 {
			t.Fatalf("create %s: exit %d, %s", email, code, errOut)
		}
	}
	out, _, code = run("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 5 {
		t.Fatalf("list piped: want every prospect, 5 lines, got exit %d and\n%s", code, out)
	}
	if first, last := decode(t, lines[0]), decode(t, lines[4]); first["email"] != "e@example.com" || last["id"] != id {
		t.Fatalf("list should stream newest first, got %s … %s", lines[0], lines[4])
	}
	out, _, code = run("list", "--limit", "3")
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("--limit 3: want 3 lines, got exit %d and\n%s", code, out)
	}
	out, errOut, code = run("list", "--max", "2")
	if code != 0 || strings.Count(out, "\n") != 2 || errOut != "--max is deprecated: use --limit N, or --all\n" {
		t.Fatalf("--max 2, the former name of --limit: want 2 lines and a notice, got exit %d, stderr %q and\n%s", code, errOut, out)
	}
	out, _, code = run("list", "--tag", "customer")
	if code != 0 || strings.Count(out, "\n") != 1 || decode(t, out)["id"] != id {
		t.Fatalf("--tag customer: want %s only, got\n%s", id, out)
	}

	out, _, code = run("delete", id)
	if d := decode(t, out); code != 0 || d["id"] != id || d["deleted"] != true {
		t.Fatalf("delete: exit %d, %s", code, out)
	}
	out, errOut, code = run("get", id)
	f := errorFields(t, errOut)
	if code != 1 || out != "" || f["type"] != "invalid_request_error" || f["code"] != "resource_gone" || f["param"] != "id" ||
		f["status"] != "410" || !strings.HasPrefix(f["request_id"], "req_") || f["error"] == "" {
		t.Fatalf("get after delete: exit %d, stderr\n%s", code, errOut)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestProspectsCLIRequestErrorsExit1(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	conn := []string{"--url", s.URL, "--api-key", s.StandardKey}
	out, _, code := cli(t, append([]string{"create", "--email", "grace@example.com"}, conn...)...)
	if code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	id := decode(t, out)["id"]

	_, errOut, code := cli(t, append([]string{"create", "--email", "grace@example.com"}, conn...)...)
	f := errorFields(t, errOut)
	if code != 1 || f["code"] != "prospect_exists" || f["param"] != "email" || f["existing_id"] != id || f["status"] != "409" {
		t.Fatalf("duplicate: exit %d, stderr\n%s", code, errOut)
	}

	_, errOut, code = cli(t, "create", "--email", "x@example.com", "--status", "hot", "--url", s.URL, "--api-key", s.StandardKey)
	if f := errorFields(t, errOut); code != 1 || f["code"] != "parameter_invalid" || f["param"] != "status" {
		t.Fatalf("bad status: exit %d, stderr\n%s", code, errOut)
	}

	_, errOut, code = cli(t, "get", "prs_whatever", "--url", s.URL, "--api-key", "sk_wrongwrongwrongwrongwrongwrongwrong")
	if f := errorFields(t, errOut); code != 1 || f["type"] != "authentication_error" || f["code"] != "api_key_invalid" || f["status"] != "401" {
		t.Fatalf("bad key: exit %d, stderr\n%s", code, errOut)
	}
}

// brokenStore fails every prospect read, as a database with a bug would.
type brokenStore struct{ store.Store }

func (brokenStore) Prospect(context.Context, string, string) (*store.Prospect, error) {
	return nil, errors.New("corrupt row")
}

func TestProspectsCLIServerErrorExit2(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, func(cfg *server.Config) { cfg.Store = brokenStore{cfg.Store} })
	out, errOut, code := cli(t, "get", "prs_1", "--url", s.URL, "--api-key", s.AdminKey, "--max-retries", "0")
	f := errorFields(t, errOut)
	if code != 2 || out != "" || f["type"] != "api_error" || f["code"] != "internal_error" || f["status"] != "500" || !strings.HasPrefix(f["request_id"], "req_") {
		t.Fatalf("want exit 2 with the 500's fields, got exit %d, stderr\n%s", code, errOut)
	}
}

func TestProspectsCLIConnectionErrorExit3(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, errOut, code := cli(t, "list", "--url", "http://"+addr, "--api-key", "sk_x", "--max-retries", "1")
	f := errorFields(t, errOut)
	if code != 3 || f["type"] != "api_connection_error" || f["attempts"] != "2" || !strings.Contains(f["error"], "connection refused") {
		t.Fatalf("want exit 3 with an api_connection_error, got exit %d, stderr\n%s", code, errOut)
	}
	if first, _, _ := strings.Cut(errOut, "\n"); !strings.Contains(first, "connection refused, retrying in ") || !strings.HasSuffix(first, "(attempt 2 of 2)") {
		t.Fatalf("the retry should be announced first, got stderr\n%s", errOut)
	}
}

func TestProspectsCLIUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "capture prospects [command]"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"get"}, "missing the prospect ID"},
		{[]string{"get", "prs_1", "prs_2"}, `unexpected argument "prs_2"`},
		{[]string{"create", "--first-name", "Ada"}, "--email is required"},
		{[]string{"create", "--email", "a@example.com", "--metadata", "plan"}, "want key=value"},
		{[]string{"update", "prs_1"}, "nothing to change"},
		{[]string{"update", "prs_1", "--clear", "email"}, "not a field that can be cleared"},
		{[]string{"update", "prs_1", "--clear", "phone", "--phone", "555"}, "--clear phone conflicts with --phone"},
		{[]string{"list", "--max", "-1"}, "--max must be 0 or more"},
		{[]string{"list", "--limit", "many"}, "invalid value"},
		{[]string{"list", "--limit", "0"}, "--limit must be at least 1, not 0"},
		{[]string{"list", "--limit", "5", "--all"}, "--limit and --all cannot be used together"},
	} {
		out, errOut, code := cli(t, tc.args...)
		if code != 64 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: want exit 64 and %q on stderr, got exit %d, stderr %q", tc.args, tc.want, code, errOut)
		}
	}
}

func TestProspectsCLIHelp(t *testing.T) {
	t.Parallel()
	out, errOut, code := cli(t, "--help")
	if code != 0 || errOut != "" || !strings.Contains(out, "Exit status:") || !strings.Contains(out, "CAPTURE_API_KEY") {
		t.Fatalf("prospects --help: exit %d, stdout\n%s", code, out)
	}
	for _, cmd := range []string{"create", "get", "update", "delete", "list"} {
		out, errOut, code := cli(t, cmd, "--help")
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:\n  capture prospects "+cmd) || !strings.Contains(out, "--api-key") ||
			!strings.Contains(out, "Examples:\n  capture prospects "+cmd) {
			t.Errorf("%s --help: exit %d, stdout\n%s", cmd, code, out)
		}
	}
	out, _, _ = cli(t, "update", "--help")
	if !strings.Contains(out, "--clear") || !strings.Contains(out, "--idempotency-key") {
		t.Errorf("update --help should document --clear and --idempotency-key:\n%s", out)
	}
	out, _, _ = cli(t, "list", "--help")
	if !strings.Contains(out, "--limit") || !strings.Contains(out, "--all") || strings.Contains(out, "--max ") {
		t.Errorf("list --help should document --limit and --all, and hide the deprecated --max:\n%s", out)
	}
}

// Not parallel: it sets process environment variables.
func TestProspectsCLIReadsEnvironmentAndFlagsWin(t *testing.T) {
	s := apitest.New(t)
	t.Setenv("CAPTURE_URL", s.URL)
	t.Setenv("CAPTURE_API_KEY", s.StandardKey)
	out, errOut, code := cli(t, "create", "--email", "env@example.com")
	if code != 0 || decode(t, out)["email"] != "env@example.com" {
		t.Fatalf("with CAPTURE_URL and CAPTURE_API_KEY: exit %d, %s", code, errOut)
	}
	_, errOut, code = cli(t, "list", "--api-key", "sk_flagwinsflagwinsflagwinsflagwins00")
	if f := errorFields(t, errOut); code != 1 || f["code"] != "api_key_invalid" {
		t.Fatalf("--api-key should override CAPTURE_API_KEY: exit %d, stderr\n%s", code, errOut)
	}
	out, _, _ = cli(t, "get", "--help")
	if strings.Contains(out, s.StandardKey) {
		t.Fatal("--help must never print the API key from the environment")
	}
}

// Not parallel: it sets process environment variables. A query that starts
// with a negated clause reads as flags unless it follows --: then it runs, and
// without the -- the error says to write it.
func TestProspectsSearchNegatedFirstClause(t *testing.T) {
	s := apitest.New(t)
	t.Setenv("CAPTURE_URL", s.URL)
	t.Setenv("CAPTURE_API_KEY", s.StandardKey)
	for _, email := range []string{"vip@example.com", "plain@example.com"} {
		if _, errOut, code := cli(t, "create", "--email", email); code != 0 {
			t.Fatal(errOut)
		}
	}
	out, errOut, code := cli(t, "search", "--json", "--", `-email:"vip@example.com"`)
	if code != 0 || !strings.Contains(out, `"plain@example.com"`) || strings.Contains(out, "vip@") {
		t.Fatalf("after --: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = cli(t, "search", `-email:"vip@example.com"`, "--json")
	if want := `a query that starts with a negated clause goes after --, as in capture prospects search -- '-email:"vip@example.com"'`; code != exitUsage || out != "" || !strings.Contains(errOut, want) {
		t.Fatalf("without --: want exit %d and %q, got %d, stderr %q", exitUsage, want, code, errOut)
	}
}
