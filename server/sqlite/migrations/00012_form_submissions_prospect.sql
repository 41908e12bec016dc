-- +goose Up
-- A prospect's form submissions: those that made or changed it, and the
-- quarantined ones with its email that never did. A deletion scrubs them,
-- hiding it hides their events, and its export lists them.
CREATE INDEX form_submissions_prospect ON form_submissions (account_id, prospect_id);
CREATE INDEX form_submissions_email ON form_submissions (account_id, json_extract(fields, '$.email'))
    WHERE prospect_id = '';

-- +goose Down
DROP INDEX form_submissions_email;
DROP INDEX form_submissions_prospect;
