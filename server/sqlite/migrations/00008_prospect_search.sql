-- +goose Up
-- Substring search (GET /v1/prospects/search): a trigram index of each
-- prospect's searchable text, so that field~"text" looks up the rows that hold
-- the text instead of reading the account. Its content is the prospects table
-- itself (by rowid); the triggers below keep it in each write's own
-- transaction, so a search sees every write that answered before it.
CREATE VIRTUAL TABLE prospects_search USING fts5 (
    email, first_name, last_name, company, title, website,
    content = 'prospects', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO prospects_search (prospects_search) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER prospects_search_insert AFTER INSERT ON prospects BEGIN
    INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
    VALUES (new.rowid, new.email, new.first_name, new.last_name, new.company, new.title, new.website);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER prospects_search_update AFTER UPDATE OF email, first_name, last_name, company, title, website ON prospects
WHEN old.email IS NOT new.email OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
    OR old.company IS NOT new.company OR old.title IS NOT new.title OR old.website IS NOT new.website
BEGIN
    INSERT INTO prospects_search (prospects_search, rowid, email, first_name, last_name, company, title, website)
    VALUES ('delete', old.rowid, old.email, old.first_name, old.last_name, old.company, old.title, old.website);
    INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
    VALUES (new.rowid, new.email, new.first_name, new.last_name, new.company, new.title, new.website);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER prospects_search_delete AFTER DELETE ON prospects BEGIN
    INSERT INTO prospects_search (prospects_search, rowid, email, first_name, last_name, company, title, website)
    VALUES ('delete', old.rowid, old.email, old.first_name, old.last_name, old.company, old.title, old.website);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER prospects_search_delete;
DROP TRIGGER prospects_search_update;
DROP TRIGGER prospects_search_insert;
DROP TABLE prospects_search;
