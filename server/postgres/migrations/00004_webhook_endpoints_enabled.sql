-- +goose Up
-- How many enabled webhook endpoints each account has, kept by a trigger on
-- webhook_endpoints: a create reads it with the plan limit, in the statement
-- it runs on the account's row anyway, and writes no outbox rows when it is 0.
-- The trigger updates the account's row, so it is right for every replica.
ALTER TABLE accounts ADD COLUMN webhook_endpoints_enabled INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET webhook_endpoints_enabled =
    (SELECT count(*) FROM webhook_endpoints e WHERE e.account_id = accounts.id AND NOT e.disabled);

-- +goose StatementBegin
CREATE FUNCTION webhook_endpoints_enabled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta INTEGER := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.disabled THEN
        delta := delta - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.disabled THEN
        delta := delta + 1;
    END IF;
    IF delta <> 0 THEN
        UPDATE accounts SET webhook_endpoints_enabled = webhook_endpoints_enabled + delta
            WHERE id = COALESCE(NEW.account_id, OLD.account_id);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_endpoints_enabled AFTER INSERT OR DELETE OR UPDATE OF disabled ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION webhook_endpoints_enabled();

-- +goose Down
DROP TRIGGER webhook_endpoints_enabled ON webhook_endpoints;
DROP FUNCTION webhook_endpoints_enabled();
ALTER TABLE accounts DROP COLUMN webhook_endpoints_enabled;
