package postgres

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// outerTx is the transaction of Atomically, whether a change made in it
// enqueued deliveries, and the statements sent with its commit.
//
// Its BEGIN is no round trip of its own: the transaction begins with its
// first statement, in the same batch where that statement is a batch (an
// Idempotency-Key's claim is, see claim; so is a create's, see createOnce,
// and the commit of withCommit's statements), so that an idempotent create
// spends one round trip on its claim, one on its change and one on keeping
// its answer and committing. A transaction that wrote nothing commits without
// a word to the database.
type outerTx struct {
	pgx.Tx   // nil until the transaction began (see begin)
	conn     *pgx.Conn
	enqueued atomic.Bool

	atCommit pgx.Batch // see withCommit
	done     bool      // committed or rolled back
}

// begin begins the transaction, if it has not begun, for a statement that
// cannot take its BEGIN along.
func (tx *outerTx) begin(ctx context.Context) error {
	if tx.Tx != nil {
		return nil
	}
	t, err := tx.conn.Begin(ctx)
	if err != nil {
		return err
	}
	tx.Tx = t
	return nil
}

// sendBegin sends b, queued after b.BeginTx, as the transaction's first
// statements: the transaction is theirs from then on.
func (tx *outerTx) sendBegin(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	res := tx.conn.SendBatch(ctx, b)
	tx.Tx = res.Tx()
	return res
}

// undoBegin rolls back a transaction whose first batch failed, so that the
// statements after it begin afresh, as after a savepoint rolled back to.
func (tx *outerTx) undoBegin(ctx context.Context) error {
	t := tx.Tx
	tx.Tx = nil
	if err := t.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// rollback rolls the transaction back, if it began and did not end.
func (tx *outerTx) rollback(ctx context.Context) {
	if !tx.done && tx.Tx != nil {
		_ = tx.Tx.Rollback(ctx)
	}
	tx.done = true
}

// withCommit queues a statement that the transaction runs last, sent with
// its COMMIT in one round trip; its failure rolls the transaction back. It is
// for a statement that nothing after it in the transaction reads, like the
// keeping of a request's answer (FinishIdempotent).
func (tx *outerTx) withCommit(sql string, args ...any) {
	tx.atCommit.Queue(sql, args...)
}

// commit commits the transaction, with the statements of withCommit.
func (tx *outerTx) commit(ctx context.Context) error {
	if tx.atCommit.Len() == 0 {
		if tx.Tx == nil { // nothing written
			tx.done = true
			return nil
		}
		tx.done = true
		return tx.Commit(ctx)
	}
	b := &tx.atCommit
	var res pgx.BatchResults
	if tx.Tx == nil {
		b = new(pgx.Batch)
		b.BeginTx(pgx.TxOptions{})
		b.QueuedQueries = append(b.QueuedQueries, tx.atCommit.QueuedQueries...)
		b.Queue(`COMMIT`)
		res = tx.sendBegin(ctx, b)
	} else {
		b.Queue(`COMMIT`)
		res = tx.SendBatch(ctx, b)
	}
	for range b.Len() - 1 {
		if _, err := res.Exec(); err != nil {
			res.Close()
			return err // not committed: Atomically rolls back
		}
	}
	tag, err := res.Exec()
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	tx.done = true // COMMIT ran: pgx's Tx is not told, and is dropped
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}
