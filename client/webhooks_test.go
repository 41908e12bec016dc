package client

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The Standard Webhooks specification's published test vector.
func TestVerifyWebhookSpecVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	at := time.Unix(1614265330, 0)
	if _, err := verifyWebhook(body, h, secret, at); err != nil {
		t.Fatalf("the spec's vector: %v", err)
	}
	if _, err := verifyWebhook([]byte(`{"test": 2432232315}`), h, secret, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("a changed body: %v, want ErrWebhookSignature", err)
	}
	if _, err := verifyWebhook(body, h, "whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("another secret: %v, want ErrWebhookSignature", err)
	}
	if _, err := verifyWebhook(body, h, secret, at.Add(WebhookTolerance+time.Second)); !errors.Is(err, ErrWebhookTimestamp) {
		t.Errorf("6 minutes late: %v, want ErrWebhookTimestamp", err)
	}
	if _, err := verifyWebhook(body, h, secret, at.Add(-WebhookTolerance-time.Second)); !errors.Is(err, ErrWebhookTimestamp) {
		t.Errorf("6 minutes early: %v, want ErrWebhookTimestamp", err)
	}
	if _, err := verifyWebhook(body, h, secret, at.Add(WebhookTolerance-time.Second)); err != nil {
		t.Errorf("4:59 late: %v", err)
	}
	// Several signatures (a secret being rotated): one match is enough.
	h.Set("webhook-signature", "v1,Zm9v v2,bar v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if _, err := verifyWebhook(body, h, secret, at); err != nil {
		t.Errorf("with several signatures: %v", err)
	}
	h.Del("webhook-id")
	if _, err := verifyWebhook(body, h, secret, at); !errors.Is(err, ErrWebhookHeaders) {
		t.Errorf("without webhook-id: %v, want ErrWebhookHeaders", err)
	}
}
