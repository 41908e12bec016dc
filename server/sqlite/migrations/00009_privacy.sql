-- +goose Up
-- Every event about one prospect, found through the id its JSON keeps: a
-- deletion scrubs them all, and hiding a prospect hides them all.
CREATE INDEX events_prospect ON events (account_id, json_extract(prospect, '$.ID'));

-- An account's suppression list: the emails erased (POST /v1/prospects/{id}/erase)
-- that later creates refuse. Only HMAC-SHA256 of each email is kept, under the
-- account's suppression_key, so a copy of the database does not list them.
ALTER TABLE accounts ADD COLUMN suppression_key TEXT; -- base64 of 32 random bytes, sealed like webhook secrets
CREATE TABLE suppressions (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    email_hash BLOB NOT NULL,                 -- HMAC-SHA256(suppression_key, email)
    created    INTEGER NOT NULL,
    PRIMARY KEY (account_id, email_hash)
) WITHOUT ROWID;

-- The consent ledger: one row per change of a prospect's marketing_consent,
-- written in the change's transaction, removed with the person. The
-- tombstone keeps how many grants and withdrawals it had.
CREATE TABLE consents (
    id          TEXT NOT NULL,                -- cns_ + ULID: sorts by creation time
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    prospect_id TEXT NOT NULL,
    granted     INTEGER NOT NULL,
    text        TEXT,
    source      TEXT NOT NULL,                -- api, import, form:frm_…
    ip          TEXT,
    user_agent  TEXT,
    created     INTEGER NOT NULL,
    PRIMARY KEY (account_id, prospect_id, id)
) WITHOUT ROWID;
ALTER TABLE prospects ADD COLUMN consents_granted INTEGER NOT NULL DEFAULT 0;   -- counted on deletion
ALTER TABLE prospects ADD COLUMN consents_withdrawn INTEGER NOT NULL DEFAULT 0; -- counted on deletion

-- Retention: prospects not updated for this many days (and not converted)
-- are deleted by the daily sweep; NULL keeps them forever.
ALTER TABLE accounts ADD COLUMN retention_days INTEGER;

-- +goose Down
ALTER TABLE accounts DROP COLUMN retention_days;
ALTER TABLE prospects DROP COLUMN consents_withdrawn;
ALTER TABLE prospects DROP COLUMN consents_granted;
DROP TABLE consents;
DROP TABLE suppressions;
ALTER TABLE accounts DROP COLUMN suppression_key;
DROP INDEX events_prospect;
