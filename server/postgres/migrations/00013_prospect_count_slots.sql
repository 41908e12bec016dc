-- +goose Up
-- An account's count of live prospects, split so that concurrent creates of
-- one account do not all wait on one row: accounts.live_prospects, which no
-- create or deletion changes any more, plus the sum of 16 slots, of which a
-- create adds to its connection's only. A slot may go below zero (a deletion
-- takes from its own connection's slot too).
CREATE TABLE prospect_counts (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    slot       SMALLINT NOT NULL,
    live       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, slot)
) WITH (fillfactor = 50); -- room for updates in place (HOT)

INSERT INTO prospect_counts (account_id, slot) SELECT id, s FROM accounts, generate_series(0, 15) s;

-- live_prospects is the account's count of live prospects.
-- +goose StatementBegin
CREATE FUNCTION live_prospects(account TEXT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT a.live_prospects + (SELECT coalesce(sum(c.live), 0) FROM prospect_counts c WHERE c.account_id = account)::bigint
    FROM accounts a WHERE a.id = account
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION prospect_counts_make() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prospect_counts (account_id, slot) SELECT NEW.id, s FROM generate_series(0, 15) s;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER prospect_counts_make AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION prospect_counts_make();

-- count_prospects_in counts n new live prospects into the account's count if
-- its plan allows them, exactly: it returns false when it does not. Every
-- transaction that counts in holds the row of its slot until it ends, so at
-- most one per slot is uncommitted: far from the limit (the committed sum,
-- read after taking the slot, plus 15 others in flight, within the limit) a
-- create holds its own slot only. Near the limit it takes every slot, in
-- order, and decides on the exact sum. Should the count reach the limit
-- between the first read and the slot's, it answers serialization_failure
-- (40001), and the caller's retry takes the near path. The far path is for
-- one prospect, once in a transaction (the setting capture.counted_in notes
-- it): the bound of 15 in flight holds only while each slot's uncommitted
-- change is one, so a batch, or a second count in one transaction, takes
-- every slot.
-- +goose StatementBegin
CREATE FUNCTION count_prospects_in(account TEXT, n BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
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

-- admit_prospect counts one new prospect in (raising CP001 when the plan does
-- not allow it) and checks its email against the suppression list: the
-- caller passes the account's sealed suppression key it hashed the email
-- with (CP002 when the account's is another now) and the hash, NULL when the
-- account has no key (CP003 when the email is suppressed). One call, so that
-- a create is one round trip.
-- +goose StatementBegin
CREATE FUNCTION admit_prospect(account TEXT, sealed_key TEXT, email_hash BYTEA) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF NOT count_prospects_in(account, 1) THEN
        RAISE EXCEPTION 'the plan of account % allows no more prospects', account USING ERRCODE = 'CP001';
    END IF;
    IF (SELECT suppression_key FROM accounts WHERE id = account) IS DISTINCT FROM sealed_key THEN
        RAISE EXCEPTION 'the suppression key of account % changed', account USING ERRCODE = 'CP002';
    END IF;
    IF email_hash IS NOT NULL AND EXISTS
        (SELECT 1 FROM suppressions s WHERE s.account_id = account AND s.email_hash = admit_prospect.email_hash) THEN
        RAISE EXCEPTION 'the email is suppressed' USING ERRCODE = 'CP003';
    END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION admit_prospect(TEXT, TEXT, BYTEA);
DROP FUNCTION count_prospects_in(TEXT, BIGINT);
DROP TRIGGER prospect_counts_make ON accounts;
DROP FUNCTION prospect_counts_make();
UPDATE accounts a SET live_prospects = live_prospects(a.id);
DROP FUNCTION live_prospects(TEXT);
DROP TABLE prospect_counts;
