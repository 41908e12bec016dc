-- +goose Up
-- One row per Idempotency-Key of an account: in flight while status is NULL (until
-- locked_until, after which a crashed request's key is free again), then the answer
-- kept for replays until it is purged 24 hours after created. Times are the
-- database's clock, so replicas with skewed clocks agree on them.
CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    key          TEXT NOT NULL,
    fingerprint  BYTEA NOT NULL,          -- SHA-256 of method, path and body
    request_id   TEXT NOT NULL,           -- the request that ran
    status       INTEGER,                 -- NULL while in flight
    body         BYTEA,
    created      TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);

-- Server-wide settings every replica reads, such as maintenance mode.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE idempotency_keys;
