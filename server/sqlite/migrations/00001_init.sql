-- +goose Up
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    prospect_limit INTEGER NOT NULL,
    rate_limit     INTEGER NOT NULL DEFAULT 0,   -- 0: the server's default
    live_prospects INTEGER NOT NULL DEFAULT 0,   -- kept in step with prospects, so the plan check is O(1)
    created        INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    hash       BLOB NOT NULL UNIQUE,             -- SHA-256 of the secret; the secret is never stored
    role       TEXT NOT NULL CHECK (role IN ('admin', 'standard')),
    created    INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE prospects (
    id                TEXT PRIMARY KEY,          -- prs_ + ULID: sorts by creation time
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    email             TEXT,                      -- NULL only on tombstones
    first_name        TEXT,
    last_name         TEXT,
    company           TEXT,
    title             TEXT,
    phone             TEXT,
    website           TEXT,
    source            TEXT,
    status            TEXT NOT NULL DEFAULT 'new',
    tags              TEXT NOT NULL DEFAULT '[]',
    metadata          TEXT NOT NULL DEFAULT '{}',
    marketing_consent INTEGER NOT NULL DEFAULT 0,
    consent_at        INTEGER,
    hidden            INTEGER NOT NULL DEFAULT 0,
    created           INTEGER NOT NULL,
    updated           INTEGER NOT NULL,
    deleted_at        INTEGER                    -- set on delete: the row stays as a tombstone
);

-- One live prospect per email in an account; tombstones do not count.
CREATE UNIQUE INDEX prospects_live_email ON prospects (account_id, email) WHERE deleted_at IS NULL;
-- Keyset pagination over live prospects, newest first.
CREATE INDEX prospects_live_page ON prospects (account_id, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE prospects;
DROP TABLE api_keys;
DROP TABLE accounts;
