package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// WebhookEndpoint is a URL that receives an account's events, signed with its secret.
type WebhookEndpoint struct {
	ID            string // we_ + a time-ordered suffix
	AccountID     string
	URL           string
	Description   string
	EnabledEvents []string // event types, or "*" for all
	Disabled      bool
	// Secret (whsec_ + base64) signs deliveries. The API shows it once, when the
	// endpoint is created; the store returns it only from CreateWebhookEndpoint
	// and WebhookDelivery.
	Secret string
	// FailingSince is when deliveries to the endpoint started failing without a
	// success since; nil while it succeeds.
	FailingSince *time.Time
	Created      time.Time
}

// WebhookEndpointPatch changes an endpoint: a nil field is left alone.
type WebhookEndpointPatch struct {
	URL           *string
	Description   *string
	EnabledEvents *[]string
	Disabled      *bool
}

// WebhookAttempt is one attempt to deliver an event to an endpoint.
type WebhookAttempt struct {
	ID         string // wha_ + a time-ordered suffix
	EndpointID string
	EventID    string
	Attempt    int // 1 for the first attempt of the delivery
	Created    time.Time
	StatusCode int // the receiver's HTTP status; 0 when none came
	Duration   time.Duration
	Error      string // why the attempt failed; "" on success
	Succeeded  bool
}

// WebhookStore keeps webhook endpoints and the attempts to deliver to them.
// Deliveries themselves are enqueued by the Store's prospect changes, in their
// transactions (an outbox), never through this interface.
type WebhookStore interface {
	// CreateWebhookEndpoint inserts e, setting its ID, Secret and Created, or
	// returns ErrEndpointLimit when the account has as many endpoints as its
	// WebhookEndpointLimit, exactly so under concurrent creates.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpoint returns one endpoint of the account (without its secret), or ErrNotFound.
	WebhookEndpoint(ctx context.Context, accountID, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints returns the account's endpoints, newest first, without secrets.
	ListWebhookEndpoints(ctx context.Context, accountID string) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint applies the patch and returns the endpoint; enabling
	// an endpoint again clears FailingSince.
	UpdateWebhookEndpoint(ctx context.Context, accountID, id string, patch WebhookEndpointPatch) (*WebhookEndpoint, error)
	// DeleteWebhookEndpoint deletes an endpoint with its attempts; its pending
	// deliveries are dropped when they come up.
	DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error
	// WebhookAttempts returns the endpoint's latest attempts, newest first.
	WebhookAttempts(ctx context.Context, accountID, endpointID string, limit int) ([]WebhookAttempt, error)
	// ResendEvent enqueues the account's event again, through the outbox as a
	// change's deliveries are: to the endpoint endpointID when it is set, else
	// to every endpoint of the account, in each case only an enabled endpoint
	// whose enabled_events has the event's type. It returns the ids of the
	// endpoints it enqueued the event for, sorted, or ErrNotFound when the
	// account has no such event.
	ResendEvent(ctx context.Context, accountID, eventID, endpointID string) ([]string, error)

	// WebhookDelivery returns what a delivery needs: the endpoint with its secret
	// and the event. ErrNotFound when either is gone.
	WebhookDelivery(ctx context.Context, endpointID, eventID string) (*WebhookEndpoint, *Event, error)
	// RecordWebhookAttempt keeps an attempt and tracks the endpoint's failures: a
	// success clears FailingSince, a failure sets it if unset, and disables the
	// endpoint when it was set before disableAfter ago. It reports whether the
	// endpoint is now disabled.
	RecordWebhookAttempt(ctx context.Context, a *WebhookAttempt, disableAfter time.Duration) (disabled bool, err error)
	// WebhookQueue tells how many deliveries are pending, and since when, for metrics.
	WebhookQueue(ctx context.Context) (DeliveryQueue, error)

	// ClaimDeliverySlot takes one of the endpoint's n delivery slots for the
	// job, for at most lease (a process that dies holding one frees it so),
	// and reports whether one was free: the database bounds how many
	// deliveries to one endpoint run at once across every process. A job that
	// holds a slot already gets it again.
	ClaimDeliverySlot(ctx context.Context, endpointID string, jobID int64, n int, lease time.Duration) (bool, error)
	// ReleaseDeliverySlot frees the slot the job holds for the endpoint, if any.
	ReleaseDeliverySlot(ctx context.Context, endpointID string, jobID int64) error
	// SealSecretAnswer is the form in which an answer that carries a signing
	// secret is kept for Idempotency-Key replays: sealed like the secrets
	// themselves (SecretBox), bound to scope (its account and key).
	SealSecretAnswer(scope string, answer []byte) []byte
	// OpenSecretAnswer reads back an answer that SealSecretAnswer kept.
	OpenSecretAnswer(scope string, kept []byte) ([]byte, error)
}

// Delivery is the job of delivering one event to one endpoint, as a durable
// queue keeps it (its Kind names it in River's job table).
type Delivery struct {
	EndpointID string `json:"endpoint_id"`
	EventID    string `json:"event_id"`
}

// Kind is the job's kind in the queue.
func (Delivery) Kind() string { return "webhook_delivery" }

// DeliveryQueue describes the deliveries not yet done: scheduled, waiting for
// a retry or running.
type DeliveryQueue struct {
	Pending       int64
	OldestPending time.Time // when the oldest pending delivery was enqueued; zero without any
}

// Apply changes e as the patch says; enabling a disabled endpoint again
// clears FailingSince, so that its three days start afresh.
func (patch WebhookEndpointPatch) Apply(e *WebhookEndpoint) {
	if patch.URL != nil {
		e.URL = *patch.URL
	}
	if patch.Description != nil {
		e.Description = *patch.Description
	}
	if patch.EnabledEvents != nil {
		e.EnabledEvents = *patch.EnabledEvents
	}
	if patch.Disabled != nil {
		if e.Disabled && !*patch.Disabled {
			e.FailingSince = nil
		}
		e.Disabled = *patch.Disabled
	}
}

// NewWebhookSecret is whsec_ + base64 of 24 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// sealedPrefix marks a webhook secret sealed with AES-256-GCM at rest.
const sealedPrefix = "sealed:v1:"

// SecretBox seals webhook signing secrets at rest with AES-256-GCM, each bound
// to its endpoint's id: a copy of the database alone does not give the
// secrets that sign deliveries. A box without a key (the zero value) keeps
// secrets as they are, and fails to open one sealed under a key.
type SecretBox struct {
	aead cipher.AEAD
}

// SetKey makes the box seal under key, which must be 32 bytes.
func (b *SecretBox) SetKey(key []byte) error {
	if len(key) != 32 {
		return fmt.Errorf("the webhook secret key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	b.aead = g
	return nil
}

// Seal is the form of an endpoint's secret at rest.
func (b *SecretBox) Seal(endpointID, secret string) string {
	if b.aead == nil {
		return secret
	}
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	return sealedPrefix + base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(secret), []byte(endpointID)))
}

// Open reads an endpoint's secret back from its form at rest.
func (b *SecretBox) Open(endpointID, stored string) (string, error) {
	if !strings.HasPrefix(stored, sealedPrefix) {
		return stored, nil
	}
	if b.aead == nil {
		return "", fmt.Errorf("the secret of webhook endpoint %s is sealed, and the server has no webhook secret key", endpointID)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
	if err != nil {
		return "", err
	}
	n := b.aead.NonceSize()
	if len(raw) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(endpointID))
	if err != nil {
		return "", fmt.Errorf("unseal the secret of webhook endpoint %s (another webhook secret key?): %w", endpointID, err)
	}
	return string(plain), nil
}
