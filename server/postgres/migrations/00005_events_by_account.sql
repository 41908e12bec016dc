-- +goose Up
-- Events keyed by (account_id, id): every read of an event names its account,
-- so one index serves the keyset pages, the lookup by id and the purge (per
-- account, by id), where the id key and a page index were two to keep up at
-- every change.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (account_id, id);
DROP INDEX events_page;

-- +goose Down
CREATE INDEX events_page ON events (account_id, id);
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (id);
