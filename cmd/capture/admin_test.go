package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
)

// capture runs the command line in-process and returns its exit status and output.
func capture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// waitForStatus polls url until it answers want, for at most a second.
func waitForStatus(t *testing.T, url, key string, want int) (*http.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == want {
			return res, time.Since(start)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("%s still answers %d after a second, want %d", url, res.StatusCode, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
}

func TestAdminCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "admin.db")
	if code, out, errOut := capture(t, "accounts", "create", "acme", "--prospect-limit", "5", "--rate-limit", "7", "--db", db); code != 0 || !strings.HasPrefix(out, "acct_") {
		t.Fatalf("accounts create: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := capture(t, "accounts", "create", "acme", "--db", db); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("duplicate account: %d %q", code, errOut)
	}
	code, out, errOut := capture(t, "keys", "create", "--account", "newco", "--role", "admin", "--db", db)
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "sk_") || strings.Contains(secret, "\n") {
		t.Fatalf("keys create: stdout must be only the secret: %d %q %q", code, out, errOut)
	}
	keyID := strings.Fields(errOut[strings.Index(errOut, "key_"):])[0]
	if code, _, errOut := capture(t, "keys", "revoke", keyID, "--db", db); code != 0 {
		t.Errorf("keys revoke: %d %s", code, errOut)
	}
	if code, _, _ := capture(t, "keys", "revoke", keyID, "--db", db); code != 1 {
		t.Errorf("revoking twice: %d, want 1", code)
	}
	if code, _, _ := capture(t, "keys", "create", "--account", "x", "--role", "root", "--db", db); code != exitUsage {
		t.Errorf("bad role: %d, want %d", code, exitUsage)
	}
	t.Setenv("CAPTURE_DB", db)
	if code, out, _ := capture(t, "migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("migrate with CAPTURE_DB: %d %q", code, out)
	}
	if code, _, _ := capture(t, "nope"); code != exitUsage {
		t.Errorf("unknown command: %d, want %d", code, exitUsage)
	}
}
