package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

// The webhook delivery queue is River (github.com/riverqueue/river) on this
// same database file, behind a transactional outbox:
//
//   - a change writes one row per delivery into webhook_outbox, in its own
//     transaction, with one prepared statement (River's insert costs a change
//     several times more: SQLite parses its statements on every call);
//   - a relay, started with the queue, moves the rows into River's jobs in
//     batches, each batch's insert and delete in one transaction.
//
// Both are rows beside the data, so no committed change is ever without its
// deliveries, and a crash or restart at any instant loses none: rows not yet
// moved are moved by the next process. River shares the single writer
// connection with the store.

// migrateQueue brings River's own tables up to date.
func (db *DB) migrateQueue(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(db.write), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// Queue is the delivery queue's River client, run while there is work
// (outbox.Runner): Stop stops it for good.
type Queue struct {
	*river.Client[*sql.Tx]
	run *outbox.Runner
}

// Stop stops the queue, letting the deliveries in flight finish.
func (q *Queue) Stop(ctx context.Context) error { return q.run.Stop(ctx) }

// StartQueue starts a River client that works the delivery queue with cfg
// (its Workers, Queues and retry policy), and the relay that feeds it from
// the outbox. Nothing runs that an idle server does not need: every change
// that enqueues a delivery wakes the relay (enqueueDeliveries); each batch
// the relay commits starts the client if it is stopped (outbox.Runner) and
// wakes River's fetch (wakeListener); the client stops once the queue has had
// nothing to work for outbox.IdleAfter, and starts again when the earliest
// retry is due. The polls (outbox.SafetyPoll and cfg.FetchPollInterval) are
// only safety nets. Stop the queue with its Stop before Close, which stops
// the relay.
func (db *DB) StartQueue(ctx context.Context, cfg *river.Config) (*Queue, error) {
	own := *cfg
	own.PollOnly = false // River listens, to wakeListener
	l := &wakeListener{ch: make(chan *riverdriver.Notification, 1)}
	c, err := river.NewClient[*sql.Tx](wakeDriver{riversqlite.New(db.write), l}, &own)
	if err != nil {
		return nil, err
	}
	run, err := outbox.NewRunner(ctx, c, db.queueWork, own.Logger)
	if err != nil {
		return nil, err
	}
	db.relay.Start(ctx, &own, func(ctx context.Context) (int, error) {
		n, err := db.relayOnce(ctx, c)
		if n > 0 {
			run.Wake()
			l.inserted() // committed: River reads the batch at once
		}
		return n, err
	}, nil, func(context.Context) { l.inserted() })
	return &Queue{Client: c, run: run}, nil
}

// queueWork tells whether River holds a job to work now or soon, and
// otherwise how long until the earliest is due.
func (db *DB) queueWork(ctx context.Context) (w outbox.Work, err error) {
	defer unavailable(&err)
	var busy bool
	var in sql.NullFloat64
	err = db.read.QueryRowContext(ctx, `SELECT
		coalesce(max(state IN ('available', 'running') OR unixepoch(scheduled_at, 'subsec') < unixepoch('now', 'subsec') + ?), 0),
		min(unixepoch(scheduled_at, 'subsec')) - unixepoch('now', 'subsec')
		FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')`,
		outbox.IdleAfter.Seconds()).Scan(&busy, &in)
	if in.Valid && in.Float64 > 0 {
		w.In = time.Duration(in.Float64 * float64(time.Second))
	}
	w.Busy = busy
	return w, err
}

// relayOnce moves up to outbox.Batch deliveries into River in one transaction.
func (db *DB) relayOnce(ctx context.Context, c *river.Client[*sql.Tx]) (n int, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, endpoint_id, event_id FROM webhook_outbox ORDER BY seq LIMIT ?`, outbox.Batch)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		var last int64
		for rows.Next() {
			var d store.Delivery
			if err := rows.Scan(&last, &d.EndpointID, &d.EventID); err != nil {
				rows.Close()
				return err
			}
			jobs = append(jobs, river.InsertManyParams{Args: d})
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(jobs) == 0 {
			return err
		}
		if _, err := c.InsertManyTx(ctx, tx.Tx, jobs); err != nil {
			return err
		}
		n = len(jobs)
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE seq <= ?`, last)
		return err
	})
	if err != nil {
		n = 0
	}
	return n, err
}

// enqueueDeliveries writes, in the change's transaction, one delivery of the
// event to each enabled endpoint of its account that wants its type, and
// wakes the relay (which waits for the change's commit behind the writer).
func (db *DB) enqueueDeliveries(ctx context.Context, tx *writeTx, e *store.Event) error {
	res, err := tx.ExecContext(ctx, insertOutbox, e.ID, e.Created.Unix(), e.AccountID, e.Type)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		db.relay.Wake()
	}
	return nil
}

// insertOutbox enqueues an event (id, created, account, type) for every
// enabled endpoint of the account whose enabled_events has its type or "*".
const insertOutbox = `INSERT INTO webhook_outbox (endpoint_id, event_id, created)
	SELECT id, ?1, ?2 FROM webhook_endpoints WHERE account_id = ?3 AND disabled = 0
	AND EXISTS (SELECT 1 FROM json_each(enabled_events) WHERE value IN ('*', ?4))`

// WebhookQueue counts the deliveries not done: in the outbox, or in River and
// not finished.
func (db *DB) WebhookQueue(ctx context.Context) (q store.DeliveryQueue, err error) {
	defer unavailable(&err)
	var oldest int64
	err = db.read.QueryRowContext(ctx, `SELECT sum(n), min(oldest) FROM (
		SELECT count(*) AS n, min(unixepoch(created_at)) AS oldest FROM river_job
			WHERE kind = ? AND state IN ('available', 'pending', 'scheduled', 'retryable', 'running')
		UNION ALL SELECT count(*), min(created) FROM webhook_outbox)`,
		store.Delivery{}.Kind()).Scan(&q.Pending, nullInt(&oldest))
	if oldest > 0 {
		q.OldestPending = time.Unix(oldest, 0)
	}
	return q, err
}

// nullInt scans a nullable integer into *p, leaving it zero for NULL.
func nullInt(p *int64) sql.Scanner { return (*nullIntScanner)(p) }

type nullIntScanner int64

func (s *nullIntScanner) Scan(v any) error {
	var n sql.NullInt64
	if err := n.Scan(v); err != nil {
		return err
	}
	*s = nullIntScanner(n.Int64)
	return nil
}

// ClaimDeliverySlot takes the first of the endpoint's n slots that is free,
// whose lease ran out, or that the job holds already. The single writer makes
// the claim atomic; the lease is kept in this machine's clock, the only one
// that writes the file.
func (db *DB) ClaimDeliverySlot(ctx context.Context, endpointID string, jobID int64, n int, lease time.Duration) (claimed bool, err error) {
	defer unavailable(&err)
	db.relay.Busy()
	now := time.Now()
	err = db.inTx(ctx, func(tx *writeTx) error {
		for slot := range n {
			res, err := tx.ExecContext(ctx, claimSlot, endpointID, slot, jobID, now.Add(lease).UnixMilli(), now.UnixMilli())
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				claimed = true
				return nil
			}
		}
		return nil
	})
	return claimed && err == nil, err
}

// claimSlot takes slot ?2 of endpoint ?1 for job ?3 until ?4 (unix ms) when
// it is free, its lease ran out by ?5, or the job holds it; it changes no row
// otherwise.
const claimSlot = `INSERT INTO webhook_delivery_slots (endpoint_id, slot, job_id, expires) VALUES (?1, ?2, ?3, ?4)
	ON CONFLICT (endpoint_id, slot) DO UPDATE SET job_id = excluded.job_id, expires = excluded.expires
	WHERE webhook_delivery_slots.expires <= ?5 OR webhook_delivery_slots.job_id = excluded.job_id`

// ReleaseDeliverySlot frees the slot the job holds for the endpoint.
func (db *DB) ReleaseDeliverySlot(ctx context.Context, endpointID string, jobID int64) (err error) {
	defer unavailable(&err)
	_, err = db.exec(ctx, `DELETE FROM webhook_delivery_slots WHERE endpoint_id = ? AND job_id = ?`, endpointID, jobID)
	return err
}
