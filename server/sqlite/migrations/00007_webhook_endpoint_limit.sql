-- +goose Up
-- How many webhook endpoints, disabled ones included, each account may have:
-- every endpoint multiplies the deliveries each change enqueues.
ALTER TABLE accounts ADD COLUMN webhook_endpoint_limit INTEGER NOT NULL DEFAULT 16;

-- +goose Down
ALTER TABLE accounts DROP COLUMN webhook_endpoint_limit;
