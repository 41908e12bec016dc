-- +goose Up
-- Substring search (GET /v1/prospects/search): a trigram index on each
-- searchable column, so that field~"text" (an ILIKE) looks up the rows that
-- hold the text instead of reading the account. pg_trgm is installed once per
-- database; where it is already, in whichever schema, that one is used, and
-- the indexes name its operator class by that schema, since the search_path
-- of a schema of Capture's own need not hold it. The indexes take each write
-- at once (fastupdate off): a pending list would be read whole by every
-- search until a vacuum merged it, and a search would cost more the more
-- writes came before it.
-- +goose StatementBegin
DO $$
DECLARE
    ext_schema text;
    col text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL THEN
        ext_schema := coalesce((SELECT nspname FROM pg_namespace WHERE nspname = 'public'), current_schema());
        EXECUTE format('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA %I', ext_schema);
    END IF;
    FOREACH col IN ARRAY ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'website'] LOOP
        EXECUTE format('CREATE INDEX %I ON prospects USING gin (%I %I.gin_trgm_ops) WITH (fastupdate = off) WHERE deleted_at IS NULL',
            'prospects_search_' || col, col, ext_schema);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX prospects_search_email, prospects_search_first_name, prospects_search_last_name,
    prospects_search_company, prospects_search_title, prospects_search_website;
