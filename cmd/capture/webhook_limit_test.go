package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// An account made with --webhook-endpoint-limit 2 gets two endpoints and a
// 402 plan_limit_reached on url for the third, from the real binary; GET
// /v1/account and accounts list show the limit, 16 for an account made
// without the flag.
func TestWebhookEndpointLimitAgainstBinary(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "limits.db")
	for _, args := range [][]string{
		{"migrate", "--db", path},
		{"accounts", "create", "acme", "--webhook-endpoint-limit", "2", "--db", path},
		{"accounts", "create", "globex", "--db", path},
	} {
		if out, errOut, code := runPiped(t, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d, %q %q", args, code, out, errOut)
		}
	}
	out, errOut, code := runPiped(t, nil, "keys", "create", "--account", "acme", "--role", "admin", "--db", path)
	if code != 0 {
		t.Fatalf("keys create: exit %d, %q", code, errOut)
	}
	key := strings.TrimSpace(out)
	out, errOut, code = runPiped(t, nil, "accounts", "list", "--json", "--db", path)
	accounts := jsonLines(t, out)
	if code != 0 || len(accounts) != 2 || accounts[0]["webhook_endpoint_limit"] != 2.0 || accounts[1]["webhook_endpoint_limit"] != 16.0 {
		t.Fatalf("accounts list: exit %d, %q %q", code, out, errOut)
	}

	addr := freeAddr(t)
	startServer(t, path, addr)
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return res.StatusCode, v
	}
	if status, a := call("GET", "/v1/account", ""); status != 200 || a["webhook_endpoint_limit"] != 2.0 {
		t.Errorf("GET /v1/account: %d %v", status, a)
	}
	for i := range 2 {
		if status, e := call("POST", "/v1/webhook_endpoints", fmt.Sprintf(`{"url": "https://h%d.example.com/hook", "enabled_events": ["*"]}`, i)); status != 201 {
			t.Fatalf("endpoint %d: %d %v", i, status, e)
		}
	}
	status, body := call("POST", "/v1/webhook_endpoints", `{"url": "https://h2.example.com/hook", "enabled_events": ["*"]}`)
	e, _ := body["error"].(map[string]any)
	if status != 402 || e["code"] != "plan_limit_reached" || e["param"] != "url" {
		t.Errorf("the third endpoint: %d %v, want 402 plan_limit_reached on url", status, body)
	}
	if status, list := call("GET", "/v1/webhook_endpoints", ""); status != 200 || len(list["data"].([]any)) != 2 {
		t.Errorf("endpoints after the refused create: %d %v", status, list)
	}
}
