package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// With a key, a signing secret is sealed at rest: the file does not hold it,
// the store gives it back to deliveries, and a store without the key cannot.
func TestWebhookSecretsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "capture.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := db.SetSecretKey(key); err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateAccount(ctx, "acme", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://x.example.com", EnabledEvents: []string{"*"}}
	if err := db.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("secret %q", e.Secret)
	}
	var stored string
	if err := db.QueryRowForTest(ctx, `SELECT secret FROM webhook_endpoints WHERE id = ?`, e.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, strings.TrimPrefix(e.Secret, "whsec_")) {
		t.Errorf("the secret is in the file as it is: %s", stored)
	}
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	page, err := db.ListEvents(ctx, a.ID, store.EventListParams{Limit: 1})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("events: %v %v", page, err)
	}
	got, _, err := db.WebhookDelivery(ctx, e.ID, page.Events[0].ID)
	if err != nil || got.Secret != e.Secret {
		t.Errorf("delivery secret %q, %v; want %q", got.Secret, err, e.Secret)
	}

	other, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, err := other.WebhookDelivery(ctx, e.ID, page.Events[0].ID); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("a store without the key unsealed the secret: %v", err)
	}
	other.SetSecretKey([]byte("another key of thirty-two bytes!"))
	if _, _, err := other.WebhookDelivery(ctx, e.ID, page.Events[0].ID); err == nil {
		t.Error("another key unsealed the secret")
	}
}
