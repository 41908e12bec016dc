-- +goose Up
-- The rows a create writes no longer lock their account's row. A foreign
-- key's check locks the row it references (FOR KEY SHARE) in every
-- inserting transaction, so each concurrent create of an account joined the
-- lock on that one row: a new MultiXact, a WAL record and the page's
-- exclusive lock at every create, the hot row of the write path. Accounts
-- are never deleted, and the account of these rows is the one the request's
-- API key belongs to; admit_prospect, which every create runs, refuses an
-- account it cannot find (it looks only when no plan counts the create in).
-- The other tables keep their keys: no create writes them.
ALTER TABLE prospects DROP CONSTRAINT prospects_account_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_account_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_account_id_fkey;
ALTER TABLE consents DROP CONSTRAINT consents_account_id_fkey;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION admit_prospect(account TEXT, sealed_key TEXT, email_hash BYTEA, hooks BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    key     TEXT;
    enabled INTEGER;
BEGIN
    IF NOT count_prospects_in(account, 1) THEN
        IF NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = account) THEN
            RAISE EXCEPTION 'no account %', account USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'the plan of account % allows no more prospects', account USING ERRCODE = 'CP001';
    END IF;
    SELECT a.suppression_key, a.webhook_endpoints_enabled INTO key, enabled FROM accounts a WHERE a.id = account;
    IF key IS DISTINCT FROM sealed_key THEN
        RAISE EXCEPTION 'the suppression key of account % changed', account USING ERRCODE = 'CP002';
    END IF;
    IF NOT hooks AND enabled > 0 THEN
        RAISE EXCEPTION 'account % has enabled webhook endpoints', account USING ERRCODE = 'CP004';
    END IF;
    IF email_hash IS NOT NULL AND EXISTS
        (SELECT 1 FROM suppressions s WHERE s.account_id = account AND s.email_hash = admit_prospect.email_hash) THEN
        RAISE EXCEPTION 'the email is suppressed' USING ERRCODE = 'CP003';
    END IF;
    RETURN enabled > 0;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION admit_prospect(account TEXT, sealed_key TEXT, email_hash BYTEA, hooks BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    key     TEXT;
    enabled INTEGER;
BEGIN
    IF NOT count_prospects_in(account, 1) THEN
        RAISE EXCEPTION 'the plan of account % allows no more prospects', account USING ERRCODE = 'CP001';
    END IF;
    SELECT a.suppression_key, a.webhook_endpoints_enabled INTO key, enabled FROM accounts a WHERE a.id = account;
    IF key IS DISTINCT FROM sealed_key THEN
        RAISE EXCEPTION 'the suppression key of account % changed', account USING ERRCODE = 'CP002';
    END IF;
    IF NOT hooks AND enabled > 0 THEN
        RAISE EXCEPTION 'account % has enabled webhook endpoints', account USING ERRCODE = 'CP004';
    END IF;
    IF email_hash IS NOT NULL AND EXISTS
        (SELECT 1 FROM suppressions s WHERE s.account_id = account AND s.email_hash = admit_prospect.email_hash) THEN
        RAISE EXCEPTION 'the email is suppressed' USING ERRCODE = 'CP003';
    END IF;
    RETURN enabled > 0;
END $$;
-- +goose StatementEnd
ALTER TABLE consents ADD CONSTRAINT consents_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE events ADD CONSTRAINT events_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE prospects ADD CONSTRAINT prospects_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
