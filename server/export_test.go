package server

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/captureapi/capture/server/store"
)

// Fingerprint lets tests make the claim a crashed request of a key with the role
// leaves behind.
func Fingerprint(r *http.Request, role store.Role) []byte {
	ctx := withRecorder(r.Context(), &recorder{key: &store.APIKey{Role: role}})
	return fingerprint(r.WithContext(ctx))
}

// SetRateLimitClock gives the server's rate limiter a clock of the test's.
func SetRateLimitClock(s *Server, now func() time.Time) { s.limits.now = now }

// GuardedDial dials as webhook deliveries do.
func GuardedDial(ctx context.Context, allowPrivate bool, address string) (net.Conn, error) {
	return guardedDialer(allowPrivate, 2*time.Second).DialContext(ctx, "tcp", address)
}

// AttemptFailure attempts one delivery to url as the webhook worker does and
// returns the error its attempt shows through the API ("" when it succeeded).
func AttemptFailure(ctx context.Context, url string, allowPrivate bool, timeout time.Duration) string {
	d := newDeliverer(DeliveryOptions{AllowPrivate: allowPrivate, Timeout: timeout})
	ep := &store.WebhookEndpoint{ID: "we_test", URL: url, Secret: store.NewWebhookSecret()}
	if _, err := d.send(ctx, ep, "evt_test", []byte(`{}`)); err != nil {
		return failureClass(err)
	}
	return ""
}
