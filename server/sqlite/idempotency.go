package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/captureapi/capture/server/store"
)

// BeginIdempotent claims a key, so two requests with the same key cannot both
// start.
//
// Inside Atomically the claim belongs to the caller's transaction, and is
// written with the answer (FinishIdempotent): writes run one at a time, so no
// other request can claim the key before that transaction commits, and a
// crash leaves the effect and the answer together, or neither and no claim.
// Until the commit, the claim is held in the transaction, where a request of
// the same group commit finds it in use.
//
// Outside, a key already held is answered from a read first, and the claim is
// a write transaction of its own.
func (db *DB) BeginIdempotent(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration) (rec *store.IdempotencyRecord, err error) {
	defer unavailable(&err)
	if tx, ok := ctx.Value(txKey{}).(*writeTx); ok {
		return tx.claim(ctx, accountID, key, fingerprint, requestID, lock)
	}
	if rec, err := holder(db.queryRow(ctx, selectHolder, accountID, key), fingerprint); err != nil || rec != nil {
		return rec, err
	}
	err = db.inTx(ctx, func(tx *writeTx) error {
		if rec, err = tx.claim(ctx, accountID, key, fingerprint, requestID, lock); err != nil || rec != nil {
			return err
		}
		return tx.writeClaim(ctx, tx.claims[claimID(accountID, key)], nil)
	})
	return rec, err
}

const selectHolder = `SELECT fingerprint, request_id, status, body, created, locked_until
	FROM idempotency_keys WHERE account_id = ? AND key = ?`

// claimed is a key claimed in a transaction not committed yet.
type claimed struct {
	accountID, key, requestID string
	fingerprint               []byte
	created                   time.Time
	lock                      time.Duration
}

func claimID(accountID, key string) string { return accountID + "\x00" + key }

// claim claims a key in the transaction, or returns its holder: a request of
// the transaction not answered yet, or the record stored.
func (tx *writeTx) claim(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration) (*store.IdempotencyRecord, error) {
	id := claimID(accountID, key)
	if c, ok := tx.claims[id]; ok {
		return &store.IdempotencyRecord{Fingerprint: c.fingerprint, RequestID: c.requestID}, nil // still running
	}
	if rec, err := holder(tx.QueryRowContext(ctx, selectHolder, accountID, key), fingerprint); err != nil || rec != nil {
		return rec, err
	}
	if tx.claims == nil {
		tx.claims = map[string]*claimed{}
	}
	tx.claims[id] = &claimed{accountID: accountID, key: key, requestID: requestID, fingerprint: fingerprint, created: time.Now(), lock: lock}
	return nil, nil
}

const upsertClaim = `INSERT INTO idempotency_keys (account_id, key, fingerprint, request_id, created, locked_until, status, body)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (account_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, request_id = excluded.request_id,
		status = excluded.status, body = excluded.body, created = excluded.created, locked_until = excluded.locked_until`

// writeClaim stores a claim, with its answer once there is one: an upsert, as
// an expired record, or one whose holder died, may be in the way.
func (tx *writeTx) writeClaim(ctx context.Context, c *claimed, answer *store.IdempotencyRecord) error {
	var status, body any
	if answer != nil {
		status, body = answer.Status, answer.Body
	}
	_, err := tx.ExecContext(ctx, upsertClaim, c.accountID, c.key, c.fingerprint, c.requestID, c.created.Unix(), c.created.Add(c.lock).UnixMilli(), status, body)
	return err
}

// ClaimsInTransaction reports that BeginIdempotent, inside Atomically, claims
// in the caller's transaction (see store.TransactionalClaims).
func (db *DB) ClaimsInTransaction() bool { return true }

// holder reads a key's record and returns it when it holds the key against a
// request with the fingerprint, or nil when the key is free to claim.
func holder(row scanner, fingerprint []byte) (*store.IdempotencyRecord, error) {
	var r store.IdempotencyRecord
	var status sql.NullInt64
	var created, lockedUntil int64
	err := row.Scan(&r.Fingerprint, &r.RequestID, &status, &r.Body, &created, &lockedUntil)
	t := time.Now()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case time.Unix(created, 0).Before(t.Add(-store.IdempotencyTTL)):
		return nil, nil // expired: the key is new again
	case !status.Valid && time.UnixMilli(lockedUntil).Before(t) && bytes.Equal(r.Fingerprint, fingerprint):
		return nil, nil // its holder died (or outlived any deadline) before keeping an answer
	}
	r.Status = int(status.Int64)
	return &r, nil
}

// FinishIdempotent keeps the answer for replays. Inside the transaction that
// claimed the key, it writes the claim and the answer as one record.
func (db *DB) FinishIdempotent(ctx context.Context, accountID, key, requestID string, status int, body []byte) (err error) {
	defer unavailable(&err)
	if tx, ok := ctx.Value(txKey{}).(*writeTx); ok {
		if c := tx.claims[claimID(accountID, key)]; c != nil && c.requestID == requestID {
			return tx.writeClaim(ctx, c, &store.IdempotencyRecord{Status: status, Body: body})
		}
	}
	// Only the holder writes: a request that outlived its lock lost the key to a retry.
	_, err = db.exec(ctx, `UPDATE idempotency_keys SET status = ?, body = ?
		WHERE account_id = ? AND key = ? AND request_id = ? AND status IS NULL`, status, body, accountID, key, requestID)
	return err
}

// ReleaseIdempotent deletes a key's in-flight record.
func (db *DB) ReleaseIdempotent(ctx context.Context, accountID, key, requestID string) (err error) {
	defer unavailable(&err)
	_, err = db.exec(ctx, `DELETE FROM idempotency_keys
		WHERE account_id = ? AND key = ? AND request_id = ? AND status IS NULL`, accountID, key, requestID)
	return err
}
