package store

import (
	"context"
	"time"
)

// Account is a tenant: every key and prospect belongs to exactly one.
type Account struct {
	ID            string
	Name          string
	ProspectLimit int64 // live prospects the plan allows
	RateLimit     int   // requests per second per key; 0 means the server default
	// WebhookEndpointLimit is how many webhook endpoints, disabled ones
	// included, the account may have: each endpoint multiplies the deliveries
	// every change enqueues, which all tenants' deliveries queue behind.
	WebhookEndpointLimit int
	ProspectCount        int64 // live prospects now
	// RetentionDays, when set, is how long a prospect not updated (and not
	// converted) is kept before the daily sweep deletes it; nil keeps it forever.
	RetentionDays *int
	Created       time.Time
}

// AccountStore keeps accounts, the tenants every other record belongs to:
// the admin commands create and list them, and the API reads its caller's.
type AccountStore interface {
	// CreateAccount makes an account; rateLimit 0 means the server default.
	CreateAccount(ctx context.Context, name string, prospectLimit int64, rateLimit int) (*Account, error)
	// AccountByName finds an account by its unique name.
	AccountByName(ctx context.Context, name string) (*Account, error)
	// Account returns an account with its live prospect count.
	Account(ctx context.Context, id string) (*Account, error)
	// CountAccounts tells whether the database is still empty.
	CountAccounts(ctx context.Context) (int, error)
	// ListAccounts returns every account with its live prospect count, oldest first.
	ListAccounts(ctx context.Context) ([]Account, error)
	// SetWebhookEndpointLimit sets how many webhook endpoints the account may
	// have (DefaultWebhookEndpointLimit until set); endpoints it has beyond a
	// lowered limit stay.
	SetWebhookEndpointLimit(ctx context.Context, accountID string, limit int) error
	// SetRetentionDays sets how many days a prospect not updated, and not
	// converted, is kept (nil: forever, the default).
	SetRetentionDays(ctx context.Context, accountID string, days *int) error
}

// DefaultWebhookEndpointLimit is how many webhook endpoints an account may
// have unless set otherwise.
const DefaultWebhookEndpointLimit = 16
