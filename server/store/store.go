// Package store defines what the Capture server keeps: accounts, their API keys and
// their prospects, and the Store interface a database implements to keep them.
// Handlers speak only to this interface, so SQLite (package sqlite) and
// PostgreSQL (package postgres) are interchangeable; package storetest is the
// suite both pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
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

// Account is a tenant: every key and prospect belongs to exactly one.
type Account struct {
	ID            string
	Name          string
	ProspectLimit int64 // live prospects the plan allows
	RateLimit     int   // requests per second per key; 0 means the server default
	ProspectCount int64 // live prospects now
	Created       time.Time
}

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

// Prospect is a person who may buy. Optional text fields are nil when unset.
type Prospect struct {
	ID               string
	AccountID        string
	Email            string
	FirstName        *string
	LastName         *string
	Company          *string
	Title            *string
	Phone            *string
	Website          *string
	Source           *string
	Status           string
	Tags             []string
	Metadata         map[string]string
	MarketingConsent bool
	ConsentAt        *time.Time
	Hidden           bool
	Created          time.Time
	Updated          time.Time
}

// ProspectPatch is a partial update: a nil field is left alone. For the optional
// text fields, a non-nil pointer to nil clears the field.
type ProspectPatch struct {
	Email            *string
	FirstName        **string
	LastName         **string
	Company          **string
	Title            **string
	Phone            **string
	Website          **string
	Source           **string
	Status           *string
	Tags             *[]string // pointer to nil clears
	Metadata         map[string]string
	ClearMetadata    bool // remove every key before merging Metadata
	MarketingConsent *bool
	Hidden           *bool
}

// ListParams selects one page of an account's live prospects, newest first.
type ListParams struct {
	Limit         int
	StartingAfter string // older than this id
	EndingBefore  string // newer than this id
	Email         string
	Status        string
	Tag           string
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
	IncludeHidden bool
	// AsJSON asks for the page as Page.JSON. An engine that cannot write the
	// API's Prospect object in its own query fills Page.Prospects instead.
	AsJSON bool
}

// Page is one page of prospects and whether more lie beyond it in the walk's direction.
type Page struct {
	Prospects []Prospect
	// JSON holds the page's prospects instead of Prospects when ListParams
	// asked for it and the engine could: each is the API's Prospect object,
	// valid UTF-8, with the fields of the one the server writes from a Prospect.
	JSON    []json.RawMessage
	HasMore bool
}

// IdempotencyRecord is what is kept of a request made with an Idempotency-Key.
type IdempotencyRecord struct {
	Fingerprint []byte // SHA-256 of method, path and body
	RequestID   string // the request that ran
	Status      int    // 0 while the request is still running
	Body        []byte
}

// Maintenance is the maintenance-mode flag every replica reads.
type Maintenance struct {
	On         bool
	RetryAfter int // seconds clients are told to wait
}

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// Errors a Store returns; handlers map them to the API's error object.
var (
	// ErrNotFound: no such record in this account (another account's ids are unknown too).
	ErrNotFound = errors.New("store: not found")
	// ErrDeleted: the prospect existed and was deleted; only its tombstone is left.
	ErrDeleted = errors.New("store: deleted")
	// ErrPlanLimit: the account has as many live prospects as its plan allows.
	ErrPlanLimit = errors.New("store: plan limit reached")
	// ErrUnavailable wraps failures to reach the database at all.
	ErrUnavailable = errors.New("store: unavailable")
)

// ExistsError reports that a live prospect of the account already has the email.
type ExistsError struct {
	ID     string
	Hidden bool // the existing prospect is hidden: only admin keys may learn its id
}

func (e *ExistsError) Error() string { return "store: a live prospect has this email: " + e.ID }

// TransactionalClaims is implemented by a Store whose BeginIdempotent, called
// inside Atomically, claims the key in that transaction, so that the claim, the
// effect and the kept answer of an idempotent request are one write
// transaction. That needs writes to run one at a time (SQLite's single
// writer), or another request could claim the key before the transaction
// commits. A store with concurrent writers (PostgreSQL, shared by replicas)
// commits the claim first, on its own, for every replica to see at once.
type TransactionalClaims interface {
	ClaimsInTransaction() bool
}

// Store keeps accounts, keys and prospects. Every method scopes its work to one
// account; no method returns another account's data.
type Store interface {
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

	// CreateProspect inserts p (its ID, Created and Updated are set), enforcing the
	// plan limit and the uniqueness of the email among live prospects.
	//
	// CreateProspect, UpdateProspect and DeleteProspect each record the change's
	// Event (prospect.created, .updated with PreviousAttributes, .deleted with the
	// id only), with the request RequestFrom(ctx) names, and enqueue its webhook
	// deliveries, in the change's own transaction: all commit or none does.
	CreateProspect(ctx context.Context, p *Prospect) error
	// CreateProspects inserts ps, all of one account, in order and in one
	// transaction (joining the caller's Atomically), as many CreateProspect
	// calls would one after another, each with its event, and returns each
	// one's outcome: nil (created: its ID, Created and Updated are set), an
	// *ExistsError (a live prospect, perhaps an earlier one of ps, has its
	// email) or ErrPlanLimit; a failed item writes nothing. With
	// stopAtConflict it returns after the first *ExistsError, with fewer
	// outcomes than ps, so that the caller can act on that item before the
	// rest. The error is no item's (storage): then nothing of ps is kept.
	CreateProspects(ctx context.Context, ps []*Prospect, stopAtConflict bool) ([]error, error)
	// Prospect returns a live prospect, ErrDeleted for a tombstone or ErrNotFound.
	Prospect(ctx context.Context, accountID, id string) (*Prospect, error)
	// UpdateProspect applies the patch and returns the new state; check runs on the
	// patched state inside the same transaction and can veto the update.
	UpdateProspect(ctx context.Context, accountID, id string, patch ProspectPatch, check func(*Prospect) error) (*Prospect, error)
	// DeleteProspect erases a prospect's data, keeping a tombstone; check can veto it.
	DeleteProspect(ctx context.Context, accountID, id string, check func(*Prospect) error) error
	// ListProspects returns one page of live prospects.
	ListProspects(ctx context.Context, accountID string, params ListParams) (*Page, error)

	// Atomically runs fn so that every write fn makes through the context it is
	// given commits together, or none does: an idempotent request's effect and its
	// kept answer (FinishIdempotent) are one transaction, so a crash at any instant
	// leaves both or neither.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error

	// BeginIdempotent claims the account's key for a request: it returns nil when
	// the request may run (the key is new, expired, or its holder's lock ran out),
	// or the record that holds the key (finished, or still running).
	BeginIdempotent(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration) (*IdempotencyRecord, error)
	// FinishIdempotent keeps the answer of the request, if it still holds the key;
	// called inside Atomically, with the request's effect.
	FinishIdempotent(ctx context.Context, accountID, key, requestID string, status int, body []byte) error
	// ReleaseIdempotent frees a key the request holds, when its answer is not to be kept.
	ReleaseIdempotent(ctx context.Context, accountID, key, requestID string) error
	// PurgeIdempotency deletes the records created before the time, returning how many.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)

	// SetMaintenance turns maintenance mode on or off for every replica.
	SetMaintenance(ctx context.Context, m Maintenance) error
	// Maintenance reads the maintenance flag.
	Maintenance(ctx context.Context) (Maintenance, error)

	// Ping tells whether the database can be written, and is still the one opened.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
