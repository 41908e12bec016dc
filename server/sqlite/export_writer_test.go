package sqlite

// WaitingForWriter counts the requests blocked on the writer, for tests that
// line requests up in one group commit.
func (db *DB) WaitingForWriter() int64 { return db.writer.waiting.Load() }
