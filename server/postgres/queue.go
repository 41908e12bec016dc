package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

// The webhook delivery queue is River (github.com/riverqueue/river) in this
// same database, behind a transactional outbox, as on SQLite:
//
//   - a change writes one row per delivery into webhook_outbox, in its own
//     transaction and in the same statement as its event (recordEvent);
//   - every replica runs a relay, started with its queue, that moves rows
//     into River's jobs in batches, each batch's delete and insert in one
//     transaction. A batch takes its rows FOR UPDATE SKIP LOCKED, so relays
//     of several replicas share the outbox without waiting on each other or
//     moving a row twice.
//
// River itself hands each job to one worker of one replica at a time, so a
// delivery is worked by one replica, and the rest of its retries by whichever
// replica fetches them. A crash or restart at any instant loses nothing: rows
// not yet moved are moved by the next relay, and River rescues jobs whose
// replica died while running them.
//
// The outbox rather than River's InsertTx in the change's transaction: the
// outbox costs a change nothing beyond its event's statement (the endpoints'
// lookup and the deliveries' insert are one INSERT … SELECT with it), and the
// store needs no River client to write, so every path that changes prospects
// (the CLI's included) enqueues deliveries the same way on both engines.

// riverMigrateLock keys the advisory lock under which replicas starting
// together migrate River's tables one after the other (goose's own lock
// covers the store's migrations).
const riverMigrateLock = "capture: river migrations"

// migrateQueue brings River's own tables up to date, in the schema the
// connection's search_path names, one replica at a time: a session advisory
// lock is held on a connection of its own, beside the pool (which may have a
// single connection), while River applies each version in a transaction of its
// own (a version may use an enum value the one before added, which one
// transaction cannot).
func (db *DB) migrateQueue(ctx context.Context) error {
	m, err := rivermigrate.New(riverpgxv5.New(db.pool), nil)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var key int64
	if err := conn.QueryRow(ctx, `SELECT hashtext($1 || current_schema())`, riverMigrateLock).Scan(&key); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err // closing the connection releases the lock
}

// Queue is the delivery queue's River client, run while there is work
// (outbox.Runner): Stop stops it for good.
type Queue struct {
	*river.Client[pgx.Tx]
	run *outbox.Runner
}

// Stop stops the queue, letting the deliveries in flight finish.
func (q *Queue) Stop(ctx context.Context) error { return q.run.Stop(ctx) }

// StartQueue starts a River client that works the delivery queue with cfg
// (its Workers, Queues and retry policy), and the relay that feeds it from
// the outbox. Nothing runs that an idle server does not need:
//
//   - a change of this process wakes its relay once it commits; a change of a
//     process that runs no relay (a command) notifies outboxChannel, which
//     every replica's relay listens on; the relay's poll (outbox.SafetyPoll)
//     only covers a wake-up lost to a crash;
//   - a batch the relay moves starts this replica's client if it is stopped
//     (outbox.Runner), so the replica that moved jobs works them if no other
//     does; the client stops once the queue has had nothing to work for
//     outbox.IdleAfter, and starts again when the earliest retry is due;
//   - the relay's insert of the jobs notifies River's insert channel in its
//     transaction, so on commit the running workers of every replica fetch
//     them (River listens, cfg.PollOnly unset); River's own poll,
//     cfg.FetchPollInterval, is again a safety net.
//
// Stop the queue with its Stop before Close, which stops the relay.
func (db *DB) StartQueue(ctx context.Context, cfg *river.Config) (*Queue, error) {
	c, err := river.NewClient(riverpgxv5.New(db.pool), cfg)
	if err != nil {
		return nil, err
	}
	run, err := outbox.NewRunner(ctx, c, db.queueWork, cfg.Logger)
	if err != nil {
		return nil, err
	}
	exec := riverpgxv5.New(db.pool).GetExecutor()
	fetch := func(ctx context.Context) { // River's own insert notification, to every replica
		err := exec.NotifyMany(ctx, &riverdriver.NotifyManyParams{Payload: []string{insertPayload}, Schema: cfg.Schema, Topic: "river_insert"})
		if err != nil && ctx.Err() == nil {
			slog.Default().Warn("wake the webhook delivery queue", "error", err)
		}
	}
	db.relay.Start(ctx, cfg, func(ctx context.Context) (int, error) {
		n, err := db.relayOnce(ctx, c)
		if n > 0 {
			run.Wake()
		}
		return n, err
	}, db.listenOutbox, fetch)
	return &Queue{Client: c, run: run}, nil
}

// queueWork tells whether River holds a job to work now or soon, and
// otherwise how long until the earliest is due, in the database's clock.
func (db *DB) queueWork(ctx context.Context) (w outbox.Work, err error) {
	defer unavailable(ctx, &err)
	var in *float64
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT
			coalesce(bool_or(state IN ('available', 'running') OR scheduled_at < now() + $1::float8 * interval '1 second'), false),
			extract(epoch FROM min(scheduled_at) - now())::float8
			FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')`,
			outbox.IdleAfter.Seconds()).Scan(&w.Busy, &in)
	})
	if in != nil && *in > 0 {
		w.In = time.Duration(*in * float64(time.Second))
	}
	return w, err
}

// insertPayload is River's notification that jobs of the deliveries' queue
// are due.
var insertPayload = fmt.Sprintf(`{"queue": %q}`, river.QueueDefault)

// outboxChannel is the expression of the channel, one per schema, that
// announces deliveries written by a process that runs no relay; hashed, as a
// schema name may be longer than a channel's.
const outboxChannel = `'capture_outbox_' || md5(current_schema())`

// listenOutbox calls wake whenever outboxChannel is notified, until ctx ends,
// on a connection of its own beside the pool. A lost connection is opened
// again, after a wait that doubles up to half a minute, and followed by a
// wake for what was notified meanwhile.
func (db *DB) listenOutbox(ctx context.Context, wake func()) {
	logger := slog.Default()
	backoff := time.Second
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, wake, func() { backoff = time.Second })
		if ctx.Err() != nil {
			return
		}
		logger.Warn("listen for webhook deliveries of other processes", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		wake()
	}
}

// listenOnce listens on one connection until it fails or ctx ends; listening
// is called once the LISTEN took effect.
func (db *DB) listenOnce(ctx context.Context, wake, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+outboxChannel).Scan(&channel); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// relayOnce moves up to outbox.Batch deliveries into River in one transaction,
// skipping the rows another replica's relay is moving.
func (db *DB) relayOnce(ctx context.Context, c *river.Client[pgx.Tx]) (n int, err error) {
	defer unavailable(ctx, &err)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM webhook_outbox WHERE seq IN (
			SELECT seq FROM webhook_outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING endpoint_id, event_id`, outbox.Batch)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		for rows.Next() {
			var d store.Delivery
			if err := rows.Scan(&d.EndpointID, &d.EventID); err != nil {
				rows.Close()
				return err
			}
			jobs = append(jobs, river.InsertManyParams{Args: d})
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(jobs) == 0 {
			return err
		}
		if _, err := c.InsertManyTx(ctx, tx, jobs); err != nil {
			return err
		}
		n = len(jobs)
		return nil
	})
	if err != nil {
		n = 0
	}
	return n, err
}

// enqueued notes that the change made with ctx enqueued deliveries: the relay
// is woken once they are committed, now, or when the Atomically transaction
// the change is part of commits.
func (db *DB) enqueued(ctx context.Context) {
	if tx, ok := ctx.Value(txKey{}).(*outerTx); ok {
		tx.enqueued.Store(true)
		return
	}
	db.wakeRelay(ctx)
}

// wakeRelay wakes the relay of this process for deliveries just committed,
// or, in a process that runs none, notifies the relays of the servers. The
// notification follows the commit rather than joining its transaction: a
// NOTIFY in a transaction takes a lock, at commit, that every other
// notifying commit of the database waits for, and a server's own changes
// (nearly all of them) need none. One lost (the command dying between its
// commit and this) leaves the deliveries to the relays' safety poll.
func (db *DB) wakeRelay(ctx context.Context) {
	if db.relay.Running() {
		db.relay.Wake()
		return
	}
	ctx = context.WithoutCancel(ctx)
	_ = db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `SELECT pg_notify(`+outboxChannel+`, '')`)
		return err
	})
}

// WebhookQueue counts the deliveries not done: in the outbox, or in River and
// not finished.
func (db *DB) WebhookQueue(ctx context.Context) (q store.DeliveryQueue, err error) {
	defer unavailable(ctx, &err)
	var oldest *time.Time
	err = db.with(ctx, func(qr querier) error {
		return qr.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::bigint, min(oldest) FROM (
			SELECT count(*) AS n, min(created_at) AS oldest FROM river_job
				WHERE kind = $1 AND state IN ('available', 'pending', 'scheduled', 'retryable', 'running')
			UNION ALL SELECT count(*), min(created) FROM webhook_outbox) pending`,
			store.Delivery{}.Kind()).Scan(&q.Pending, &oldest)
	})
	if oldest != nil {
		q.OldestPending = *oldest
	}
	return q, err
}

// ClaimDeliverySlot takes the first of the endpoint's n slots that is free,
// whose lease ran out, or that the job holds already. Each slot is a row
// whose key PostgreSQL guards: of replicas claiming one slot at once, the
// first takes it and the others see it held. Leases are in the database's
// clock, the one all replicas share.
func (db *DB) ClaimDeliverySlot(ctx context.Context, endpointID string, jobID int64, n int, lease time.Duration) (claimed bool, err error) {
	defer unavailable(ctx, &err)
	db.relay.Busy()
	err = db.with(ctx, func(q querier) error {
		for slot := range n {
			tag, err := q.Exec(ctx, claimSlot, endpointID, slot, jobID, lease.Milliseconds())
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
				claimed = true
				return nil
			}
		}
		return nil
	})
	return claimed && err == nil, err
}

// claimSlot takes slot $2 of endpoint $1 for job $3 for $4 milliseconds when
// it is free, its lease ran out, or the job holds it; it changes no row
// otherwise.
const claimSlot = `INSERT INTO webhook_delivery_slots (endpoint_id, slot, job_id, expires)
	VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond')
	ON CONFLICT (endpoint_id, slot) DO UPDATE SET job_id = excluded.job_id, expires = excluded.expires
	WHERE webhook_delivery_slots.expires <= now() OR webhook_delivery_slots.job_id = excluded.job_id`

// ReleaseDeliverySlot frees the slot the job holds for the endpoint.
func (db *DB) ReleaseDeliverySlot(ctx context.Context, endpointID string, jobID int64) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM webhook_delivery_slots WHERE endpoint_id = $1 AND job_id = $2`, endpointID, jobID)
		return err
	})
}
