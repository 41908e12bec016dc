-- +goose Up
-- claim_idempotency_key claims an account's Idempotency-Key inside the
-- request's own transaction, so that the claim, the effect and the kept answer
-- are one commit. A concurrent request must learn at once that the key is
-- held, without waiting on the holder's row, which it cannot see before the
-- commit: the holder also holds two transaction advisory locks, one on the
-- request's fingerprint with the key (taken first) and one on the key. A
-- request that cannot take the first meets a run of the same request
-- ('same': idempotency_key_in_use); one that takes the first but not the
-- second meets a run of another request ('other': idempotency_key_reused).
-- Otherwise the key is its to claim (''), unless a record holds it
-- ('record', read in the other columns): an answer kept, or a claim a server
-- of the version before committed on its own. Each statement sees what
-- committed before it began, so a holder that just committed is found.
-- +goose StatementBegin
CREATE FUNCTION claim_idempotency_key(account TEXT, idem_key TEXT, fp BYTEA, request TEXT, lock_ms BIGINT, ttl BIGINT,
    OUT held TEXT, OUT r_fingerprint BYTEA, OUT r_request_id TEXT, OUT r_status INTEGER, OUT r_body BYTEA)
LANGUAGE plpgsql AS $$
DECLARE
    expired      BOOLEAN;
    lock_ran_out BOOLEAN;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(account || ' ' || idem_key || ' ' || encode(fp, 'hex'), 0)) THEN
        held := 'same';
        RETURN;
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtextextended(account || ' ' || idem_key, 0)) THEN
        held := 'other';
        RETURN;
    END IF;
    FOR attempt IN 1..3 LOOP
        INSERT INTO idempotency_keys (account_id, key, fingerprint, request_id, created, locked_until)
        VALUES (account, idem_key, fp, request, clock_timestamp(), clock_timestamp() + lock_ms * interval '1 millisecond')
        ON CONFLICT (account_id, key) DO NOTHING;
        IF FOUND THEN
            held := '';
            RETURN;
        END IF;
        -- Read before writing: a holder of the version before may be inside its
        -- own transaction, whose row lock an update would wait behind.
        SELECT k.fingerprint, k.request_id, k.status, k.body,
                k.created < clock_timestamp() - ttl * interval '1 second',
                k.status IS NULL AND k.locked_until < clock_timestamp()
            INTO r_fingerprint, r_request_id, r_status, r_body, expired, lock_ran_out
            FROM idempotency_keys k WHERE k.account_id = account AND k.key = idem_key;
        CONTINUE WHEN NOT FOUND; -- purged since the insert met it
        IF NOT (expired OR (lock_ran_out AND r_fingerprint = fp)) THEN
            held := 'record';
            RETURN;
        END IF;
        -- Expired, or its holder died (or outlived any deadline) before keeping
        -- an answer: the key is free again.
        UPDATE idempotency_keys k SET fingerprint = fp, request_id = request, status = NULL, body = NULL,
                created = clock_timestamp(), locked_until = clock_timestamp() + lock_ms * interval '1 millisecond'
            WHERE k.account_id = account AND k.key = idem_key
                AND (k.created < clock_timestamp() - ttl * interval '1 second'
                    OR (k.status IS NULL AND k.locked_until < clock_timestamp() AND k.fingerprint = fp));
        IF FOUND THEN
            held := '';
            RETURN;
        END IF;
    END LOOP;
    held := 'same'; -- claimed and freed again by others meanwhile: a retry decides
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION claim_idempotency_key(TEXT, TEXT, BYTEA, TEXT, BIGINT, BIGINT);
