package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/captureapi/capture/server/store"
)

// RetentionOptions configure the retention sweep.
type RetentionOptions struct {
	// Store deletes the prospects past their account's retention.
	Store store.PrivacyStore
	// Interval is how often the sweep runs; default once a day. It runs on
	// start too.
	Interval time.Duration
	// Now is the sweep's clock; default time.Now (tests move it forward).
	Now func() time.Time
	// Logger gets each sweep's count and failures; default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets capture_retention_deleted_total: pass the
	// Server's (Server.Metrics) so that /metrics shows it.
	Metrics prometheus.Registerer
}

// RetentionSweep is the queue's job of one retention sweep.
type RetentionSweep struct{}

// Kind is the job's kind in the queue.
func (RetentionSweep) Kind() string { return "retention_sweep" }

// AddRetention adds the retention sweep to the queue's configuration (as
// DeliveryConfig makes it): a River periodic job, enqueued every Interval
// and when the queue starts by the one process River elects leader among
// those sharing the database, and worked by one of them. So with several
// replicas one of them sweeps. An idle server's queue starts at least every
// outbox.StartEvery, so a sweep runs daily whether or not there is other
// work.
func AddRetention(cfg *river.Config, o RetentionOptions) {
	if o.Interval <= 0 {
		o.Interval = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &retentionWorker{o: o, deleted: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capture_retention_deleted_total",
		Help: "Prospects the retention sweep deleted: not updated for their account's retention_days, and not converted.",
	})}
	if o.Metrics != nil {
		o.Metrics.MustRegister(w.deleted)
	}
	river.AddWorker(cfg.Workers, w)
	cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(o.Interval),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionSweep{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}

// retentionWorker is the River worker that runs one retention sweep.
type retentionWorker struct {
	river.WorkerDefaults[RetentionSweep]
	o       RetentionOptions
	deleted prometheus.Counter

	mu    sync.Mutex
	swept time.Time // this process's last sweep that succeeded, in its own clock
}

// Timeout leaves a sweep of many prospects the time it takes.
func (w *retentionWorker) Timeout(*river.Job[RetentionSweep]) time.Duration { return time.Hour }

// Work sweeps, unless this process swept within half the Interval: the
// queue runs only while there is work, and each start enqueues a sweep
// (RunOnStart), which a server that starts it often needs only daily.
func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[RetentionSweep]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.swept.IsZero() && time.Since(w.swept) < w.o.Interval/2 {
		return nil
	}
	n, err := w.o.Store.SweepRetention(ctx, w.o.Now())
	w.deleted.Add(float64(n))
	if err != nil {
		w.o.Logger.Error("retention sweep", "deleted", n, "error", err)
		return err
	}
	w.swept = time.Now()
	if n > 0 {
		w.o.Logger.Info("retention sweep", "deleted", n)
	}
	return nil
}
