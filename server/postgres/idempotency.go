package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// holderQuery reads a key's record, and whether the database's clock says it
// expired or its holder's lock ran out.
const holderQuery = `SELECT fingerprint, request_id, status, body,
		created < clock_timestamp() - $3::bigint * interval '1 second',
		status IS NULL AND locked_until < clock_timestamp()
	FROM idempotency_keys WHERE account_id = $1 AND key = $2`

// BeginIdempotent claims a key with one conditional upsert, so two requests
// with the same key (on any replica) cannot both start. A key already held is
// answered from a read first: its holder may be inside its own transaction
// (its effect and answer, see Atomically), whose row lock a claim would
// otherwise wait behind instead of answering 409 at once.
func (db *DB) BeginIdempotent(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration) (rec *store.IdempotencyRecord, err error) {
	defer unavailable(ctx, &err)
	ttl := int64(store.IdempotencyTTL / time.Second)
	for attempt := 0; ; attempt++ {
		rec, free, err := db.holder(ctx, accountID, key, fingerprint, ttl)
		if err != nil || !free {
			return rec, err
		}
		var claimed bool
		// One statement: it needs no transaction (or savepoint) of its own.
		err = db.with(ctx, func(q querier) error {
			var got string
			err := q.QueryRow(ctx, `INSERT INTO idempotency_keys (account_id, key, fingerprint, request_id, created, locked_until)
				VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp() + $5::bigint * interval '1 millisecond')
				ON CONFLICT (account_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, request_id = excluded.request_id,
					status = NULL, body = NULL, created = excluded.created, locked_until = excluded.locked_until
				WHERE idempotency_keys.created < clock_timestamp() - $6::bigint * interval '1 second'
					OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until < clock_timestamp()
						AND idempotency_keys.fingerprint = excluded.fingerprint)
				RETURNING request_id`,
				accountID, key, fingerprint, requestID, lock.Milliseconds(), ttl).Scan(&got)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // another request holds the key
			}
			claimed = err == nil
			return err
		})
		if err != nil || claimed {
			return nil, err
		}
		// Lost the race: answer from the record that won, unless it is gone again.
		if rec, free, err = db.holder(ctx, accountID, key, fingerprint, ttl); err != nil || !free || attempt == 2 {
			return rec, err
		}
	}
}

// holder reads a key's record: free reports that the key may be claimed (no
// record, expired, or a crashed holder of the same request); otherwise rec is
// the record that holds it.
func (db *DB) holder(ctx context.Context, accountID, key string, fingerprint []byte, ttl int64) (rec *store.IdempotencyRecord, free bool, err error) {
	var r store.IdempotencyRecord
	var status *int32
	var expired, lockRanOut bool
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, holderQuery, accountID, key, ttl).Scan(&r.Fingerprint, &r.RequestID, &status, &r.Body, &expired, &lockRanOut)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case expired:
		return nil, true, nil
	case lockRanOut && string(r.Fingerprint) == string(fingerprint):
		return nil, true, nil // its holder died (or outlived any deadline) before keeping an answer
	}
	if status != nil {
		r.Status = int(*status)
	}
	return &r, false, nil
}

// FinishIdempotent keeps the answer for replays, if the request still holds the key.
func (db *DB) FinishIdempotent(ctx context.Context, accountID, key, requestID string, status int, body []byte) (err error) {
	defer unavailable(ctx, &err)
	// Only the holder writes: a request that outlived its lock lost the key to a retry.
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `UPDATE idempotency_keys SET status = $1, body = $2
			WHERE account_id = $3 AND key = $4 AND request_id = $5 AND status IS NULL`, status, body, accountID, key, requestID)
		return err
	})
}

// ReleaseIdempotent deletes a key's in-flight record.
func (db *DB) ReleaseIdempotent(ctx context.Context, accountID, key, requestID string) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM idempotency_keys
			WHERE account_id = $1 AND key = $2 AND request_id = $3 AND status IS NULL`, accountID, key, requestID)
		return err
	})
}
