package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
)

// Racing creates past the account's webhook endpoint limit: exactly as many
// as the limit answer 201, every other one 402 plan_limit_reached on url, as
// the spec says, on each engine.
func TestWebhookEndpointLimit(t *testing.T) { onEachEngine(t, testWebhookEndpointLimit) }

func testWebhookEndpointLimit(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	const limit, tries = 2, 10
	if err := s.Store.SetWebhookEndpointLimit(ctx, a.ID, limit); err != nil {
		t.Fatal(err)
	}
	c := s.Client(t, s.AdminKey)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			res, err := c.CreateWebhookEndpointWithResponse(ctx, &gen.CreateWebhookEndpointParams{},
				gen.WebhookEndpointCreate{Url: fmt.Sprintf("https://h%d.example.com/hook", i), EnabledEvents: []gen.EnabledEvent{"*"}})
			if err != nil {
				t.Error(err)
				return
			}
			if res.StatusCode() == 402 && (res.JSON402.Error.Code != gen.ErrorCodePlanLimitReached || res.JSON402.Error.Param == nil || *res.JSON402.Error.Param != "url") {
				t.Errorf("a create past the limit: %s, want plan_limit_reached on url", res.Body)
			}
			mu.Lock()
			statuses[res.StatusCode()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[201] != limit || statuses[402] != tries-limit {
		t.Errorf("statuses %v, want %d × 201 and %d × 402", statuses, limit, tries-limit)
	}
}
