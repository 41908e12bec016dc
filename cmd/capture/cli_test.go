package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/captureapi/capture/internal/apitest"
)

// commands lists every command a person can run, the root included.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if !sub.Hidden {
			out = append(out, commands(sub)...)
		}
	}
	return out
}

// oneDash matches a help line that starts with a flag such as -api-key.
var oneDash = regexp.MustCompile(`^-[a-z]`)

func TestEveryCommandsHelpHasExamplesAndTwoDashFlags(t *testing.T) {
	t.Parallel()
	all := commands(newRootCmd())
	var names []string
	for _, c := range all {
		names = append(names, c.CommandPath())
	}
	for _, want := range []string{"capture accounts create", "capture accounts list", "capture keys create", "capture keys list",
		"capture keys revoke", "capture maintenance", "capture migrate", "capture version", "capture completion", "capture serve",
		"capture prospects create", "capture prospects get", "capture prospects update", "capture prospects delete", "capture prospects list"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q is not reachable from capture --help", want)
		}
	}
	for _, c := range all {
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		code, out, errOut := capture(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q", c.CommandPath(), code, errOut)
			continue
		}
		if !strings.Contains(out, "Examples:\n  ") || !strings.Contains(c.Example, c.CommandPath()) {
			t.Errorf("%s --help has no examples:\n%s", c.CommandPath(), out)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(out, "--"+f.Name+" ") {
				t.Errorf("%s --help does not show --%s:\n%s", c.CommandPath(), f.Name, out)
			}
		})
		for line := range strings.Lines(out) {
			if l := strings.TrimSpace(line); oneDash.MatchString(l) && !strings.HasPrefix(l, "-h, --") && !strings.HasPrefix(l, "-v, --") {
				t.Errorf("%s --help shows a one-dash flag: %q", c.CommandPath(), l)
			}
		}
	}
	_, out, _ := capture(t, "keys", "create", "--help")
	if !strings.Contains(out, "[$CAPTURE_DB]") {
		t.Errorf("help should name the environment variable of --db:\n%s", out)
	}
}

// Not parallel: it changes the environment.
func TestProspectsWithoutAKeySendNothing(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	t.Setenv("CAPTURE_API_KEY", "")
	os.Unsetenv("CAPTURE_API_KEY")
	for _, args := range [][]string{{"list"}, {"get", "prs_1"}, {"create", "--email", "a@example.com"}, {"delete", "prs_1"}, {"update", "prs_1", "--title", "CTO"}} {
		out, errOut, code := cli(t, append(args, "--url", srv.URL)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "set CAPTURE_API_KEY or pass --api-key") {
			t.Errorf("%q without a key: want exit 64 naming CAPTURE_API_KEY and --api-key, got %d, stderr %q", args, code, errOut)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the server without a key", n)
	}
}

func TestProspectsRetriesAreAnnounced(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"type":"api_error","code":"maintenance","message":"Capture is down for maintenance.","request_id":"req_1","doc_url":"x"}}`))
	}))
	defer srv.Close()
	out, errOut, code := cli(t, "list", "--url", srv.URL, "--api-key", "sk_x", "--max-retries", "2")
	lines := strings.Split(errOut, "\n")
	if code != exitServer || out != "" || len(lines) < 3 ||
		lines[0] != "503 maintenance, retrying in 1s (attempt 2 of 3)" || lines[1] != "503 maintenance, retrying in 1s (attempt 3 of 3)" ||
		errorFields(t, errOut)["code"] != "maintenance" {
		t.Fatalf("want two announced retries then the 503, exit 2; got exit %d, stderr\n%s", code, errOut)
	}
	if requests.Load() != 3 {
		t.Fatalf("%d requests, want 3", requests.Load())
	}
}

func TestProspectsFieldsAndTimes(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	conn := []string{"--url", s.URL, "--api-key", s.StandardKey}
	out, errOut, code := cli(t, append([]string{"create", "--email", "ada@example.com", "--company", "Engines", "--fields", "email,id"}, conn...)...)
	p := decode(t, out)
	id, _ := p["id"].(string)
	if code != 0 || len(p) != 2 || !strings.HasPrefix(out, "{\n  \"email\": \"ada@example.com\",\n  \"id\": \"prs_") {
		t.Fatalf("create --fields email,id: want those two, in that order; exit %d, %s%s", code, out, errOut)
	}
	cli(t, append([]string{"create", "--email", "bob@example.com"}, conn...)...)

	out, _, code = cli(t, append([]string{"get", id, "--fields", "company,status"}, conn...)...)
	if code != 0 || strings.Join(strings.Fields(out), "") != `{"company":"Engines","status":"new"}` {
		t.Fatalf("get --fields company,status: exit %d, %s", code, out)
	}
	out, _, code = cli(t, append([]string{"list", "--fields", "email"}, conn...)...)
	if code != 0 || out != "{\"email\":\"bob@example.com\"}\n{\"email\":\"ada@example.com\"}\n" {
		t.Fatalf("list --fields email: exit %d, %q", code, out)
	}
	for _, tc := range []struct {
		filter []string
		want   int
	}{
		{[]string{"--created-gte", "2000-01-01"}, 2},
		{[]string{"--created-lte", "2000-01-01"}, 0},
		{[]string{"--created-gte", "2999-01-01T00:00:00Z"}, 0},
		{[]string{"--created-lte", "32503680000"}, 2}, // 3000-01-01
	} {
		out, errOut, code := cli(t, append(append([]string{"list"}, tc.filter...), conn...)...)
		if code != 0 || strings.Count(out, "\n") != tc.want {
			t.Errorf("list %q: want %d prospects, got exit %d, %s%s", tc.filter, tc.want, code, out, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--created-gte", "yesterday"}, `invalid value "yesterday" for --created-gte: want a Unix timestamp (1767225600), an RFC 3339 time (2026-01-01T09:00:00Z) or a date (2026-01-01)`},
		{[]string{"list", "--fields", "id,colour"}, `--fields: no field "colour"; the fields are id, object, email,`},
		{[]string{"get", "prs_1", "--fields", "deleted"}, `no field "deleted"`},
		{[]string{"list", "--max-retries", "-1"}, "--max-retries must be 0 or more"},
	} {
		out, errOut, code := cli(t, append(tc.args, conn...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: want exit 64 and %q, got %d, stderr %q", tc.args, tc.want, code, errOut)
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, marker := range map[string]string{"bash": "complete -o default -F __start_capture capture", "zsh": "#compdef capture", "fish": "complete -c capture"} {
		code, out, errOut := capture(t, "completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, marker) {
			t.Errorf("completion %s: exit %d, want a script with %q; stderr %q", shell, code, marker, errOut)
		}
	}
	if code, _, errOut := capture(t, "completion", "powershell"); code != exitUsage || !strings.Contains(errOut, "want bash, zsh or fish") {
		t.Errorf("completion powershell: exit %d, stderr %q", code, errOut)
	}
	// What the scripts ask the binary when the user presses Tab.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"keys", "create", "--role", ""}, []string{"admin", "standard"}},
		{[]string{"maintenance", ""}, []string{"on", "off"}},
		{[]string{"prospects", "list", "--status", ""}, []string{"new", "contacted", "qualified", "unqualified", "converted"}},
		{[]string{"prospects", "update", "prs_1", "--clear", ""}, clearable},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"pro"}, []string{"prospects"}},
	} {
		code, out, _ := capture(t, append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		var got []string
		for line := range strings.Lines(out) {
			if word, _, _ := strings.Cut(strings.TrimSpace(line), "\t"); word != "" && !strings.HasPrefix(word, ":") {
				got = append(got, word)
			}
		}
		if code != 0 || !slices.Equal(got, tc.want) {
			t.Errorf("completing %q: want %q, got %q (exit %d)", tc.args, tc.want, got, code)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := capture(t, "version")
	code2, out2, _ := capture(t, "--version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "capture ") || !strings.Contains(out, "\nrevision ") {
		t.Fatalf("version and --version should print the same: %d %q, %d %q", code, out, code2, out2)
	}
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/captureapi/capture", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-20T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		version, commit string
		info            *debug.BuildInfo
		want            string
	}{
		{"", "", info, "capture v1.4.0\nrevision 0123456789abcdef0123456789abcdef01234567 (2026-11-20T10:00:00Z), with uncommitted changes\ngo"},
		// make build's stamp wins; the toolchain's time and state describe another commit.
		{"v1.5.0-3-gfedcba9-dirty", "fedcba9876543210fedcba9876543210fedcba98", info, "capture v1.5.0-3-gfedcba9-dirty\nrevision fedcba9876543210fedcba9876543210fedcba98\ngo"},
		{"fedcba9", "fedcba9876543210fedcba9876543210fedcba98", nil, "capture fedcba9\nrevision fedcba9876543210fedcba9876543210fedcba98\ngo"},
		// go run and -buildvcs=false record no VCS data.
		{"", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "capture dev\nrevision unknown\ngo"},
		{"", "", nil, "capture dev\nrevision unknown\ngo"},
	} {
		if got := versionFrom(tc.version, tc.commit, tc.info); !strings.HasPrefix(got, tc.want) {
			t.Errorf("versionFrom(%q, %q, …) = %q, want it to begin %q", tc.version, tc.commit, got, tc.want)
		}
	}
}
