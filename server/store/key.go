package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"time"
)

// Role is what an API key may do. Admin keys see and set hidden prospects.
type Role string

// The roles a key can have.
const (
	RoleAdmin    Role = "admin"
	RoleStandard Role = "standard"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleStandard }

// APIKey is a secret key's stored form: the secret itself is never kept, only its hash.
type APIKey struct {
	ID        string
	AccountID string
	Role      Role
	Created   time.Time
	Revoked   bool
	// RevokedAt is when the key was revoked; zero unless Revoked. Set by ListKeys.
	RevokedAt time.Time
	// RateLimit is the account's requests per second per key; 0 means the server default.
	RateLimit int
}

// KeyStore keeps API keys: every request is authenticated by KeyBySecret,
// and the admin commands create, list and revoke keys.
type KeyStore interface {
	// CreateKey makes a key for the account and returns it with its secret,
	// which is shown once and never stored.
	CreateKey(ctx context.Context, accountID string, role Role) (*APIKey, string, error)
	// KeyBySecret finds the key whose secret this is; revoked keys are returned
	// with Revoked set so that callers can say so.
	KeyBySecret(ctx context.Context, secret string) (*APIKey, error)
	// RevokeKey revokes a key by id.
	RevokeKey(ctx context.Context, id string) error
	// ListKeys returns the keys of one account, or of every account when
	// accountID is empty, revoked ones included, oldest first. It never returns
	// a secret (none is kept) and leaves RateLimit zero.
	ListKeys(ctx context.Context, accountID string) ([]APIKey, error)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns sk_ and 40 random base62 characters (about 238 bits).
func NewSecret() string {
	b := make([]byte, 40)
	limit := big.NewInt(int64(len(base62)))
	for i := range b {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = base62[n.Int64()]
	}
	return "sk_" + string(b)
}

// HashSecret is the stored form of a key's secret, by which it is looked up.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
