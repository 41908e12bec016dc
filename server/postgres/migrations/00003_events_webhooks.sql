-- +goose Up
-- The events log: one row per change to a prospect, written in the change's
-- transaction, purged 30 days after created.
CREATE TABLE events (
    id                  TEXT COLLATE "C" PRIMARY KEY, -- evt_ + ULID: sorts by creation time
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    type                TEXT NOT NULL,
    prospect            JSONB NOT NULL,      -- the prospect after the change (its id only on a deletion)
    previous_attributes JSONB,               -- object on updates
    hidden              BOOLEAN NOT NULL DEFAULT false,
    request_id          TEXT NOT NULL DEFAULT '',
    idempotency_key     TEXT NOT NULL DEFAULT '',
    created             TIMESTAMPTZ NOT NULL
);
-- Keyset pagination, newest first. (The purge goes by id, which sorts by time,
-- through the primary key: no index on created to keep up at every change.)
CREATE INDEX events_page ON events (account_id, id);

-- Where an account's events are delivered.
CREATE TABLE webhook_endpoints (
    id             TEXT COLLATE "C" PRIMARY KEY, -- we_ + ULID
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    url            TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    enabled_events TEXT[] NOT NULL,          -- event types, or {*}
    secret         TEXT NOT NULL,            -- sealed with the server's key when it has one (store.SecretBox)
    disabled       BOOLEAN NOT NULL DEFAULT false,
    failing_since  TIMESTAMPTZ,              -- first failure since the last success
    created        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id);

-- Each attempt to deliver an event to an endpoint.
CREATE TABLE webhook_attempts (
    id          TEXT COLLATE "C" PRIMARY KEY, -- wha_ + ULID
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    created     TIMESTAMPTZ NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    succeeded   BOOLEAN NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_created ON webhook_attempts (created);

-- The outbox: a change writes its deliveries here, in its own transaction;
-- the replicas' relays move them into River's queue in batches, each taking
-- rows the others have not locked (see queue.go).
CREATE TABLE webhook_outbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    created     TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE webhook_outbox;
DROP TABLE webhook_attempts;
DROP TABLE webhook_endpoints;
DROP TABLE events;
