// Package outbox runs the relay that moves webhook deliveries, written to a
// store's outbox in the transaction of the change that caused them, into the
// job queue that delivers them. Each store engine supplies the one step that
// moves a batch; the loop, its wake-ups and its shutdown are the same for all.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Batch is how many deliveries one step moves, in one transaction.
const Batch = 100

// Relay moves deliveries until stopped: at once after Wake, and otherwise every
// poll interval (deliveries that other processes' changes wrote).
type Relay struct {
	kick chan struct{}
	mu   sync.Mutex
	stop func()
}

// New returns a relay that is not running yet.
func New() *Relay { return &Relay{kick: make(chan struct{}, 1)} }

// Start runs the relay until Stop: move moves up to Batch deliveries and
// returns how many it moved. The poll interval and logger are the queue's
// (cfg.FetchPollInterval, default 1 s; cfg.Logger, default slog's).
func (r *Relay) Start(ctx context.Context, cfg *river.Config, move func(context.Context) (int, error)) {
	interval := cfg.FetchPollInterval
	if interval <= 0 {
		interval = time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	r.mu.Lock()
	r.stop = func() { cancel(); <-done }
	r.mu.Unlock()
	go func() {
		defer close(done)
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
	}()
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
