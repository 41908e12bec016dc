package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The flood row: how much of its create throughput one tenant (B) keeps while
// another (A) floods the server with batches. A sends idempotent 500-item
// batches on floodConnections connections with one key at the server's
// default rate limit, waiting out each 429 for its Retry-After as the Go
// client and `capture prospects import` do; B sends single creates on as many
// connections with a key whose limit is far above what it reaches. B is
// measured alone, then during the flood, on Capture with SQLite, where one
// writer serves every account. The figures are reported, never asserted.

// floodRowKey names the row for -rows.
const floodRowKey = "flood"

// floodConnections is how many connections each tenant uses.
const floodConnections = 4

// floodTenant is the account whose key sends the batches.
const floodTenant = "flood"

// floodResult is what the flood row measured.
type floodResult struct {
	alone, during    result // B's creates
	batches, refused uint64 // A's batches answered 200, and 429
	floodWall        time.Duration
	err              string
}

// runFlood measures the flood row on a fresh Capture on SQLite in dir.
func runFlood(ctx context.Context, cfg config, captureBin, dir string) floodResult {
	var out floodResult
	fail := func(err error) floodResult { out.err = err.Error(); return out }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	db := filepath.Join(dir, "bench.db")
	tenantB, err := prepareWithCapture(ctx, captureBin, db)
	if err != nil {
		return fail(err)
	}
	if _, err := runCmd(ctx, captureBin, "accounts", "create", floodTenant, "--prospect-limit", benchLimit, "--db", db); err != nil {
		return fail(err)
	}
	keyA, err := runCmd(ctx, captureBin, "keys", "create", "--account", floodTenant, "--role", "standard", "--db", db)
	if err != nil {
		return fail(err)
	}
	p, err := startServer(ctx, captureKind(captureBin), db, tenantB, dir)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			logf("flood: %v", err)
		}
	}()
	envB := &rowEnv{bases: []string{p.base}, key: tenantB.key, server: "tenant-b"}
	envA := &rowEnv{bases: []string{p.base}, key: strings.TrimSpace(keyA), server: "tenant-a"}
	measureB := func(name string) result { return measureCreates(ctx, cfg, envB, name) }

	out.alone = measureB("flood-alone")
	floodCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var batches, refused atomic.Uint64
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: floodConnections, MaxIdleConnsPerHost: floodConnections}}
	started := time.Now()
	for range floodConnections {
		wg.Go(func() { floodBatches(floodCtx, client, envA, &batches, &refused) })
	}
	out.during = measureB("flood-during")
	stop()
	wg.Wait()
	out.floodWall = time.Since(started)
	out.batches, out.refused = batches.Load(), refused.Load()
	return out
}

// floodBatches sends tenant A's batches one after the other until ctx ends,
// each with an Idempotency-Key of its own, waiting out a 429's Retry-After.
func floodBatches(ctx context.Context, client *http.Client, env *rowEnv, batches, refused *atomic.Uint64) {
	for ctx.Err() == nil {
		n := env.seq.Add(1)
		req, err := http.NewRequestWithContext(ctx, "POST", env.at(n)+"/v1/prospects/batch", bytes.NewReader(env.batchBody(n, batchSize)))
		if err != nil {
			return
		}
		req.Header = env.header("Content-Type", "application/json", "Idempotency-Key", "flood-"+strconv.FormatUint(n, 10))
		resp, err := client.Do(req)
		if err != nil {
			continue // ctx ended, or the server is overloaded: the next one says which
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			batches.Add(1)
		case http.StatusTooManyRequests:
			refused.Add(1)
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(max(1, wait)) * time.Second):
			}
		}
	}
}

// print writes the flood row's lines under the table.
func (f floodResult) print(w io.Writer) {
	fmt.Fprintf(w, "\ntenant B's creates during tenant A's batch flood (capture on SQLite; A: %d connections of idempotent %d-item batches, one key at the default rate limit, waiting out 429s; B: %d connections of single creates):\n",
		floodConnections, batchSize, floodConnections)
	if f.err != "" {
		fmt.Fprintf(w, "  not measured: %s\n", f.err)
		return
	}
	line := func(label string, r result) {
		fmt.Fprintf(w, "  %-22s %7.0f creates/s  p50 %-7s p99 %s", label, r.rps, fmtLatency(r.p50), fmtLatency(r.p99))
		if r.unexpected != "" {
			fmt.Fprintf(w, "  (%s)", r.unexpected)
		}
		fmt.Fprintln(w)
	}
	line("B alone", f.alone)
	line("B during the flood", f.during)
	if f.alone.rps > 0 {
		share := f.during.rps / f.alone.rps
		met := "met"
		if share < 0.5 {
			met = "NOT met"
		}
		fmt.Fprintf(w, "  B keeps %.0f%% of its creates (target ≥50%%: %s)\n", 100*share, met)
	}
	if s := f.floodWall.Seconds(); s > 0 {
		fmt.Fprintf(w, "  A: %d batches written (%.0f prospects/s), %d answered 429\n", f.batches, float64(f.batches*batchSize)/s, f.refused)
	}
}

// measureCreates loads env's account with single creates from
// floodConnections connections for cfg.duration (after cfg.warmup): the
// throughput another tenant keeps, the row's figure with a flood or without.
func measureCreates(ctx context.Context, cfg config, env *rowEnv, name string) result {
	cfg.concurrency = floodConnections
	creates := func(tgt *vegeta.Target) error {
		n := env.seq.Add(1)
		tgt.Method, tgt.URL = "POST", env.at(n)+"/v1/prospects"
		tgt.Header = env.header("Content-Type", "application/json")
		tgt.Body = env.createBody(n)
		return nil
	}
	if cfg.warmup > 0 {
		attack(ctx, cfg, creates, cfg.warmup, name+"-warmup")
	}
	m := attack(ctx, cfg, creates, cfg.duration, name)
	r := result{requests: m.Requests, p50: m.Latencies.P50, p99: m.Latencies.P99}
	if wall := (m.Duration + m.Wait).Seconds(); wall > 0 {
		r.rps = float64(m.StatusCodes["201"]) / wall
	}
	if ok := uint64(m.StatusCodes["201"]); ok != m.Requests {
		r.unexpected = fmt.Sprintf("%d of %d creates were not 201", m.Requests-ok, m.Requests)
	}
	return r
}
