package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/captureapi/capture/server/store"
)

// Group commit. SQLite has one writer, and a commit costs more than the short
// statements of a request: it appends to the WAL every page the transaction
// dirtied, and concurrent creates dirty the same pages (the table's last leaf,
// the indexes', the account row). So the write transactions of concurrent
// requests share one:
//
//   - a request takes the writer in turn (the accounts waiting for it take
//     turns: see turns) and runs in a savepoint of the open
//     transaction (beginning one if none is open): its failure, or panic, rolls
//     back its own writes and nothing else, and it sees no other request half
//     done, since requests run one after the other;
//   - when no other request waits for the writer (or maxGroup have run), the
//     request that ran last commits for all of them; before it decides, it
//     yields its processor once, so that requests being read and validated on
//     it reach the writer and join this commit instead of starting the next
//     (a commit's writes to the WAL cost as much as the statements of half a
//     dozen creates: larger groups make fewer of them);
//   - every request returns only once that commit is done, so nothing is
//     answered before it is durable, and a failed commit fails every request
//     of the group, none of which was answered yet.
//
// Durability is SQLite's in WAL mode with synchronous=NORMAL, as before: a
// committed transaction survives the process being killed at any instant; a
// power cut may lose the last commits, never corrupt the file.

// maxGroup bounds how many requests one commit answers, and so how long the
// first of them waits for it.
const maxGroup = 64

// writer is the single write connection's open transaction and who waits for it.
type writer struct {
	turns   turns        // who runs in the open transaction, and who waits to
	waiting atomic.Int64 // requests waiting for their turn: while there are some, the transaction stays open
	tx      *writeTx     // the open transaction, nil between groups
	group   *group       // the requests that ran in tx
}

// turns hands the writer to one request at a time, taking the accounts that
// wait for it in turn (round robin), each account's requests in the order they
// came: an account that sends many writes at once waits behind its own, not
// in front of everyone else's.
type turns struct {
	mu      sync.Mutex
	busy    bool                       // a request holds the writer
	queues  map[string][]chan struct{} // the requests waiting, by account, in arrival order
	pending []string                   // the accounts with requests waiting, the next to be served first
}

// take returns once the request, for the account, holds the writer.
func (w *writer) take(account string) {
	t := &w.turns
	t.mu.Lock()
	if !t.busy {
		t.busy = true
		t.mu.Unlock()
		return
	}
	turn := make(chan struct{})
	if t.queues == nil {
		t.queues = map[string][]chan struct{}{}
	}
	if len(t.queues[account]) == 0 {
		t.pending = append(t.pending, account)
	}
	t.queues[account] = append(t.queues[account], turn)
	w.waiting.Add(1)
	t.mu.Unlock()
	<-turn // handed over by give, busy all along
}

// give hands the writer to the first request of the next account in turn, or
// frees it when nobody waits.
func (w *writer) give() {
	t := &w.turns
	t.mu.Lock()
	if len(t.pending) == 0 {
		t.busy = false
		t.mu.Unlock()
		return
	}
	account := t.pending[0]
	t.pending = t.pending[1:]
	q := t.queues[account]
	turn := q[0]
	if q = q[1:]; len(q) > 0 {
		t.queues[account] = q
		t.pending = append(t.pending, account) // its next request waits for the others' turns
	} else {
		delete(t.queues, account)
	}
	w.waiting.Add(-1)
	t.mu.Unlock()
	close(turn)
}

// group is the requests of one transaction, waiting for its commit.
type group struct {
	members int
	done    chan struct{} // closed once the transaction ended
	err     error         // why it did not commit
}

// txKey carries the write transaction of Atomically in a context.
type txKey struct{}

// Atomically runs fn in one write transaction: every write fn makes through the
// context it is given joins it, and they commit together or not at all.
func (db *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer unavailable(&err)
	if _, nested := ctx.Value(txKey{}).(*writeTx); nested {
		return fn(ctx)
	}
	return db.inTx(ctx, func(tx *writeTx) error { return fn(context.WithValue(ctx, txKey{}, tx)) })
}

// inTx runs fn as one request of a group commit (see above), returning once
// its writes are committed, or failed. Inside Atomically, fn runs in a
// savepoint of the outer transaction instead: its failure undoes its own
// writes and nothing else.
func (db *DB) inTx(ctx context.Context, fn func(*writeTx) error) error {
	if tx, ok := ctx.Value(txKey{}).(*writeTx); ok {
		return tx.savepoint(fn)
	}
	g, err := db.runInGroup(ctx, fn)
	if g == nil {
		return err
	}
	<-g.done
	if g.err != nil {
		return g.err
	}
	return err
}

// runInGroup waits for the writer, runs fn in a savepoint of the open
// transaction, and commits it when nobody else waits. It returns the group to
// wait on, or nil when no transaction could begin.
func (db *DB) runInGroup(ctx context.Context, fn func(*writeTx) error) (_ *group, err error) {
	w := &db.writer
	w.take(store.RequestFrom(ctx).AccountID)
	defer w.give()
	if w.tx == nil {
		tx, err := db.begin()
		if err != nil {
			return nil, err
		}
		w.tx, w.group = tx, &group{done: make(chan struct{})}
	}
	tx, g := w.tx, w.group
	g.members++
	// Deferred, so that it runs when fn panics too: the panic goes on once the
	// writer is free and the others' transaction is in hand.
	defer func() {
		done := tx.broken != nil || g.members >= maxGroup
		if !done && w.waiting.Load() == 0 {
			runtime.Gosched() // see group commit, above
		}
		if done || w.waiting.Load() == 0 {
			db.flush()
		}
	}()
	if err := ctx.Err(); err != nil {
		return g, err
	}
	return g, tx.savepoint(fn)
}

// flush ends the open transaction, committed unless a savepoint broke it, and
// wakes its group.
func (db *DB) flush() {
	w := &db.writer
	tx, g := w.tx, w.group
	w.tx, w.group = nil, nil
	if tx.broken != nil {
		tx.Rollback()
		g.err = tx.broken
	} else {
		g.err = db.commit(tx)
	}
	close(g.done)
}

// writeTx is a write transaction that prepares each statement once: a batch
// runs the same few statements for each of its items inside one Atomically,
// and SQLite spends more time parsing a short statement than running it.
//
// Its statements check the context before they run, then run without its
// cancellation: for a cancellable context the driver starts a goroutine per
// statement to interrupt it, which costs more than the short statements of a
// write transaction. The transaction itself is not bound to any request's
// context: it outlives them all (see group commit).
type writeTx struct {
	*sql.Tx
	conn  *sync.Map // statements prepared on the writer connection itself (see prepareWrites)
	mu    sync.Mutex
	stmts map[string]*sql.Stmt // closed with the transaction
	// claims holds the Idempotency-Keys claimed in this transaction, by
	// requests not answered yet (see BeginIdempotent).
	claims map[string]*claimed
	// broken is why a savepoint could not be rolled back or released: the
	// transaction can only be rolled back.
	broken error
}

func (db *DB) begin() (*writeTx, error) {
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return &writeTx{Tx: tx, conn: &db.writeStmts, stmts: map[string]*sql.Stmt{}}, nil
}

// savepoint runs fn in a savepoint: fn's failure, or panic, rolls back its own
// writes and nothing else. A savepoint statement that fails marks the
// transaction broken.
func (tx *writeTx) savepoint(fn func(*writeTx) error) (err error) {
	if tx.broken != nil {
		return tx.broken
	}
	if tx.broken = tx.control("SAVEPOINT request"); tx.broken != nil {
		return tx.broken
	}
	returned := false
	defer func() {
		switch {
		case !returned || err != nil: // panicked, or failed
			if tx.broken = tx.control("ROLLBACK TO request"); tx.broken != nil {
				return
			}
			fallthrough
		default:
			tx.broken = tx.control("RELEASE request")
		}
		if tx.broken != nil {
			err = errors.Join(err, tx.broken)
		}
	}()
	err = fn(tx)
	returned = true
	return err
}

// control runs a savepoint statement, whatever became of the request's context.
func (tx *writeTx) control(query string) error {
	_, err := tx.ExecContext(context.Background(), query)
	return err
}

func (tx *writeTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if st, ok := tx.stmts[query]; ok {
		return st, nil
	}
	if st, ok := tx.conn.Load(query); ok { // prepared on this connection already: no parsing at all
		st := tx.StmtContext(ctx, st.(*sql.Stmt))
		tx.stmts[query] = st
		return st, nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	tx.stmts[query] = st
	return st, nil
}

// ExecContext runs a statement of the transaction, prepared once.
func (tx *writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st.ExecContext(context.WithoutCancel(ctx), args...)
}

// QueryContext runs a query of the transaction, prepared once.
func (tx *writeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st.QueryContext(context.WithoutCancel(ctx), args...)
}

// QueryRowContext runs a one-row query of the transaction, prepared once.
func (tx *writeTx) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	if err := ctx.Err(); err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(context.WithoutCancel(ctx), args...)
}

// commit commits tx, with the search index of the prospects it wrote, unless
// the database file has gone, when it rolls back.
func (db *DB) commit(tx *writeTx) error {
	err := db.checkFile()
	if err == nil {
		err = tx.indexPending()
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs one write statement, in the caller's Atomically transaction if
// any: there without a savepoint, as one statement is atomic on its own.
func (db *DB) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	if tx, ok := ctx.Value(txKey{}).(*writeTx); ok {
		return tx.ExecContext(ctx, query, args...)
	}
	err = db.inTx(ctx, func(tx *writeTx) error {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}
