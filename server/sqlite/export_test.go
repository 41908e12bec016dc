package sqlite

import (
	"context"
	"database/sql"
)

// QueryRowForTest lets the black-box tests read the file as it is on disk.
func (db *DB) QueryRowForTest(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, query, args...)
}

// SetNoEventsForTest makes changes record no events, so that a benchmark can
// set a create with its event against one without.
func (db *DB) SetNoEventsForTest(off bool) { db.noEvents = off }

// EventProspectJSONForTest is eventProspectJSON, for its round-trip test.
var EventProspectJSONForTest = eventProspectJSON
