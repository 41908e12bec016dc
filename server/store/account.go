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
	ProspectCount int64 // live prospects now
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
}
