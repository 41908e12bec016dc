package clienttest_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/captureapi/capture/client"
)

// What the specification's reference library signs, VerifyWebhook accepts,
// and returns the typed event.
func TestVerifyWebhookAgainstReferenceLibrary(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","object":"event","type":"prospect.updated","created":1,` +
		`"data":{"object":{"id":"prs_1","object":"prospect","email":"ada@example.com","status":"qualified"},` +
		`"previous_attributes":{"status":"new"}},"request":{"id":"req_1","idempotency_key":null}}`)
	now := time.Now()
	sig, err := wh.Sign("evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	e, err := client.VerifyWebhook(body, h, secret)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_1" || e.Type != "prospect.updated" || e.Data.Object.Email != "ada@example.com" ||
		e.Data.Object.Status != client.ProspectStatusQualified || e.Data.PreviousAttributes.Status != "new" {
		t.Errorf("event %+v", e)
	}
}
