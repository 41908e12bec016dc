-- +goose Up
-- The id of an event's object (a prospect's, or a form submission's) in a
-- column of its own, which the change writing the event already knows: the
-- index that finds every event about one prospect no longer reads it out of
-- the event's JSON at every insert.
ALTER TABLE events ADD COLUMN object_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE events SET object_id = coalesce(prospect->>'ID', '');
DROP INDEX events_prospect;
CREATE INDEX events_object ON events (account_id, object_id);

-- +goose Down
DROP INDEX events_object;
ALTER TABLE events DROP COLUMN object_id;
CREATE INDEX events_prospect ON events (account_id, (prospect->>'ID'));
