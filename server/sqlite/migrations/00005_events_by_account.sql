-- +goose Up
-- Events keyed by (account_id, id) in the table itself: every read of an
-- event names its account, so one b-tree serves the keyset pages, the lookup
-- by id and the purge (per account, by id), where a rowid table with an id
-- key and a page index wrote three at every change.
CREATE TABLE events_by_account (
    id                  TEXT NOT NULL,       -- evt_ + ULID: sorts by creation time
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    type                TEXT NOT NULL,
    prospect            TEXT NOT NULL,       -- JSON: the prospect after the change (its id only on a deletion)
    previous_attributes TEXT,                -- JSON object on updates
    hidden              INTEGER NOT NULL DEFAULT 0,
    request_id          TEXT NOT NULL DEFAULT '',
    idempotency_key     TEXT NOT NULL DEFAULT '',
    created             INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;
INSERT INTO events_by_account SELECT id, account_id, type, prospect, previous_attributes, hidden, request_id,
    idempotency_key, created FROM events;
DROP TABLE events;
ALTER TABLE events_by_account RENAME TO events;

-- +goose Down
CREATE TABLE events_by_id (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    type                TEXT NOT NULL,
    prospect            TEXT NOT NULL,
    previous_attributes TEXT,
    hidden              INTEGER NOT NULL DEFAULT 0,
    request_id          TEXT NOT NULL DEFAULT '',
    idempotency_key     TEXT NOT NULL DEFAULT '',
    created             INTEGER NOT NULL
);
INSERT INTO events_by_id SELECT id, account_id, type, prospect, previous_attributes, hidden, request_id,
    idempotency_key, created FROM events;
DROP TABLE events;
ALTER TABLE events_by_id RENAME TO events;
CREATE INDEX events_page ON events (account_id, id);
