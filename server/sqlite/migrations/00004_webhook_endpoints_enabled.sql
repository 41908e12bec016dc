-- +goose Up
-- How many enabled webhook endpoints each account has, kept by triggers on
-- webhook_endpoints: a create reads it with the plan limit, in the statement
-- it runs on the account's row anyway, and skips the outbox when it is 0.
ALTER TABLE accounts ADD COLUMN webhook_endpoints_enabled INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET webhook_endpoints_enabled =
    (SELECT count(*) FROM webhook_endpoints e WHERE e.account_id = accounts.id AND e.disabled = 0);

-- +goose StatementBegin
CREATE TRIGGER webhook_endpoints_enabled_insert AFTER INSERT ON webhook_endpoints WHEN NEW.disabled = 0
BEGIN
    UPDATE accounts SET webhook_endpoints_enabled = webhook_endpoints_enabled + 1 WHERE id = NEW.account_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER webhook_endpoints_enabled_delete AFTER DELETE ON webhook_endpoints WHEN OLD.disabled = 0
BEGIN
    UPDATE accounts SET webhook_endpoints_enabled = webhook_endpoints_enabled - 1 WHERE id = OLD.account_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER webhook_endpoints_enabled_update AFTER UPDATE OF disabled ON webhook_endpoints
    WHEN OLD.disabled <> NEW.disabled
BEGIN
    UPDATE accounts SET webhook_endpoints_enabled = webhook_endpoints_enabled + (CASE WHEN NEW.disabled THEN -1 ELSE 1 END)
        WHERE id = OLD.account_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER webhook_endpoints_enabled_update;
DROP TRIGGER webhook_endpoints_enabled_delete;
DROP TRIGGER webhook_endpoints_enabled_insert;
ALTER TABLE accounts DROP COLUMN webhook_endpoints_enabled;
