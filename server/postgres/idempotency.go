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

// BeginIdempotent claims a key, so two requests with the same key (on any
// replica) cannot both start.
//
// Inside Atomically the claim is the transaction's first statement
// (claim_idempotency_key, migration 00019): the claim, the effect and the
// kept answer commit together, and a crash leaves all of them or none, the
// claim included. Until the commit the holder's advisory locks tell another
// request, on any replica, that the key is held and whether by a run of the
// same request.
//
// Outside, the claim is one conditional upsert committed on its own. A key
// already held is answered from a read first: its holder may be inside its
// own transaction (its effect and answer, see Atomically), whose row lock a
// claim would otherwise wait behind instead of answering 409 at once. A new
// key, the usual case, is claimed (or its holder read) in one round trip by
// claimNew; the upsert is for a record that expired or whose holder died.
func (db *DB) BeginIdempotent(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration) (rec *store.IdempotencyRecord, err error) {
	defer unavailable(ctx, &err)
	ttl := int64(store.IdempotencyTTL / time.Second)
	if tx, ok := ctx.Value(txKey{}).(*outerTx); ok {
		return tx.claim(ctx, accountID, key, fingerprint, requestID, lock, ttl)
	}
	rec, free, err := db.claimNew(ctx, accountID, key, fingerprint, requestID, lock, ttl)
	if err != nil || !free {
		return rec, err
	}
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

// claimNewSQL claims a key that has no record ($1…$5 as in the upsert of
// BeginIdempotent; ON CONFLICT DO NOTHING takes no lock on a record there
// is), or else reads the record, as holderQuery ($6 the TTL) does.
const claimNewSQL = `WITH claim AS (
		INSERT INTO idempotency_keys (account_id, key, fingerprint, request_id, created, locked_until)
		VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp() + $5::bigint * interval '1 millisecond')
		ON CONFLICT (account_id, key) DO NOTHING RETURNING 1)
	SELECT true, NULL, '', NULL, NULL, false, false FROM claim
	UNION ALL
	SELECT false, fingerprint, request_id, status, body,
		created < clock_timestamp() - $6::bigint * interval '1 second',
		status IS NULL AND locked_until < clock_timestamp()
	FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claim)`

// claimNew claims a key no record holds, in one statement: free false with
// rec nil says it did. Otherwise it is as holder: rec the record that holds
// the key, or free, with rec nil, when the record expired or its holder
// died, or when the record it met committed after the statement began (the
// caller then claims as for an expired one).
func (db *DB) claimNew(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration, ttl int64) (rec *store.IdempotencyRecord, free bool, err error) {
	var r store.IdempotencyRecord
	var claimed, expired, lockRanOut bool
	var status *int32
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, claimNewSQL, accountID, key, fingerprint, requestID, lock.Milliseconds(), ttl).
			Scan(&claimed, &r.Fingerprint, &r.RequestID, &status, &r.Body, &expired, &lockRanOut)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case claimed:
		return nil, false, nil
	case expired:
		return nil, true, nil
	case lockRanOut && string(r.Fingerprint) == string(fingerprint):
		return nil, true, nil
	}
	if status != nil {
		r.Status = int(*status)
	}
	return &r, false, nil
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

// claim claims a key as the transaction's first statement, which begins it;
// see BeginIdempotent.
func (tx *outerTx) claim(ctx context.Context, accountID, key string, fingerprint []byte, requestID string, lock time.Duration, ttl int64) (*store.IdempotencyRecord, error) {
	const claim = `SELECT held, r_fingerprint, coalesce(r_request_id, ''), r_status, r_body FROM claim_idempotency_key($1, $2, $3, $4, $5, $6)`
	args := []any{accountID, key, fingerprint, requestID, lock.Milliseconds(), ttl}
	var row pgx.Row
	if tx.Tx == nil {
		b := new(pgx.Batch)
		b.BeginTx(pgx.TxOptions{IsoLevel: pgx.ReadCommitted}) // the claim's reads need it
		b.Queue(claim, args...)
		res := tx.sendBegin(ctx, b)
		defer res.Close()
		if _, err := res.Exec(); err != nil { // BEGIN
			return nil, err
		}
		row = res.QueryRow()
	} else {
		row = tx.QueryRow(ctx, claim, args...)
	}
	var held string
	var r store.IdempotencyRecord
	var status *int32
	if err := row.Scan(&held, &r.Fingerprint, &r.RequestID, &status, &r.Body); err != nil {
		return nil, err
	}
	switch held {
	case "":
		return nil, nil
	case "same": // running, as far as can be seen, and not committed
		return &store.IdempotencyRecord{Fingerprint: fingerprint}, nil
	case "other":
		return &store.IdempotencyRecord{}, nil // another fingerprint: reused
	}
	if status != nil {
		r.Status = int(*status)
	}
	return &r, nil
}

// FinishIdempotent keeps the answer for replays, if the request still holds the key.
func (db *DB) FinishIdempotent(ctx context.Context, accountID, key, requestID string, status int, body []byte) (err error) {
	defer unavailable(ctx, &err)
	// Only the holder writes: a request that outlived its lock lost the key to a retry.
	const keep = `UPDATE idempotency_keys SET status = $1, body = $2
		WHERE account_id = $3 AND key = $4 AND request_id = $5 AND status IS NULL`
	if tx, ok := ctx.Value(txKey{}).(*outerTx); ok {
		// The answer of the request's transaction (Atomically) is its last
		// write: it goes with the commit.
		tx.withCommit(keep, status, body, accountID, key, requestID)
		return nil
	}
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, keep, status, body, accountID, key, requestID)
		return err
	})
}

// ClaimsInTransaction reports that BeginIdempotent, inside Atomically, claims
// in the caller's transaction (see store.TransactionalClaims).
func (db *DB) ClaimsInTransaction() bool { return true }

// ReleaseIdempotent deletes a key's in-flight record.
func (db *DB) ReleaseIdempotent(ctx context.Context, accountID, key, requestID string) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM idempotency_keys
			WHERE account_id = $1 AND key = $2 AND request_id = $3 AND status IS NULL`, accountID, key, requestID)
		return err
	})
}
