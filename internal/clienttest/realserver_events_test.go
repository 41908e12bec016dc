package clienttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
)

func TestRealServerEventsAndWebhooks(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, func(c *server.Config) { c.WebhooksAllowPrivate = true })
	admin, standard := realClient(s, s.AdminKey), realClient(s, s.StandardKey)
	ctx := context.Background()

	// A receiver that checks each delivery with VerifyWebhook.
	var secret string
	got := make(chan *client.Event, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e, err := client.VerifyWebhook(body, r.Header, secret)
		if err != nil {
			t.Errorf("VerifyWebhook: %v", err)
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		got <- e
	}))
	defer rcv.Close()

	if _, err := standard.WebhookEndpoints.Create(ctx, client.WebhookEndpointCreateParams{URL: rcv.URL, EnabledEvents: []client.EnabledEvent{"*"}}); !errors.Is(err, client.ErrAdminKeyRequired) {
		t.Fatalf("create with a standard key: %v, want ErrAdminKeyRequired", err)
	}
	ep, err := admin.WebhookEndpoints.Create(ctx, client.WebhookEndpointCreateParams{URL: rcv.URL,
		EnabledEvents: []client.EnabledEvent{"*"}, Description: "test receiver"})
	if err != nil {
		t.Fatal(err)
	}
	secret = ep.Secret
	q, err := s.DB.StartQueue(ctx, server.DeliveryConfig(server.DeliveryOptions{Webhooks: s.DB, AllowPrivate: true,
		PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)

	p, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := standard.Prospects.Update(ctx, p.ID, client.ProspectUpdateParams{Status: client.Set(client.ProspectStatusQualified)}); err != nil {
		t.Fatal(err)
	}
	var types []string
	for e, err := range standard.Events.List(ctx, client.EventListParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, e.Type)
		if e.Data.Object.ID != p.ID {
			t.Errorf("event %s is about %s", e.ID, e.Data.Object.ID)
		}
	}
	if len(types) != 2 || types[0] != "prospect.updated" || types[1] != "prospect.created" {
		t.Fatalf("events %v", types)
	}
	page, err := standard.Events.ListPage(ctx, client.EventListParams{Type: "prospect.updated"})
	if err != nil || len(page.Data) != 1 || page.Data[0].Data.PreviousAttributes.Status != "new" {
		t.Fatalf("updated events: %+v %v", page, err)
	}
	e, err := standard.Events.Get(ctx, page.Data[0].ID)
	if err != nil || e.Request.ID == "" {
		t.Fatalf("get event: %+v %v", e, err)
	}
	if _, err := standard.Events.Get(ctx, "evt_nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown event: %v", err)
	}

	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case e := <-got:
			seen[e.Type] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries after 10 s: %v", seen)
		}
	}

	// Each attempt is recorded once the receiver has answered.
	var attempts []client.WebhookAttempt
	poll.Until(t, 10*time.Second, "both attempts recorded on the endpoint", func() (bool, string) {
		one, err := admin.WebhookEndpoints.Get(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		attempts = one.RecentAttempts
		return len(attempts) == 2, fmt.Sprintf("attempts %+v", attempts)
	})
	if !attempts[0].Succeeded || attempts[0].StatusCode != 200 {
		t.Errorf("attempt %+v", attempts[0])
	}

	// Resend delivers the event again, with its id; standard keys may not.
	r, err := admin.Events.Resend(ctx, e.ID, client.EventResendParams{Endpoint: ep.ID})
	if err != nil || r.Event != e.ID || len(r.Endpoints) != 1 || r.Endpoints[0] != ep.ID {
		t.Fatalf("resend: %+v %v", r, err)
	}
	select {
	case again := <-got:
		if again.ID != e.ID || again.Type != "prospect.updated" {
			t.Errorf("resent %s %s, want %s", again.ID, again.Type, e.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resent delivery after 10 s")
	}
	if _, err := standard.Events.Resend(ctx, e.ID, client.EventResendParams{}); !errors.Is(err, client.ErrAdminKeyRequired) {
		t.Errorf("resend with a standard key: %v, want ErrAdminKeyRequired", err)
	}
	if _, err := admin.Events.Resend(ctx, "evt_nope", client.EventResendParams{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("resend of an unknown event: %v, want ErrNotFound", err)
	}

	upd, err := admin.WebhookEndpoints.Update(ctx, ep.ID, client.WebhookEndpointUpdateParams{Disabled: client.Set(true), Description: client.Null[string]()})
	if err != nil || !upd.Disabled || upd.Description != "" {
		t.Fatalf("update: %+v %v", upd, err)
	}
	var listed []client.WebhookEndpoint
	for e, err := range admin.WebhookEndpoints.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, e)
	}
	if len(listed) != 1 || listed[0].ID != ep.ID || listed[0].Secret != "" {
		t.Fatalf("list: %+v", listed)
	}
	onePage, err := admin.WebhookEndpoints.ListPage(ctx)
	if err != nil || len(onePage.Data) != 1 || onePage.HasMore {
		t.Fatalf("list page: %+v %v", onePage, err)
	}
	if _, err := admin.WebhookEndpoints.Delete(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.WebhookEndpoints.Get(ctx, ep.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
