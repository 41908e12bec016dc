package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WebhookEndpointService is the /v1/webhook_endpoints resource (admin keys
// only: standard keys get [ErrAdminKeyRequired]); reach it as
// Client.WebhookEndpoints.
type WebhookEndpointService struct{ c *Client }

// Create makes a URL receive the account's events. The answer's Secret signs
// every delivery; it is shown this once, so keep it (see [VerifyWebhook]).
func (s *WebhookEndpointService) Create(ctx context.Context, params WebhookEndpointCreateParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	if err := s.c.do(ctx, http.MethodPost, "v1/webhook_endpoints", nil, params, opts, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Get retrieves an endpoint with its latest delivery attempts (RecentAttempts).
func (s *WebhookEndpointService) Get(ctx context.Context, id string, opts ...RequestOption) (*WebhookEndpoint, error) {
	if err := requireID(id, "id", "a webhook endpoint id (we_…)"); err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if err := s.c.do(ctx, http.MethodGet, endpointPath(id), nil, nil, opts, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Update changes the fields set in params: its URL, EnabledEvents, Description
// (cleared with [Null]) or Disabled.
func (s *WebhookEndpointService) Update(ctx context.Context, id string, params WebhookEndpointUpdateParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	if err := requireID(id, "id", "a webhook endpoint id (we_…)"); err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if err := s.c.do(ctx, http.MethodPatch, endpointPath(id), nil, params, opts, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Delete deletes an endpoint; its pending deliveries are dropped.
func (s *WebhookEndpointService) Delete(ctx context.Context, id string, opts ...RequestOption) (*DeletedWebhookEndpoint, error) {
	if err := requireID(id, "id", "a webhook endpoint id (we_…)"); err != nil {
		return nil, err
	}
	var d DeletedWebhookEndpoint
	if err := s.c.do(ctx, http.MethodDelete, endpointPath(id), nil, nil, opts, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListPage fetches the account's endpoints, newest first, without secrets: an
// account has few (16 at most), so one page holds them all. To loop over them,
// use [WebhookEndpointService.List].
func (s *WebhookEndpointService) ListPage(ctx context.Context, opts ...RequestOption) (*WebhookEndpointList, error) {
	var l WebhookEndpointList
	if err := s.c.do(ctx, http.MethodGet, "v1/webhook_endpoints", nil, nil, opts, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// List walks every endpoint of the account, newest first, without secrets, as
// the other lists do:
//
//	for e, err := range c.WebhookEndpoints.List(ctx) {
//		if err != nil {
//			return err // the request failed: yielded once, and the loop ends
//		}
//		fmt.Println(e.ID, e.URL)
//	}
func (s *WebhookEndpointService) List(ctx context.Context, opts ...RequestOption) iter.Seq2[WebhookEndpoint, error] {
	return func(yield func(WebhookEndpoint, error) bool) {
		l, err := s.ListPage(ctx, opts...)
		if err != nil {
			yield(WebhookEndpoint{}, err)
			return
		}
		for _, e := range l.Data {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func endpointPath(id string) string { return "v1/webhook_endpoints/" + url.PathEscape(id) }

// WebhookTolerance is how far a delivery's webhook-timestamp may be from now
// for [VerifyWebhook] to accept it: older deliveries may be replays.
const WebhookTolerance = 5 * time.Minute

// Errors of [VerifyWebhook].
var (
	// ErrWebhookHeaders: the webhook-id, webhook-timestamp or webhook-signature header is missing or malformed.
	ErrWebhookHeaders = errors.New("capture: webhook headers missing or malformed")
	// ErrWebhookTimestamp: the delivery's timestamp is more than WebhookTolerance away from now.
	ErrWebhookTimestamp = errors.New("capture: webhook timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches the body with this secret.
	ErrWebhookSignature = errors.New("capture: webhook signature does not match")
)

// VerifyWebhook checks a delivery's Standard Webhooks signature with the
// endpoint's secret (whsec_…) and returns its event. Pass the request body as
// received, unparsed, and its headers:
//
//	body, _ := io.ReadAll(r.Body)
//	event, err := client.VerifyWebhook(body, r.Header, secret)
//	if err != nil {
//		http.Error(w, "bad signature", http.StatusBadRequest)
//		return
//	}
//
// It fails with ErrWebhookHeaders, ErrWebhookTimestamp (more than
// [WebhookTolerance] from now) or ErrWebhookSignature. A delivery may come
// more than once: use event.ID to do its work once.
func VerifyWebhook(body []byte, header http.Header, secret string) (*Event, error) {
	return verifyWebhook(body, header, secret, time.Now())
}

func verifyWebhook(body []byte, header http.Header, secret string, now time.Time) (*Event, error) {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return nil, ErrWebhookHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: webhook-timestamp %q", ErrWebhookHeaders, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return nil, ErrWebhookTimestamp
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("capture: the webhook secret is not whsec_ and base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	matched := false
	for _, s := range strings.Fields(sigs) { // "v1,<sig> v1,<sig>" while a secret rotates
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			matched = true
		}
	}
	if !matched {
		return nil, ErrWebhookSignature
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("capture: the webhook body is not an event: %w", err)
	}
	return &e, nil
}
