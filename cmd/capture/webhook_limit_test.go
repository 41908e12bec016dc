package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
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
	c, err := gen.NewClientWithResponses("http://"+addr, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct, err := c.GetAccountWithResponse(ctx)
	if err != nil || acct.JSON200 == nil || acct.JSON200.WebhookEndpointLimit == nil || *acct.JSON200.WebhookEndpointLimit != 2 {
		t.Errorf("GET /v1/account: %v %s", err, acct.Body)
	}
	create := func(i int) *gen.CreateWebhookEndpointResponse {
		t.Helper()
		res, err := c.CreateWebhookEndpointWithResponse(ctx, &gen.CreateWebhookEndpointParams{},
			gen.WebhookEndpointCreate{Url: fmt.Sprintf("https://h%d.example.com/hook", i), EnabledEvents: []gen.EnabledEvent{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i := range 2 {
		if res := create(i); res.JSON201 == nil {
			t.Fatalf("endpoint %d: %d %s", i, res.StatusCode(), res.Body)
		}
	}
	res := create(2)
	if res.JSON402 == nil || res.JSON402.Error.Code != gen.ErrorCodePlanLimitReached || res.JSON402.Error.Param == nil || *res.JSON402.Error.Param != "url" {
		t.Errorf("the third endpoint: %d %s, want 402 plan_limit_reached on url", res.StatusCode(), res.Body)
	}
	if list, err := c.ListWebhookEndpointsWithResponse(ctx); err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 2 {
		t.Errorf("endpoints after the refused create: %v %s", err, list.Body)
	}
}
