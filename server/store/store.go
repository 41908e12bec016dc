// Package store defines what the Capture server keeps (accounts, their API
// keys, their prospects, the events log and webhook endpoints) as domain
// types, and the small interfaces, one per resource, that a database
// implements to keep them. Handlers speak only to these interfaces, so SQLite
// (package sqlite) and PostgreSQL (package postgres) are interchangeable;
// package storetest is the suite both pass. Nothing here knows the API's
// wire format: that is package server's.
package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Errors a Store returns; handlers map them to the API's error object.
var (
	// ErrNotFound: no such record in this account (another account's ids are unknown too).
	ErrNotFound = errors.New("store: not found")
	// ErrDeleted: the prospect existed and was deleted; only its tombstone is left.
	ErrDeleted = errors.New("store: deleted")
	// ErrPlanLimit: the account has as many live prospects as its plan allows.
	ErrPlanLimit = errors.New("store: plan limit reached")
	// ErrEndpointLimit: the account has as many webhook endpoints as it may have.
	ErrEndpointLimit = errors.New("store: webhook endpoint limit reached")
	// ErrUnavailable wraps failures to reach the database at all, or to use
	// it now (busy, or contention that runs again did not overcome).
	ErrUnavailable = errors.New("store: unavailable")
)

// ExistsError reports that a live prospect of the account already has the email.
type ExistsError struct {
	ID     string
	Hidden bool // the existing prospect is hidden: only admin keys may learn its id
}

func (e *ExistsError) Error() string { return "store: a live prospect has this email: " + e.ID }

// Store is what every engine provides, each resource's interface composed:
// the server is configured with a Store and hands each part of itself only
// the interfaces it uses. The events log and webhook endpoints (EventStore,
// WebhookStore) are configured beside it. Every method scopes its work to one
// account; no method returns another account's data.
type Store interface {
	AccountStore
	KeyStore
	ProspectStore
	SearchStore
	IdempotencyStore
	MaintenanceStore
	Database
}

// Database is the engine itself, beyond any one resource: transactions that
// span resources, health, and closing.
type Database interface {
	// Atomically runs fn so that every write fn makes through the context it is
	// given commits together, or none does: an idempotent request's effect and its
	// kept answer (FinishIdempotent) are one transaction, so a crash at any instant
	// leaves both or neither.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error

	// Ping tells whether the database can be written, and is still the one opened.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Now is the time a store records: whole seconds, as the API shows them.
func Now() time.Time { return time.Now().Truncate(time.Second) }

// NewID returns prefix + a ULID in lower case: unique, and sorted by creation time.
func NewID(prefix string) string { return prefix + strings.ToLower(ulid.Make().String()) }
