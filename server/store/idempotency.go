package store

import (
	"context"
	"time"
)

// IdempotencyRecord is what is kept of a request made with an Idempotency-Key.
type IdempotencyRecord struct {
	Fingerprint []byte // SHA-256 of method, path and body
	RequestID   string // the request that ran
	Status      int    // 0 while the request is still running
	Body        []byte
}

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyStore keeps the answers of requests made with an
// Idempotency-Key, so that a retry gets the first answer instead of running
// again.
type IdempotencyStore interface {
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
}

// TransactionalClaims is implemented by a Store whose BeginIdempotent, called
// inside Atomically, claims the key in that transaction, so that the claim, the
// effect and the kept answer of an idempotent request are one write
// transaction. The store must still tell a concurrent request at once that
// the key is held, before that transaction commits: SQLite runs writes one at
// a time, PostgreSQL holds advisory locks on the key until the commit. A
// store without it commits the claim first, on its own.
type TransactionalClaims interface {
	ClaimsInTransaction() bool
}
