package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// IdleAfter is how long the queue's client runs with nothing to work before
// it is stopped: a running client ticks many times a second (River's job
// completer), which an idle server should not.
const IdleAfter = 30 * time.Second

// StartEvery is the longest the queue's client stays stopped: each start
// runs the queue's periodic jobs that run on start (the retention sweep,
// whose worker skips a sweep when one ran within half its day).
const StartEvery = 12 * time.Hour

// LookEvery is how often a stopped client's queue is looked at, for work no
// wake-up announces: a delivery whose replica died while making it (rescued
// by River once its deadline passed), or a retry another replica scheduled.
const LookEvery = time.Minute

// Work is what the queue holds: Busy when a job is due now or within
// IdleAfter, or running; otherwise In, when not zero, is how long until the
// earliest later job is due (a retry or a snoozed delivery).
type Work struct {
	Busy bool
	In   time.Duration
}

// Client is the queue's client (River's), which can be started again after
// it stopped.
type Client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Runner runs the queue's client only while there is work: from Wake (the
// relay moved deliveries in), a job's due time, or a look (every LookEvery)
// that finds work, until IdleAfter after the queue has none; and at least
// every StartEvery.
type Runner struct {
	c      Client
	work   func(context.Context) (Work, error)
	logger *slog.Logger
	kick   chan struct{}
	base   context.Context // the client's, which Stop does not cancel

	idleAfter, checkEvery, startEvery, lookEvery time.Duration // IdleAfter, how often a running queue is looked at, StartEvery, LookEvery

	mu      sync.Mutex
	running bool
	stop    func()
}

// NewRunner starts running c, at once (whatever is left from a previous
// process is worked, and the periodic jobs that run on start run), until
// Stop. work tells what the queue holds.
func NewRunner(ctx context.Context, c Client, work func(context.Context) (Work, error), logger *slog.Logger) (*Runner, error) {
	return newRunner(ctx, c, work, logger, IdleAfter, StartEvery, LookEvery)
}

// newRunner is NewRunner with the client stopped after idleAfter, started
// at least every startEvery, and its queue looked at every lookEvery while
// stopped.
func newRunner(ctx context.Context, c Client, work func(context.Context) (Work, error), logger *slog.Logger, idleAfter, startEvery, lookEvery time.Duration) (*Runner, error) {
	if logger == nil {
		logger = slog.Default()
	}
	base := context.WithoutCancel(ctx)
	r := &Runner{c: c, work: work, logger: logger, kick: make(chan struct{}, 1), base: base,
		idleAfter: idleAfter, checkEvery: idleAfter / 3, startEvery: startEvery, lookEvery: lookEvery}
	if err := c.Start(base); err != nil {
		return nil, err
	}
	r.running = true
	ctx, cancel := context.WithCancel(base)
	done := make(chan struct{})
	r.stop = func() { cancel(); <-done }
	go func() { defer close(done); r.loop(ctx) }()
	return r, nil
}

// Wake starts the client if it is stopped, and keeps it running for at
// least IdleAfter.
func (r *Runner) Wake() {
	select {
	case r.kick <- struct{}{}:
	default: // already woken
	}
}

// Stop stops the runner and then the client, if it runs, letting the jobs in
// flight finish as the client's Stop does.
func (r *Runner) Stop(ctx context.Context) error {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return nil
	}
	r.running = false
	return r.c.Stop(ctx)
}

func (r *Runner) loop(ctx context.Context) {
	lastWake, lastStart := time.Now(), time.Now()
	var due time.Time // a stopped client's next job, zero for none
	check := time.NewTicker(r.checkEvery)
	defer check.Stop()
	for {
		if r.isRunning() {
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
				lastWake = time.Now()
				continue
			case <-check.C:
			}
			if time.Since(lastWake) < r.idleAfter {
				continue
			}
			w, err := r.work(ctx)
			if err != nil || w.Busy || w.In > 0 && w.In < r.idleAfter {
				continue // a failure to look keeps the client running
			}
			due = time.Time{}
			if w.In > 0 {
				due = time.Now().Add(w.In)
			}
			r.setRunning(ctx, false)
			continue
		}
		wait := time.Until(lastStart.Add(r.startEvery))
		if !due.IsZero() {
			wait = min(wait, time.Until(due))
		}
		look := wait > r.lookEvery // the timer only looks at the queue
		timer := time.NewTimer(max(min(wait, r.lookEvery), 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.kick:
			look = false
		case <-timer.C:
		}
		timer.Stop()
		if look {
			w, err := r.work(ctx)
			if err != nil || !w.Busy && (w.In == 0 || w.In >= r.idleAfter) {
				if err == nil && w.In > 0 {
					due = time.Now().Add(w.In)
				}
				continue
			}
		}
		if r.setRunning(ctx, true) {
			lastWake, lastStart = time.Now(), time.Now()
		} else { // try again after SafetyPoll, whatever was due
			due = time.Now().Add(SafetyPoll)
			lastStart = due.Add(-r.startEvery)
		}
	}
}

func (r *Runner) isRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// setRunning starts or stops the client, and tells whether it did.
func (r *Runner) setRunning(ctx context.Context, run bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	var err error
	if run {
		err = r.c.Start(r.base)
	} else {
		err = r.c.Stop(r.base)
	}
	if err != nil {
		r.logger.Warn("start or stop the webhook delivery queue", "start", run, "error", err)
		return false
	}
	r.running = run
	return true
}
