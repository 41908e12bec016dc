package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/captureapi/capture/server/outbox"
)

// idleRowKey is the row of an idle capture serve's CPU: a server nobody
// calls should leave the machine alone, on either engine.
const idleRowKey = "idle"

// idleSettle is how long a server is left to start and fall idle
// (migrations, the queue's leader election and first maintenance, then its
// River client stopping outbox.IdleAfter after the last work) before its idle
// CPU is measured.
const idleSettle = outbox.IdleAfter + 15*time.Second

// settleFor is how long a server is left before a measure of idle: a short
// one (under 10 s) only checks the row runs, and waits no longer than itself.
func settleFor(idle time.Duration) time.Duration {
	if idle < 10*time.Second {
		return idle
	}
	return idleSettle
}

// idleTarget is the most CPU an idle server may use, a fraction of a core.
const idleTarget = 0.002

// idleResult is the idle row of one engine.
type idleResult struct {
	server string
	cpu    time.Duration // user+system CPU over the window
	window time.Duration
	err    string
}

// measureIdle starts a fresh capture serve on each engine (SQLite, and
// PostgreSQL when the run has one), all at once, and reads each one's CPU
// time from /proc over cfg.idle once it has settled.
func measureIdle(ctx context.Context, cfg config, captureBin, dir string) []idleResult {
	kinds := []*serverKind{captureKind(captureBin)}
	if cfg.postgres != "" {
		kinds = append(kinds, captureOnPostgres(captureBin, cfg.postgres, "", 1))
	}
	out := make([]idleResult, len(kinds))
	var wg sync.WaitGroup
	for i, s := range kinds {
		out[i].server = s.name
		wg.Go(func() {
			if err := idleOnce(ctx, cfg, s, filepath.Join(dir, s.name), &out[i]); err != nil {
				out[i].err = err.Error()
				logf("%-13s idle CPU: %v", s.name, err)
				return
			}
			logf("%-13s idle CPU: %s over %s, %.2f%% of a core", s.name, out[i].cpu, out[i].window.Round(time.Millisecond), out[i].share()*100)
		})
	}
	wg.Wait()
	return out
}

// idleOnce measures one engine in a database of its own.
func idleOnce(ctx context.Context, cfg config, s *serverKind, dir string, res *idleResult) error {
	db, drop, err := ownDatabase(ctx, s, dir)
	if err != nil {
		return err
	}
	defer drop()
	// capture serve lays out an empty database itself, with its first account.
	p, err := startServer(ctx, s, db, account{}, dir)
	if err != nil {
		return err
	}
	defer p.stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settleFor(cfg.idle)):
	}
	before, err := cpuTime([]*process{p})
	if err != nil {
		return err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(cfg.idle):
	}
	after, err := cpuTime([]*process{p})
	if err != nil {
		return err
	}
	res.cpu, res.window = after-before, time.Since(t0)
	return nil
}

// share is the CPU used as a fraction of one core.
func (r idleResult) share() float64 { return r.cpu.Seconds() / r.window.Seconds() }

// printIdle prints the idle row of each engine.
func printIdle(w io.Writer, cfg config, results []idleResult) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "\nidle CPU: a fresh capture serve that nobody calls, its user+system CPU over %s after %s to start (/proc, to a clock tick of 10 ms); target <%.1f%% of a core:\n",
		cfg.idle, settleFor(cfg.idle), idleTarget*100)
	for _, r := range results {
		if r.err != "" {
			fmt.Fprintf(w, "  %-13s failed: %s\n", r.server, r.err)
			continue
		}
		fmt.Fprintf(w, "  %-13s %6s  %.2f%% of a core  met: %s\n", r.server, r.cpu, r.share()*100, yesNo(r.share() < idleTarget))
	}
}
