-- +goose Up
-- The trigram indexes gather new entries in a small pending list (64 kB an
-- index) and move them into the index many at a time, when the list is full
-- or a vacuum comes: a create wrote each of its trigrams into six GIN
-- indexes one by one, which cost PostgreSQL more than the rest of the insert,
-- and a batch of 500 three times as much as with the list. A search reads
-- the list whole, so it stays small: at most a few hundred prospects' entries.
-- +goose StatementBegin
DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'website'] LOOP
        EXECUTE format('ALTER INDEX %I SET (fastupdate = on, gin_pending_list_limit = 64)', 'prospects_search_' || col);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'website'] LOOP
        PERFORM gin_clean_pending_list(('prospects_search_' || col)::regclass);
        EXECUTE format('ALTER INDEX %I SET (fastupdate = off)', 'prospects_search_' || col);
        EXECUTE format('ALTER INDEX %I RESET (gin_pending_list_limit)', 'prospects_search_' || col);
    END LOOP;
END
$$;
-- +goose StatementEnd
