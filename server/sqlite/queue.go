package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/captureapi/capture/server/store"
)

// The webhook delivery queue is River (github.com/riverqueue/river) on this
// same database file: its jobs are rows beside the data, so a change enqueues
// its deliveries in its own transaction, and a crash or restart loses none.
// River shares the single writer connection with the store.

// migrateQueue brings River's own tables up to date.
func (db *DB) migrateQueue(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(db.write), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// StartQueue starts a River client that works the delivery queue with cfg
// (its Workers, Queues and retry policy), and enqueues deliveries through it
// from then on. Stop it with the returned client's Stop before Close.
func (db *DB) StartQueue(ctx context.Context, cfg *river.Config) (*river.Client[*sql.Tx], error) {
	c, err := river.NewClient(riversqlite.New(db.write), cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	db.queueMu.Lock()
	db.queue = c
	db.queueMu.Unlock()
	return c, nil
}

// inserter is the client that enqueues: the working client once StartQueue
// ran, or an insert-only one, so that a process that does not deliver
// (an admin command, a test) still leaves every delivery in the queue.
func (db *DB) inserter() (*river.Client[*sql.Tx], error) {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	if db.queue == nil {
		c, err := river.NewClient(riversqlite.New(db.write), &river.Config{})
		if err != nil {
			return nil, fmt.Errorf("delivery queue: %w", err)
		}
		db.queue = c
	}
	return db.queue, nil
}

// enqueueDeliveries inserts, in the change's transaction, one delivery of the
// event to each enabled endpoint of its account that wants its type.
func (db *DB) enqueueDeliveries(ctx context.Context, tx *sql.Tx, e *store.Event) error {
	st, err := db.txStmt(ctx, tx, selectEnabledEndpoints)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, e.AccountID)
	if err != nil {
		return err
	}
	var targets []string
	for rows.Next() {
		var ep store.WebhookEndpoint
		var enabled string
		if err := rows.Scan(&ep.ID, &enabled); err != nil {
			rows.Close()
			return err
		}
		if err := jsonUnmarshal(enabled, &ep.EnabledEvents); err != nil {
			rows.Close()
			return err
		}
		if ep.Wants(e.Type) {
			targets = append(targets, ep.ID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(targets) == 0 {
		return err
	}
	q, err := db.inserter()
	if err != nil {
		return err
	}
	jobs := make([]river.InsertManyParams, len(targets))
	for i, id := range targets {
		jobs[i] = river.InsertManyParams{Args: store.Delivery{EndpointID: id, EventID: e.ID}}
	}
	if _, err := q.InsertManyTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

// WebhookQueue counts the deliveries River has not finished.
func (db *DB) WebhookQueue(ctx context.Context) (q store.DeliveryQueue, err error) {
	defer unavailable(&err)
	var oldest int64
	err = db.read.QueryRowContext(ctx, `SELECT count(*), coalesce(min(unixepoch(created_at)), 0) FROM river_job
		WHERE kind = ? AND state IN ('available', 'pending', 'scheduled', 'retryable', 'running')`,
		store.Delivery{}.Kind()).Scan(&q.Pending, &oldest)
	if oldest > 0 {
		q.OldestPending = time.Unix(oldest, 0)
	}
	return q, err
}
