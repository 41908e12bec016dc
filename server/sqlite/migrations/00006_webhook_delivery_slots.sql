-- +goose Up
-- The deliveries running to each endpoint, at most a few per endpoint: a
-- delivery takes a free slot (or one whose lease ran out: its process died)
-- before it calls the receiver, and frees it after, so that one slow
-- receiver holds only its own slots and never every delivery worker.
CREATE TABLE webhook_delivery_slots (
    endpoint_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    expires INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (endpoint_id, slot)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE webhook_delivery_slots;
