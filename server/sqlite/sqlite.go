// Package sqlite is the embedded Store: a single SQLite file in WAL mode through the
// pure-Go modernc.org/sqlite driver, its schema kept by goose migrations embedded in
// the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite Store. Writes go through a pool of one connection, so SQLite's
// single writer never waits on its own busy lock; reads use their own pool and run
// in parallel with it, as WAL allows.
type DB struct {
	path       string
	file       os.FileInfo // the file opened: a file put in its place is not this database
	write      *sql.DB
	read       *sql.DB
	stmts      sync.Map // query text -> *sql.Stmt on the read pool
	writeStmts sync.Map // query text -> *sql.Stmt on the writer (see prepareWrites)
	writer     writer   // the writer's open transaction, shared by concurrent requests (see group commit)

	secrets store.SecretBox // seals webhook secrets at rest when set (see SetSecretKey)

	relay *outbox.Relay // moves deliveries into the queue, once StartQueue ran

	noEvents bool // changes record no events: only for measuring what an event costs (export_test.go)

	// searchScanMax is the most live prospects of an account whose substring
	// search scans its rows (see SearchProspects); 0 always asks the trigram
	// index and -1 always scans, for the tests of both plans.
	searchScanMax int
}

var _ store.Store = (*DB)(nil)

// Open opens the database file at path, creating it first if it does not exist.
// It does not migrate: call Migrate, as `capture serve` and `capture migrate` do.
//
// Only Open creates the file: the connections it pools open it read-write without
// creating it, so a file deleted under a running server is reported as
// unavailable (see Ping), never silently replaced by a new empty database.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, err
		}
	}
	return open(path)
}

// create makes an empty database file in WAL mode.
func create(path string) error {
	db, err := sql.Open("sqlite", dsn(path, "rwc", "deferred"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// dsn is the driver's name for the file with the pragmas every connection needs.
func dsn(path, mode, txlock string) string {
	q := url.Values{}
	// temp_store(MEMORY): a request of a group commit runs in a savepoint, and
	// SQLite copies each page it changes that an earlier request changed to a
	// statement journal, in memory rather than a temporary file.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	q.Set("mode", mode)
	return "file:" + path + "?" + q.Encode()
}

func open(path string) (*DB, error) {
	write, err := sql.Open("sqlite", dsn(path, "rw", "immediate"))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn(path, "rw", "deferred"))
	if err != nil {
		write.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	db := &DB{path: path, write: write, read: read, relay: outbox.New(), searchScanMax: searchScanMax}
	// The first connection switches the file to WAL; do it on the writer up front.
	if err := write.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if db.file, err = os.Stat(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.prepareWrites(context.Background()) // when migrated already; Migrate does it otherwise
	return db, nil
}

// checkFile reports the database unavailable when its file was removed or
// replaced since Open: SQLite would go on writing to the unlinked file, and
// every write would be lost.
func (db *DB) checkFile() error {
	now, err := os.Stat(db.path)
	switch {
	case err != nil:
		return fmt.Errorf("%w: the database file %s is gone: %w", store.ErrUnavailable, db.path, err)
	case !os.SameFile(db.file, now):
		return fmt.Errorf("%w: the database file %s was replaced by another file", store.ErrUnavailable, db.path)
	}
	return nil
}

// Migrate brings the schema up to date with the embedded migrations, and the
// tables of River, the webhook delivery queue, with River's own; it says how
// many of the schema's migrations it applied.
func (db *DB) Migrate(ctx context.Context) (store.SchemaChange, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return store.SchemaChange{}, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, sub)
	if err != nil {
		return store.SchemaChange{}, err
	}
	applied, err := p.Up(ctx)
	change := store.SchemaChange{Applied: len(applied), Total: len(p.ListSources())}
	if err != nil {
		return change, err
	}
	if err := db.migrateQueue(ctx); err != nil {
		return change, err
	}
	db.prepareWrites(ctx)
	return change, nil
}

// Close stops the delivery relay, if StartQueue started one, and closes both pools.
func (db *DB) Close() error {
	db.relay.Stop()
	db.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	db.writeStmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	return errors.Join(db.read.Close(), db.write.Close())
}

// stmt is a read statement prepared once per query text: SQLite spends more
// time parsing a short SELECT than running it.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return s.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a one-row read through its prepared statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose statement could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Ping tells whether the database can be written: its file is still the one
// opened, and a write transaction can start and take SQLite's write lock.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer unavailable(&err)
	if err := db.checkFile(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *writeTx) error {
		// A query, not PingContext: it must touch the file, not only the pool.
		var n int
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
	})
}

// unavailable marks errors that mean the database cannot be reached or used at
// all (closed, locked past the busy timeout, I/O failure, disk full) so that
// clients get 503 storage_unavailable rather than 500.
func unavailable(err *error) {
	if *err == nil || errors.Is(*err, store.ErrUnavailable) ||
		errors.Is(*err, store.ErrNotFound) || errors.Is(*err, store.ErrDeleted) { // answers, not failures: no driver error to look for
		return
	}
	var se *sqlitedrv.Error
	switch {
	case errors.As(*err, &se):
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			*err = fmt.Errorf("%w: %w", store.ErrUnavailable, *err)
		}
	case errors.Is(*err, sql.ErrConnDone), strings.Contains((*err).Error(), "sql: database is closed"):
		*err = fmt.Errorf("%w: %w", store.ErrUnavailable, *err)
	}
}

// scanner is a row to read: *sql.Row, *sql.Rows, or a failed statement (errRow).
type scanner interface{ Scan(dest ...any) error }

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func now() time.Time { return store.Now() }

func unixPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Unix()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // []string and map[string]string always marshal
	}
	return string(b)
}
