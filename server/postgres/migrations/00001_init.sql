-- +goose Up
CREATE TABLE accounts (
    id             TEXT COLLATE "C" PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    prospect_limit BIGINT NOT NULL,
    rate_limit     INTEGER NOT NULL DEFAULT 0,   -- 0: the server's default
    live_prospects BIGINT NOT NULL DEFAULT 0,    -- kept in step with prospects under the account's row lock
    created        TIMESTAMPTZ NOT NULL,
    CHECK (live_prospects >= 0)
);

CREATE TABLE api_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    hash       BYTEA NOT NULL UNIQUE,            -- SHA-256 of the secret; the secret is never stored
    role       TEXT NOT NULL CHECK (role IN ('admin', 'standard')),
    created    TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE prospects (
    id                TEXT COLLATE "C" PRIMARY KEY, -- prs_ + ULID: sorts by creation time, byte by byte
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
    tags              TEXT[] NOT NULL DEFAULT '{}',
    metadata          JSONB NOT NULL DEFAULT '{}',
    marketing_consent BOOLEAN NOT NULL DEFAULT false,
    consent_at        TIMESTAMPTZ,
    hidden            BOOLEAN NOT NULL DEFAULT false,
    created           TIMESTAMPTZ NOT NULL,
    updated           TIMESTAMPTZ NOT NULL,
    deleted_at        TIMESTAMPTZ                -- set on delete: the row stays as a tombstone
);

-- One live prospect per email in an account; tombstones do not count.
CREATE UNIQUE INDEX prospects_live_email ON prospects (account_id, email) WHERE deleted_at IS NULL;
-- Keyset pagination over live prospects, newest first.
CREATE INDEX prospects_live_page ON prospects (account_id, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE prospects;
DROP TABLE api_keys;
DROP TABLE accounts;
