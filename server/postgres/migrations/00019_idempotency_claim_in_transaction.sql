-- +goose Up
-- claim_idempotency_key claims an account's Idempotency-Key inside the
-- request's own transaction, so that the claim, the effect and the kept answer
-- are one commit. A concurrent request must learn at once that the key is
-- held, without waiting on the holder's row, which it cannot see before the
-- commit: a request holds a transaction advisory lock on its fingerprint with
-- the key from its first statement, and a claimer one on the key as well. A
-- request that cannot take the first meets a run of the same request
-- ('same': idempotency_key_in_use). Then the record, if one holds the key, is
-- the answer ('record', in the other columns): a kept answer, or a claim that
-- a server of the version before committed on its own. A request that finds
-- the key free but cannot take the second meets a run of another request
-- ('other': idempotency_key_reused); otherwise the key is its own (''). A
-- request that only reads a record never takes the second lock, so a retry
-- of a finished request is its replay whatever else runs with the key. Each
-- statement sees what committed before it began, so a holder that has just
-- committed is found. The caller's transaction is READ COMMITTED.
--
-- A claim lasts as long as its transaction. A process that dies closes its
-- connections, and PostgreSQL ends their transactions at once; a host that
-- vanishes from the network leaves them idle, so the transaction may stay
-- idle for at most the request's lock (its deadline and a slack, lock_ms)
-- before PostgreSQL ends the session, and the key is free again.
-- +goose StatementBegin
CREATE FUNCTION claim_idempotency_key(account TEXT, idem_key TEXT, fp BYTEA, request TEXT, lock_ms BIGINT, ttl BIGINT,
    OUT held TEXT, OUT r_fingerprint BYTEA, OUT r_request_id TEXT, OUT r_status INTEGER, OUT r_body BYTEA)
LANGUAGE plpgsql AS $$
DECLARE
    expired      BOOLEAN;
    lock_ran_out BOOLEAN;
    claiming     BOOLEAN := false;
BEGIN
    PERFORM set_config('idle_in_transaction_session_timeout', lock_ms::text, true);
    IF NOT pg_try_advisory_xact_lock(hashtextextended(account || ' ' || idem_key || ' ' || encode(fp, 'hex'), 0)) THEN
        held := 'same';
        RETURN;
    END IF;
    FOR attempt IN 1..3 LOOP
        -- Read before writing: a holder of the version before may be inside its
        -- own transaction, whose row lock a write would wait behind.
        SELECT k.fingerprint, k.request_id, k.status, k.body,
                k.created < clock_timestamp() - ttl * interval '1 second',
                k.status IS NULL AND k.locked_until < clock_timestamp()
            INTO r_fingerprint, r_request_id, r_status, r_body, expired, lock_ran_out
            FROM idempotency_keys k WHERE k.account_id = account AND k.key = idem_key;
        IF FOUND AND NOT (expired OR (lock_ran_out AND r_fingerprint = fp)) THEN
            held := 'record';
            RETURN;
        END IF;
        IF NOT claiming THEN
            IF NOT pg_try_advisory_xact_lock(hashtextextended(account || ' ' || idem_key, 0)) THEN
                held := 'other';
                RETURN;
            END IF;
            claiming := true;
        END IF;
        IF NOT FOUND THEN
            INSERT INTO idempotency_keys (account_id, key, fingerprint, request_id, created, locked_until)
            VALUES (account, idem_key, fp, request, clock_timestamp(), clock_timestamp() + lock_ms * interval '1 millisecond')
            ON CONFLICT (account_id, key) DO NOTHING;
        ELSE
            -- Expired, or its holder died (or outlived any deadline) before
            -- keeping an answer: the key is free again.
            UPDATE idempotency_keys k SET fingerprint = fp, request_id = request, status = NULL, body = NULL,
                    created = clock_timestamp(), locked_until = clock_timestamp() + lock_ms * interval '1 millisecond'
                WHERE k.account_id = account AND k.key = idem_key
                    AND (k.created < clock_timestamp() - ttl * interval '1 second'
                        OR (k.status IS NULL AND k.locked_until < clock_timestamp() AND k.fingerprint = fp));
        END IF;
        IF FOUND THEN
            held := '';
            RETURN;
        END IF;
        -- A holder committed, or the record changed, since the read: read again.
    END LOOP;
    held := 'same'; -- the key changed hands under each attempt: a retry decides
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION claim_idempotency_key(TEXT, TEXT, BYTEA, TEXT, BIGINT, BIGINT);
