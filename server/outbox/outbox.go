// Package outbox runs the relay that moves webhook deliveries, written to a
// store's outbox in the transaction of the change that caused them, into the
// job queue that delivers them. Each store engine supplies the one step that
// moves a batch, and how other processes' changes wake it; the loop, its
// wake-ups and its shutdown are the same for all.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
)

// Batch is how many deliveries one step moves, in one transaction.
const Batch = 100

// SafetyPoll is the longest the relay waits without being woken before it
// looks at the outbox anyway: every change that enqueues deliveries wakes it
// (Wake, or the engine's listener), so the poll only covers a wake-up lost to
// a crash or a dropped connection, and is slow enough to leave an idle server
// idle.
const SafetyPoll = 5 * time.Second

// BusyPoll is how often the queue's fetch is woken while deliveries are
// being attempted, and BusyFor how long after the last attempt: a delivery
// that waits for a slot of its endpoint, or for a retry due within seconds,
// is due again without anything announcing it, and the queue's own poll is
// slow so that an idle server stays idle.
const (
	BusyPoll = 500 * time.Millisecond
	BusyFor  = 10 * time.Second
)

// Relay moves deliveries until stopped: at once after Wake, and otherwise every
// SafetyPoll. While Busy, it also wakes the queue's fetch every BusyPoll.
type Relay struct {
	kick      chan struct{}
	busy      chan struct{}
	busyUntil atomic.Int64 // Unix nanoseconds
	mu        sync.Mutex
	stop      func()
}

// New returns a relay that is not running yet.
func New() *Relay { return &Relay{kick: make(chan struct{}, 1), busy: make(chan struct{}, 1)} }

// Start runs the relay until Stop: move moves up to Batch deliveries and
// returns how many it moved. The poll is the longer of SafetyPoll and the
// queue's cfg.FetchPollInterval; the logger is cfg.Logger, default slog's.
// listen, when not nil, runs beside the relay for as long, calling wake when
// another process enqueued deliveries; it returns when its context ends.
// fetch wakes the queue's fetch, while Busy.
func (r *Relay) Start(ctx context.Context, cfg *river.Config, move func(context.Context) (int, error), listen func(ctx context.Context, wake func()), fetch func(context.Context)) {
	interval := max(cfg.FetchPollInterval, SafetyPoll)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	r.mu.Lock()
	r.stop = func() { cancel(); wg.Wait() }
	r.mu.Unlock()
	if listen != nil {
		wg.Go(func() { listen(ctx, r.Wake) })
	}
	wg.Go(func() { r.wakeFetchWhileBusy(ctx, fetch) })
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			n, err := move(ctx)
			if err != nil && ctx.Err() == nil {
				logger.Warn("move webhook deliveries into the queue", "error", err)
			}
			if n == Batch {
				continue // more are waiting
			}
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
			case <-tick.C:
			}
		}
	})
}

// wakeFetchWhileBusy calls fetch every BusyPoll while Busy, until ctx ends.
func (r *Relay) wakeFetchWhileBusy(ctx context.Context, fetch func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.busy:
		}
		tick := time.NewTicker(BusyPoll)
		for time.Now().UnixNano() < r.busyUntil.Load() {
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-tick.C:
				fetch(ctx)
			}
		}
		tick.Stop()
	}
}

// Busy notes that a delivery is being attempted: for BusyFor, the queue's
// fetch is woken every BusyPoll.
func (r *Relay) Busy() {
	r.busyUntil.Store(time.Now().Add(BusyFor).UnixNano())
	select {
	case r.busy <- struct{}{}:
	default: // already busy
	}
}

// Running tells whether the relay runs in this process: a change that
// enqueues deliveries wakes it with Wake, and otherwise tells the relays of
// other processes (a command-line change to a served database).
func (r *Relay) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop != nil
}

// Wake makes a running relay move deliveries now, without waiting.
func (r *Relay) Wake() {
	select {
	case r.kick <- struct{}{}:
	default: // already woken
	}
}

// Stop stops the relay, if it runs, and waits for its step in progress.
func (r *Relay) Stop() {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}
