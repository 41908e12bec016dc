-- +goose Up
-- Each slot of an account's count gets a share of the plan's room: its cap.
-- A create far from the limit adds one to a slot whose count is under its
-- cap, in one UPDATE of that row, and reads nothing else: the count stays
-- exact, since every slot stays within its cap and the caps add up to at
-- most the plan's limit. Before, a create read the account's whole count
-- twice (16 rows), locked a slot and then updated it. Only when its slot is
-- full, or for a batch, does a count take every slot, decide on the exact
-- sum and share the room left among the slots again.
ALTER TABLE prospect_counts ADD COLUMN cap BIGINT NOT NULL DEFAULT 0;

-- live_prospects in PL/pgSQL, whose statements are planned once a
-- connection: a SQL function that PostgreSQL cannot inline (its body reads
-- tables) is parsed and planned again at every call. What it returns is
-- unchanged, as is the snapshot it reads: a STABLE function reads its
-- caller's.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION live_prospects(account TEXT) RETURNS BIGINT LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT a.live_prospects + (SELECT coalesce(sum(c.live), 0) FROM prospect_counts c WHERE c.account_id = account)::bigint
        FROM accounts a WHERE a.id = account);
END $$;
-- +goose StatementEnd

-- share_prospect_room sets every slot's cap to its count plus an even share
-- of the room the plan leaves (none when the count is at or over the
-- limit). The caller holds every slot of the account.
-- +goose StatementBegin
CREATE FUNCTION share_prospect_room(account TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    room BIGINT;
BEGIN
    SELECT greatest(a.prospect_limit - live_prospects(account), 0) INTO room FROM accounts a WHERE a.id = account;
    UPDATE prospect_counts SET cap = live + room / 16 + (slot < room % 16)::int WHERE account_id = account;
END $$;
-- +goose StatementEnd

UPDATE prospect_counts SET cap = live;
SELECT share_prospect_room(id) FROM accounts;

-- A new account's slots share its whole plan.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION prospect_counts_make() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prospect_counts (account_id, slot) SELECT NEW.id, s FROM generate_series(0, 15) s;
    PERFORM share_prospect_room(NEW.id);
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- A changed plan, or base count, shares the room again.
-- +goose StatementBegin
CREATE FUNCTION prospect_counts_reshare() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM prospect_counts WHERE account_id = NEW.id ORDER BY slot FOR UPDATE;
    PERFORM share_prospect_room(NEW.id);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER prospect_counts_reshare AFTER UPDATE OF prospect_limit, live_prospects ON accounts FOR EACH ROW
    WHEN (OLD.prospect_limit IS DISTINCT FROM NEW.prospect_limit OR OLD.live_prospects IS DISTINCT FROM NEW.live_prospects)
    EXECUTE FUNCTION prospect_counts_reshare();

-- count_prospects_in counts n new live prospects into the account's count if
-- its plan allows them, exactly: it returns false when it does not. One
-- prospect goes into a slot under its cap: the first slot, from its
-- connection's own on, that no other create in flight holds (an advisory
-- lock of the transaction marks it, in memory), so that creates on more
-- connections than slots do not wait for each other's commits. A full slot,
-- or a batch, takes every slot in order, counts in on the exact sum, and
-- shares the room left again.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION count_prospects_in(account TEXT, n BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    lim   BIGINT;
    total BIGINT;
    mine  SMALLINT := pg_backend_pid() % 16;
    free  SMALLINT := mine;
BEGIN
    IF n = 1 THEN
        FOR i IN 0..15 LOOP
            IF pg_try_advisory_xact_lock(hashtext(account), (mine + i) % 16) THEN
                free := (mine + i) % 16;
                EXIT;
            END IF;
        END LOOP;
        -- A slot full as of now goes to the near path holding no slot. One
        -- that fills while this waits for its row (the UPDATE then locks the
        -- row without changing it) ends the transaction instead, as taking
        -- the other slots while holding it could deadlock: the caller's
        -- retry sees the slot full.
        IF (SELECT c.live < c.cap FROM prospect_counts c WHERE c.account_id = account AND c.slot = free) THEN
            UPDATE prospect_counts SET live = live + 1 WHERE account_id = account AND slot = free AND live < cap;
            IF FOUND THEN
                RETURN true;
            END IF;
            RAISE EXCEPTION 'slot % of the prospect count of account % filled during a create', free, account
                USING ERRCODE = 'serialization_failure';
        END IF;
    END IF;
    PERFORM 1 FROM prospect_counts WHERE account_id = account ORDER BY slot FOR UPDATE;
    SELECT a.prospect_limit, live_prospects(account) INTO lim, total FROM accounts a WHERE a.id = account;
    IF lim IS NULL OR total + n > lim THEN
        RETURN false;
    END IF;
    UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = free;
    PERFORM share_prospect_room(account);
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
    free  SMALLINT;
BEGIN
    SELECT a.prospect_limit, live_prospects(account) INTO lim, total FROM accounts a WHERE a.id = account;
    IF lim IS NULL THEN
        RETURN false;
    END IF;
    IF n = 1 AND total + n + 32 <= lim
        AND coalesce(current_setting('capture.counted_in', true), '') = '' THEN
        PERFORM set_config('capture.counted_in', 'yes', true);
        SELECT c.slot INTO free FROM prospect_counts c WHERE c.account_id = account
            ORDER BY (c.slot - mine + 16) % 16 LIMIT 1 FOR UPDATE SKIP LOCKED;
        UPDATE prospect_counts SET live = live + n WHERE account_id = account AND slot = coalesce(free, mine);
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
DROP TRIGGER prospect_counts_reshare ON accounts;
DROP FUNCTION prospect_counts_reshare();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION prospect_counts_make() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prospect_counts (account_id, slot) SELECT NEW.id, s FROM generate_series(0, 15) s;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP FUNCTION share_prospect_room(TEXT);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION live_prospects(account TEXT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT a.live_prospects + (SELECT coalesce(sum(c.live), 0) FROM prospect_counts c WHERE c.account_id = account)::bigint
    FROM accounts a WHERE a.id = account
$$;
-- +goose StatementEnd
ALTER TABLE prospect_counts DROP COLUMN cap;
