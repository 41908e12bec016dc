-- +goose Up
-- A create far from its account's limit counts in through the first slot no
-- other transaction holds, rather than always through its connection's: with
-- more connections than slots (several replicas, each with its pool), two
-- creates whose connections shared a slot waited for each other's commit
-- while other slots were free. The bound stays: each slot holds at most one
-- uncommitted count, so at most 15 others are in flight.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION count_prospects_in(account TEXT, n BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    lim   BIGINT;
    total BIGINT;
    mine  SMALLINT := pg_backend_pid() % 16;
    free  SMALLINT;
BEGIN
    SELECT a.prospect_limit, live_prospects(account) INTO lim, total FROM accounts a WHERE a.id = account;
    IF lim IS NULL THEN
        RETURN false;
    END IF;
    IF n = 1 AND total + n + 32 <= lim
        AND coalesce(current_setting('capture.counted_in', true), '') = '' THEN
        PERFORM set_config('capture.counted_in', 'yes', true);
        -- The first slot no other transaction holds, from the connection's
        -- own on; the connection's own, waited for, when all 16 are held.
        SELECT c.slot INTO free FROM prospect_counts c WHERE c.account_id = account
            ORDER BY (c.slot - mine + 16) % 16 LIMIT 1 FOR UPDATE SKIP LOCKED;
        UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = coalesce(free, mine);
        -- A new snapshot, taken once this slot is ours.
        total := live_prospects(account);
        IF total + 15 <= lim THEN
            RETURN true;
        END IF;
        RAISE EXCEPTION 'the prospect count of account % neared its limit during a create', account
            USING ERRCODE = 'serialization_failure';
    END IF;
    PERFORM 1 FROM prospect_counts WHERE account_id = account ORDER BY slot FOR UPDATE;
    total := live_prospects(account);
    IF total + n > lim THEN
        RETURN false;
    END IF;
    UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = mine;
    RETURN true;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION count_prospects_in(account TEXT, n BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    lim   BIGINT;
    total BIGINT;
    mine  SMALLINT := pg_backend_pid() % 16;
BEGIN
    SELECT a.prospect_limit, live_prospects(account) INTO lim, total FROM accounts a WHERE a.id = account;
    IF lim IS NULL THEN
        RETURN false;
    END IF;
    IF n = 1 AND total + n + 32 <= lim
        AND coalesce(current_setting('capture.counted_in', true), '') = '' THEN
        PERFORM set_config('capture.counted_in', 'yes', true);
        UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = mine;
        -- A new snapshot, taken once this slot is ours.
        total := live_prospects(account);
        IF total + 15 <= lim THEN
            RETURN true;
        END IF;
        RAISE EXCEPTION 'the prospect count of account % neared its limit during a create', account
            USING ERRCODE = 'serialization_failure';
    END IF;
    PERFORM 1 FROM prospect_counts WHERE account_id = account ORDER BY slot FOR UPDATE;
    total := live_prospects(account);
    IF total + n > lim THEN
        RETURN false;
    END IF;
    UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = mine;
    RETURN true;
END $$;
-- +goose StatementEnd
