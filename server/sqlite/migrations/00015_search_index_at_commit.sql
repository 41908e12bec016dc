-- +goose Up
-- The prospects a transaction wrote that are not in the trigram index yet. A
-- new prospect's row goes into prospects_search just before its transaction
-- commits, with every other pending one, in one statement (indexPendingSQL),
-- rather than as it is written: FTS5 writes what it holds to a new segment
-- of its index at every savepoint, and a group commit runs each request in a
-- savepoint of its own, so indexing each create as it came made a segment
-- per create and the merges of them all, more than a third of a create's
-- CPU. Every writer of this file indexes what is pending before it commits;
-- `capture serve` also indexes, at its start, what another left.
CREATE TABLE prospects_unindexed (prospect_rowid INTEGER PRIMARY KEY);

DROP TRIGGER prospects_search_insert;
-- +goose StatementBegin
CREATE TRIGGER prospects_search_insert AFTER INSERT ON prospects BEGIN
    INSERT INTO prospects_unindexed (prospect_rowid) VALUES (new.rowid);
END;
-- +goose StatementEnd

-- A pending row changes in place: it is indexed as it is at the commit.
DROP TRIGGER prospects_search_update;
-- +goose StatementBegin
CREATE TRIGGER prospects_search_update AFTER UPDATE OF email, first_name, last_name, company, title, website ON prospects
WHEN (old.email IS NOT new.email OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name
    OR old.company IS NOT new.company OR old.title IS NOT new.title OR old.website IS NOT new.website)
    AND NOT EXISTS (SELECT 1 FROM prospects_unindexed WHERE prospect_rowid = old.rowid)
BEGIN
    INSERT INTO prospects_search (prospects_search, rowid, email, first_name, last_name, company, title, website)
    VALUES ('delete', old.rowid, old.email, old.first_name, old.last_name, old.company, old.title, old.website);
    INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
    VALUES (new.rowid, new.email, new.first_name, new.last_name, new.company, new.title, new.website);
END;
-- +goose StatementEnd

DROP TRIGGER prospects_search_delete;
-- +goose StatementBegin
CREATE TRIGGER prospects_search_delete AFTER DELETE ON prospects BEGIN
    INSERT INTO prospects_search (prospects_search, rowid, email, first_name, last_name, company, title, website)
    SELECT 'delete', old.rowid, old.email, old.first_name, old.last_name, old.company, old.title, old.website
    WHERE NOT EXISTS (SELECT 1 FROM prospects_unindexed WHERE prospect_rowid = old.rowid);
    DELETE FROM prospects_unindexed WHERE prospect_rowid = old.rowid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER prospects_search_delete;
DROP TRIGGER prospects_search_update;
DROP TRIGGER prospects_search_insert;
INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
    SELECT p.rowid, p.email, p.first_name, p.last_name, p.company, p.title, p.website
    FROM prospects_unindexed u JOIN prospects p ON p.rowid = u.prospect_rowid;
DROP TABLE prospects_unindexed;

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
