package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

// capture runs the command line in-process and returns its exit status and output.
func capture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// jsonLines decodes one JSON object per line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q is not a JSON object: %v\n%s", line, err, s)
		}
		out = append(out, v)
	}
	return out
}

// waitForStatus polls url until it answers want, for at most a second.
func waitForStatus(t *testing.T, url, key string, want int) (*http.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	var res *http.Response
	poll.Until(t, time.Second, fmt.Sprintf("%s to answer %d", url, want), func() (bool, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		var err error
		if res, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode == want, fmt.Sprintf("it answers %d", res.StatusCode)
	})
	return res, time.Since(start)
}

func TestMaintenanceReachesARunningServer(t *testing.T) {
	s := apitest.New(t)
	url := s.URL + "/v1/account"
	waitForStatus(t, url, s.StandardKey, 200)

	if code, out, errOut := capture(t, "maintenance", "on", "--retry-after", "30", "--db", s.DBPath); code != 0 {
		t.Fatalf("maintenance on: %d %s %s", code, out, errOut)
	}
	res, after := waitForStatus(t, url, s.StandardKey, 503)
	if res.Header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After = %q, want 30", res.Header.Get("Retry-After"))
	}
	t.Logf("maintenance seen after %v", after)
	waitForStatus(t, s.URL+"/healthz", "", 200)
	waitForStatus(t, s.URL+"/readyz", "", 200)

	if code, _, errOut := capture(t, "maintenance", "off", "--db", s.DBPath); code != 0 {
		t.Fatalf("maintenance off: %d %s", code, errOut)
	}
	waitForStatus(t, url, s.StandardKey, 200)

	for _, args := range [][]string{{"maintenance"}, {"maintenance", "maybe"}, {"maintenance", "on", "--retry-after", "0"}} {
		if code, _, errOut := capture(t, append(args, "--db", s.DBPath)...); code != exitUsage || !strings.Contains(errOut, "on") {
			t.Errorf("%q: exit %d, stderr %q; want 64 and what is allowed", args, code, errOut)
		}
	}
}

func TestAdminCommandsNeverCreateADatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{
		{"accounts", "create", "acme"},
		{"accounts", "list"},
		{"keys", "create", "--account", "acme", "--create-account"},
		{"keys", "list"},
		{"keys", "revoke", "key_1"},
		{"maintenance", "on"},
	} {
		code, out, errOut := capture(t, append(args, "--db", db)...)
		if code != 1 || out != "" || !strings.Contains(errOut, "no database at "+db) || !strings.Contains(errOut, "capture migrate --db "+db) {
			t.Errorf("%q on a missing database: want exit 1 naming the path and capture migrate, got %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%q created %s", args, db)
		}
	}
	// The default path is relative: the message gives the absolute one it looked for.
	migrations := migrationCount(t, "sqlite")
	t.Chdir(dir)
	if code, _, errOut := capture(t, "keys", "list"); code != 1 || !strings.Contains(errOut, "no database at "+filepath.Join(dir, "capture.db")) {
		t.Errorf("keys list without --db: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := capture(t, "migrate"); code != 0 || out != fmt.Sprintf("%s: created the schema (%d migrations)\n", filepath.Join(dir, "capture.db"), migrations) {
		t.Errorf("migrate creates the database: exit %d, %q", code, out)
	}
}

func TestAdminCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "admin.db")
	if code, out, errOut := capture(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	code, out, errOut := capture(t, "accounts", "create", "acme", "--prospect-limit", "5", "--rate-limit", "7", "--db", db)
	if code != 0 || !strings.HasPrefix(out, "acct_") {
		t.Fatalf("accounts create: %d %q %q", code, out, errOut)
	}
	acmeID := strings.TrimSpace(out)
	if code, _, errOut := capture(t, "accounts", "create", "acme", "--db", db); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("duplicate account: %d %q", code, errOut)
	}

	// A typo in --account must not make a new tenant.
	code, out, errOut = capture(t, "keys", "create", "--account", "acmee", "--db", db)
	if code != 1 || out != "" || !strings.Contains(errOut, `no account named "acmee" (accounts: acme)`) || !strings.Contains(errOut, "--create-account") {
		t.Fatalf("keys create for a missing account: want exit 1 naming it and --create-account, got %d %q %q", code, out, errOut)
	}
	code, out, errOut = capture(t, "keys", "create", "--account", "newco", "--create-account", "--role", "admin", "--db", db)
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "sk_") || strings.Contains(secret, "\n") || !strings.Contains(errOut, "created account newco") {
		t.Fatalf("keys create --create-account: stdout must be only the secret: %d %q %q", code, out, errOut)
	}
	newcoKey := strings.Fields(errOut[strings.Index(errOut, "key_"):])[0]
	code, out, errOut = capture(t, "keys", "create", "--account", "acme", "--db", db)
	if code != 0 || !strings.Contains(errOut, "created standard key") {
		t.Fatalf("keys create for acme: %d %q %q", code, out, errOut)
	}
	acmeSecret := strings.TrimSpace(out)

	code, out, errOut = capture(t, "accounts", "list", "--db", db)
	accounts := jsonLines(t, out)
	if code != 0 || len(accounts) != 2 || accounts[0]["id"] != acmeID || accounts[0]["name"] != "acme" ||
		accounts[0]["prospect_limit"] != 5.0 || accounts[0]["rate_limit"] != 7.0 || accounts[1]["name"] != "newco" {
		t.Fatalf("accounts list (piped: JSON lines): %d\n%s%s", code, out, errOut)
	}

	if code, _, _ := capture(t, "keys", "revoke", newcoKey, "--db", db); code != 0 {
		t.Errorf("keys revoke: %d", code)
	}
	code, out, errOut = capture(t, "keys", "list", "--db", db)
	keys := jsonLines(t, out)
	if code != 0 || len(keys) != 2 || keys[0]["id"] != newcoKey || keys[0]["account"] != "newco" || keys[0]["role"] != "admin" ||
		keys[0]["revoked"] == nil || keys[1]["account"] != "acme" || keys[1]["role"] != "standard" || keys[1]["revoked"] != nil {
		t.Fatalf("keys list: want newco's revoked admin key, then acme's standard key, got %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, secret) || strings.Contains(out, acmeSecret) || strings.Contains(out, "sk_") {
		t.Fatalf("keys list must never print a secret:\n%s", out)
	}
	code, out, _ = capture(t, cobra.ShellCompRequestCmd, "keys", "create", "--db", db, "--account", "")
	if code != 0 || !strings.HasPrefix(out, "acme\nnewco\n:") {
		t.Errorf("completing --account should offer the accounts of --db: %d %q", code, out)
	}
	code, out, _ = capture(t, "keys", "list", "--account", "acme", "--db", db)
	if keys := jsonLines(t, out); code != 0 || len(keys) != 1 || keys[0]["account_id"] != acmeID {
		t.Fatalf("keys list --account acme: %d\n%s", code, out)
	}
	if code, _, errOut := capture(t, "keys", "list", "--account", "nope", "--db", db); code != 1 || !strings.Contains(errOut, `no account named "nope"`) {
		t.Errorf("keys list --account nope: %d %q", code, errOut)
	}
	if code, _, errOut := capture(t, "keys", "revoke", newcoKey, "--db", db); code != 1 || !strings.Contains(errOut, "no active key") {
		t.Errorf("revoking twice: %d %q, want 1", code, errOut)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--account", "acme", "--role", "superuser", "--db", db}, `invalid value "superuser" for --role: want admin or standard`},
		{[]string{"keys", "create", "--role", "admin", "--db", db}, "--account NAME is required"},
		{[]string{"keys", "revoke", "--db", db}, "missing the key ID"},
		{[]string{"accounts", "create", "--db", db}, "missing the account NAME"},
		{[]string{"accounts", "create", "x", "--prospect-limit", "-1", "--db", db}, "--prospect-limit must be 0 or more"},
		{[]string{"accounts", "create", "x", "--rate-limit", "fast", "--db", db}, `invalid value "fast" for --rate-limit: want a whole number`},
		{[]string{"accounts", "lst"}, "Did you mean this?\n\tlist"},
		{[]string{"nope"}, `unknown command "nope" for "capture"`},
		{[]string{"keys", "list", "--bd", db}, "unknown flag: --bd"},
	} {
		code, out, errOut := capture(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for usage") {
			t.Errorf("%q: want exit 64 and %q, got %d, stderr %q", tc.args, tc.want, code, errOut)
		}
	}
}

// Not parallel: it sets process environment variables and the working directory.
func TestAdminCommandsSayWhichDatabaseTheyOpened(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "env.db")
	if code, _, errOut := capture(t, "migrate", "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := capture(t, "accounts", "list", "--db", db); code != 0 || strings.Contains(errOut, "using database") {
		t.Errorf("with --db on the command line the database is obvious; got %d, stderr %q", code, errOut)
	}
	t.Setenv("CAPTURE_DB", db)
	if code, _, errOut := capture(t, "accounts", "list"); code != 0 || errOut != "using database "+db+"\n" {
		t.Errorf("with CAPTURE_DB: want the path on stderr, got %d, stderr %q", code, errOut)
	}
	t.Setenv("CAPTURE_DB", "")
	os.Unsetenv("CAPTURE_DB")
	t.Chdir(dir)
	if code, _, _ := capture(t, "migrate"); code != 0 {
		t.Fatal("migrate")
	}
	if code, _, errOut := capture(t, "accounts", "list"); code != 0 || errOut != "using database "+filepath.Join(dir, "capture.db")+"\n" {
		t.Errorf("with the default ./capture.db: want its absolute path on stderr, got %d, stderr %q", code, errOut)
	}
	t.Setenv("CAPTURE_RETRY_AFTER", "soon")
	if code, _, errOut := capture(t, "maintenance", "on"); code != exitUsage || !strings.Contains(errOut, `CAPTURE_RETRY_AFTER="soon"`) {
		t.Errorf("a bad CAPTURE_RETRY_AFTER: want exit 64 naming the variable, got %d, stderr %q", code, errOut)
	}
	// CAPTURE_RATE_LIMIT is the server's default; it must not slip into a new account.
	t.Setenv("CAPTURE_RATE_LIMIT", "3")
	if code, _, errOut := capture(t, "accounts", "create", "x"); code != 0 {
		t.Fatalf("accounts create: %d %q", code, errOut)
	}
	if _, out, _ := capture(t, "accounts", "list"); jsonLines(t, out)[0]["rate_limit"] != 0.0 {
		t.Errorf("accounts create took CAPTURE_RATE_LIMIT: %s", out)
	}
}

// The admin commands' run functions work without cobra, on the options a
// command line would make.
func TestAdminRunFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "run.db")
	var out, errOut bytes.Buffer
	admin := &adminOptions{DB: path, DBGiven: true, output: output{Out: &out, ErrOut: &errOut}}

	err := accountsCreateRun(ctx, &accountsCreateOptions{adminOptions: admin, Name: "acme", ProspectLimit: 10})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRequest || !strings.Contains(err.Error(), "no database at "+path) {
		t.Fatalf("without a database: want exit status 1 naming %s, got %v", path, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("an admin command created the database")
	}

	if err := migrateRun(ctx, &migrateOptions{DB: path, Out: &out}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := accountsCreateRun(ctx, &accountsCreateOptions{adminOptions: admin, Name: "acme", ProspectLimit: 10}); err != nil ||
		!strings.HasPrefix(out.String(), "acct_") {
		t.Fatalf("accounts create: %v, stdout %q", err, out.String())
	}
	out.Reset()
	if err := keysCreateRun(ctx, &keysCreateOptions{adminOptions: admin, Account: "acme", Role: store.RoleAdmin}); err != nil ||
		!strings.HasPrefix(out.String(), "sk_") || !strings.Contains(errOut.String(), "created admin key key_") {
		t.Fatalf("keys create: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
	out.Reset()
	if err := keysListRun(ctx, &keysListOptions{adminOptions: admin, Account: "acme"}); err != nil {
		t.Fatal(err)
	}
	if keys := jsonLines(t, out.String()); len(keys) != 1 || keys[0]["account"] != "acme" || keys[0]["role"] != "admin" || keys[0]["revoked"] != nil {
		t.Fatalf("keys list, not on a terminal: want the one admin key as JSON, got\n%s", out.String())
	}
}
