-- +goose Up
-- admit_prospect with the create's guess of whether the account has enabled
-- webhook endpoints: a create that guessed none records its event without the
-- outbox statement (whose insert PostgreSQL prepares at every run, though it
-- writes no row for such an account), and is refused (CP004) should the
-- account have one; the answer tells whether it has, for the next guess.
-- webhook_endpoints_enabled is the account's count of enabled endpoints,
-- kept by a trigger on webhook_endpoints (migration 00004). The version of
-- three arguments stays for a server of the version before.
-- +goose StatementBegin
CREATE FUNCTION admit_prospect(account TEXT, sealed_key TEXT, email_hash BYTEA, hooks BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
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

-- +goose Down
DROP FUNCTION admit_prospect(TEXT, TEXT, BYTEA, BOOLEAN);
