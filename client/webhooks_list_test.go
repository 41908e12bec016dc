package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/captureapi/capture/client"
)

// WebhookEndpoints.List is an iterator like the other lists: it yields the
// endpoints in the API's order, stops when the loop breaks, and yields a
// failed request once as the error.
func TestWebhookEndpointsListIterates(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Request-Id", "req_1")
		if r.Header.Get("Authorization") == "Bearer sk_standard" {
			writeAPIError(w, 403, "invalid_request_error", "admin_key_required", "This operation needs an admin key.")
			return
		}
		writeJSON(w, 200, map[string]any{"object": "list", "url": "/v1/webhook_endpoints", "has_more": false, "data": []any{
			map[string]any{"id": "we_2", "object": "webhook_endpoint", "url": "https://b.example.com/hook", "enabled_events": []string{"*"}},
			map[string]any{"id": "we_1", "object": "webhook_endpoint", "url": "https://a.example.com/hook", "enabled_events": []string{"prospect.created"}},
		}})
	})
	ctx := context.Background()
	var ids []string
	for e, err := range fastClient(srv.URL).WebhookEndpoints.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if len(ids) != 2 || ids[0] != "we_2" || ids[1] != "we_1" {
		t.Errorf("listed %q, want [we_2 we_1]", ids)
	}
	for range fastClient(srv.URL).WebhookEndpoints.List(ctx) {
		break // stopping early must not panic
	}
	errs := 0
	for _, err := range client.New("sk_standard", client.WithBaseURL(srv.URL)).WebhookEndpoints.List(ctx) {
		errs++
		if !errors.Is(err, client.ErrAdminKeyRequired) {
			t.Errorf("err %v, want ErrAdminKeyRequired", err)
		}
	}
	if errs != 1 {
		t.Errorf("yielded %d errors, want 1", errs)
	}
}
