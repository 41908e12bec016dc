package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
)

// Past the account's webhook endpoint limit, a create answers 402
// plan_limit_reached on url, as the spec says, on each engine; GET
// /v1/account shows the limit.
func TestWebhookEndpointLimit(t *testing.T) { onEachEngine(t, testWebhookEndpointLimit) }

func testWebhookEndpointLimit(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.SetWebhookEndpointLimit(ctx, a.ID, 2); err != nil {
		t.Fatal(err)
	}
	c := s.Client(t, s.AdminKey)
	acct, err := c.GetAccountWithResponse(ctx)
	if err != nil || acct.JSON200 == nil || acct.JSON200.WebhookEndpointLimit == nil || *acct.JSON200.WebhookEndpointLimit != 2 {
		t.Fatalf("GET /v1/account: %v %s", err, acct.Body)
	}
	create := func(i int) *gen.CreateWebhookEndpointResponse {
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
}
