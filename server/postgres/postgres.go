// Package postgres is the Store on PostgreSQL, for several replicas of the server
// on one database: a pgx connection pool, the schema kept by goose migrations
// embedded in the binary. Every rule that replicas must agree on (one live
// prospect per email, the plan limit, one holder per Idempotency-Key, revoked
// keys, maintenance) is decided by the database: a constraint, a row lock or a
// conditional write, never a read in Go followed by a write.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// AcquireTimeout is the longest a store call waits for a connection of the pool
// (all of them busy, or the database unreachable) before it reports the
// database unavailable. A request with a shorter deadline waits half of what is
// left of it, so that its answer is 503 storage_unavailable, not 504 timeout.
const AcquireTimeout = 2 * time.Second

// DB is the PostgreSQL Store.
type DB struct {
	pool *pgxpool.Pool
	url  string // redacted: for messages

	secrets store.SecretBox // seals webhook secrets at rest when set (see SetSecretKey)

	relay *outbox.Relay // moves deliveries into the queue, once StartQueue ran

	suppressionKeys sync.Map // account id → *suppressionKey, see suppressionKeyOf
	accountHooks    sync.Map // account id → whether it had enabled webhook endpoints at its last create, see createOnce
}

var _ store.Store = (*DB)(nil)

// IsURL reports whether a --db value names a PostgreSQL database rather than a
// SQLite file.
func IsURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Redact returns the URL with its password replaced, fit for logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// Open connects to the database at the postgres:// URL, which must exist. Any
// libpq parameter may be given in the URL (search_path, sslmode,
// connect_timeout) and any pool setting (pool_max_conns). Open does not migrate:
// call Migrate, as `capture serve` and `capture migrate` do.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var q url.Values
	if u, err := url.Parse(dsn); err == nil {
		q = u.Query()
	}
	if !q.Has("pool_max_conns") {
		cfg.MaxConns = int32(max(10, 4*runtime.GOMAXPROCS(0)))
	}
	if !q.Has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// Connections found dead are dropped at once, so that the pool recovers by
	// itself when the database returns.
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, url: Redact(dsn), relay: outbox.New()}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.url, err)
	}
	return db, nil
}

// Migrate brings the schema up to date with the embedded migrations, and the
// tables of River, the webhook delivery queue, with River's own, in the
// schema search_path names. Replicas starting together take turns through
// PostgreSQL advisory locks. It says how many of the schema's migrations it
// applied (none when another replica applied them first).
func (db *DB) Migrate(ctx context.Context) (store.SchemaChange, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return store.SchemaChange{}, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return store.SchemaChange{}, err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return store.SchemaChange{}, err
	}
	applied, err := p.Up(ctx)
	change := store.SchemaChange{Applied: len(applied), Total: len(p.ListSources())}
	if err != nil {
		return change, err
	}
	return change, db.migrateQueue(ctx)
}

// Close stops the delivery relay, if StartQueue started one, and closes the pool.
func (db *DB) Close() error {
	db.relay.Stop()
	db.pool.Close()
	return nil
}

// Ping tells whether the database can be written: an UPDATE that matches no
// row still needs a writable database and the schema, which a standby, a
// read-only default, a lost connection or an exhausted pool refuse; it writes
// nothing.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `UPDATE settings SET value = value WHERE false`)
		return err
	})
}

// querier is what a transaction and a pooled connection both offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// txKey carries the transaction of Atomically in a context.
type txKey struct{}

// errNoConn marks a connection the pool could not give within AcquireTimeout.
var errNoConn = errors.New("no database connection")

// with runs fn on the context's Atomically transaction, or else on a connection
// of the pool, waited for no longer than AcquireTimeout.
func (db *DB) with(ctx context.Context, fn func(q querier) error) error {
	if tx, ok := ctx.Value(txKey{}).(*outerTx); ok {
		if err := tx.begin(ctx); err != nil {
			return err
		}
		return fn(tx.Tx)
	}
	wait := AcquireTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	actx, cancel := context.WithTimeout(ctx, wait)
	conn, err := db.pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Not %w: the acquire's own timeout must not read as the request's deadline.
		return fmt.Errorf("%w: %w within %s: %v", store.ErrUnavailable, errNoConn, wait, err)
	}
	defer conn.Release()
	return fn(conn)
}

// inTx runs fn in a transaction, committed when it returns nil. Inside
// Atomically it is a savepoint of that transaction instead: its failure undoes
// its own writes and nothing else.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.with(ctx, func(q querier) error { return pgx.BeginFunc(ctx, q, fn) })
}

// Atomically runs fn in one transaction: every write fn makes through the
// context it is given joins it, and they commit together or not at all.
func (db *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer unavailable(ctx, &err)
	if _, nested := ctx.Value(txKey{}).(*outerTx); nested {
		return fn(ctx)
	}
	var outer *outerTx
	err = db.with(ctx, func(q querier) error {
		outer = &outerTx{conn: q.(*pgxpool.Conn).Conn()}
		defer outer.rollback(ctx) // when an error is already returned, or a panic goes on
		if err := fn(context.WithValue(ctx, txKey{}, outer)); err != nil {
			return err
		}
		return outer.commit(ctx)
	})
	if err == nil && outer.enqueued.Load() {
		db.wakeRelay(ctx) // the deliveries its changes enqueued are committed
	}
	return err
}

// unstorable reports whether an id holds U+0000, which PostgreSQL's text
// cannot: no row has such an id, so a lookup answers as for any unknown id
// instead of sending a query PostgreSQL refuses. (The API refuses U+0000 in
// the text it stores; an id in a path is only looked up.)
func unstorable(id string) bool { return strings.IndexByte(id, 0) >= 0 }

// unavailable marks errors that mean the database cannot be reached or used at
// all (connection refused or lost, pool exhausted, shutting down, out of
// resources, read-only), or not now (a serialization failure or deadlock the
// store did not overcome, as SQLite's SQLITE_BUSY; creates, batches and
// deletions run again a few times before they give up), so that
// clients get 503 storage_unavailable with Retry-After rather than 500. An
// error of a request whose own context ended is left as it is.
func unavailable(ctx context.Context, err *error) {
	if *err == nil || errors.Is(*err, store.ErrUnavailable) || ctx.Err() != nil {
		return
	}
	if isUnavailable(*err) {
		// Not %w: a network timeout inside must not read as the request's deadline.
		*err = fmt.Errorf("%w: %v", store.ErrUnavailable, *err)
	}
}

func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57014": // query_canceled: a statement timeout, not the database
			return false
		case pgErr.Code == "25006": // read_only_sql_transaction
			return true
		case pgErr.Code == "40001", pgErr.Code == "40P01": // contention the store did not overcome
			return true
		}
		switch pgErr.Code[:2] {
		case "08", "53", "57", "58": // connection, resources, operator intervention, system error
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn busy")
}

// isUniqueViolation reports a unique constraint refusing a write, by name.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

// isDeadlock reports a transaction PostgreSQL chose to abort to break a
// deadlock: run again, it goes through.
func isDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}

// isSerializationFailure reports a transaction that must run again: a create
// that found its account's count near the plan's limit only once counted in
// (see migration 00013).
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}

func now() time.Time { return store.Now() }
