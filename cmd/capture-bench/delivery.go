package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The delivery row measures fairness between accounts rather than load: one
// account's webhook receiver never answers, with hangQueued deliveries queued
// to it, and the row is how long another account's event then takes from its
// create to its receiver. Capture runs it alone after the table, on each of
// its columns (the floor has no webhooks), and prints the median of -count
// events, one after the other, with the slowest; nothing is asserted.

// hangRowKey names the row for -rows.
const hangRowKey = "delivery-hang"

// hangRowName is what the report shows.
const hangRowName = "delivery latency to a healthy endpoint while another endpoint hangs"

// hangQueued is how many deliveries wait for the receiver that never answers.
const hangQueued = 60

// hangPatience is how long the row waits for one event before it gives up.
const hangPatience = 2 * time.Minute

// hangResult is the row's figures on one server.
type hangResult struct {
	server   string
	median   time.Duration
	slowest  time.Duration
	received int // requests the hanging receiver got meanwhile
	err      string
}

// measureDeliveryHang runs the delivery row on every Capture server.
func measureDeliveryHang(ctx context.Context, cfg config, servers []*serverKind, dir string) []hangResult {
	var out []hangResult
	for _, s := range servers {
		if !strings.HasPrefix(s.name, "capture") {
			continue
		}
		res := hangResult{server: s.name}
		if err := deliveryHang(ctx, cfg, s, filepath.Join(dir, s.name), &res); err != nil {
			res.err = err.Error()
			logf("%-13s %s: %v", s.name, hangRowName, err)
		} else {
			logf("%-13s %s: median %s, slowest %s", s.name, hangRowName, fmtSeconds(res.median), fmtSeconds(res.slowest))
		}
		out = append(out, res)
	}
	return out
}

// deliveryHang measures the row on one server, in a database of its own.
func deliveryHang(ctx context.Context, cfg config, s *serverKind, dir string, res *hangResult) error {
	db, drop, err := ownDatabase(ctx, s, dir)
	if err != nil {
		return err
	}
	defer drop()
	slow, err := s.prepare(ctx, db)
	if err != nil {
		return fmt.Errorf("prepare database: %w", err)
	}
	if _, err := runCmd(ctx, s.bin, "accounts", "create", "healthy", "--db", db); err != nil {
		return err
	}
	out, err := runCmd(ctx, s.bin, "keys", "create", "--account", "healthy", "--role", "admin", "--db", db)
	if err != nil {
		return err
	}
	healthyKey := strings.TrimSpace(out)

	// The receivers: one never answers (until the row ends), the other notes
	// when each event arrives.
	release := make(chan struct{})
	var open, received atomic.Int64
	hanging, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open.Add(1)
		defer open.Add(-1)
		received.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	if err != nil {
		return err
	}
	defer hanging.Close()
	var mu sync.Mutex
	arrived := map[string]chan time.Time{}
	healthy, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for email, ch := range arrived {
			if strings.Contains(string(body), email) {
				select {
				case ch <- at:
				default: // a retry of one already counted
				}
			}
		}
	}))
	if err != nil {
		return err
	}
	defer healthy.Close()

	k := *s
	k.serveArgs = func(addr, db string, acct account) []string {
		return append(s.serveArgs(addr, db, acct), "--webhooks-allow-private")
	}
	var procs []*process
	// Deferred first, so it runs last: the hanging requests end before the
	// servers drain their deliveries in flight.
	defer func() {
		for _, p := range procs {
			if err := p.stop(); err != nil {
				logf("%s: %v", s.name, err)
			}
		}
	}()
	defer close(release)
	for r := range max(1, s.replicas) {
		rdir := filepath.Join(dir, fmt.Sprintf("replica-%d", r))
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return err
		}
		p, err := startServer(ctx, &k, db, slow, rdir)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	base := procs[0].base
	if err := post(ctx, base, slow.key, "/v1/webhook_endpoints", fmt.Sprintf(`{"url":%q,"enabled_events":["*"]}`, hanging.url)); err != nil {
		return err
	}
	if err := post(ctx, base, healthyKey, "/v1/webhook_endpoints", fmt.Sprintf(`{"url":%q,"enabled_events":["*"]}`, healthy.url)); err != nil {
		return err
	}
	for i := range hangQueued {
		if err := post(ctx, base, slow.key, "/v1/prospects", fmt.Sprintf(`{"email":"hang-%d@slow.example"}`, i)); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return open.Load() > 0 }); err != nil {
		return errors.New("the hanging receiver was never called")
	}

	var took []time.Duration
	for i := range cfg.count {
		email := fmt.Sprintf("healthy-%d@healthy.example", i)
		ch := make(chan time.Time, 1)
		mu.Lock()
		arrived[email] = ch
		mu.Unlock()
		start := time.Now()
		if err := post(ctx, base, healthyKey, "/v1/prospects", fmt.Sprintf(`{"email":%q}`, email)); err != nil {
			return err
		}
		select {
		case at := <-ch:
			took = append(took, at.Sub(start))
		case <-time.After(hangPatience):
			return fmt.Errorf("the healthy account's event did not arrive within %s", hangPatience)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	slices.Sort(took)
	res.median, res.slowest, res.received = took[len(took)/2], took[len(took)-1], int(received.Load())
	return nil
}

// receiver is an HTTP server on a loopback port of its own.
type receiver struct {
	srv *http.Server
	url string
}

func listen(h http.Handler) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String()}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) Close() { r.srv.Close() }

// post sends one API request and wants a 2xx answer.
func post(ctx context.Context, base, key, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, b)
	}
	return nil
}

// waitFor checks cond every 20 ms until it holds or within has passed.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// printDeliveryHang prints the delivery row under the table.
func printDeliveryHang(w io.Writer, cfg config, results []hangResult) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d deliveries queued to a receiver that never answers;\n"+
		"%d events to another account's receiver, one after the other: the median and the slowest):\n",
		hangRowName, hangQueued, cfg.count)
	for _, r := range results {
		if r.err != "" {
			fmt.Fprintf(w, "  %-15s not measured: %s\n", r.server, r.err)
			continue
		}
		fmt.Fprintf(w, "  %-15s %8s  %8s  (%d requests reached the hanging receiver meanwhile)\n",
			r.server, fmtSeconds(r.median), fmtSeconds(r.slowest), r.received)
	}
}

// fmtSeconds is a duration in seconds, to the millisecond.
func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// ownDatabase is where a row measured on server s alone keeps its data: a
// SQLite file in dir, or a schema of its own on s's PostgreSQL, which drop
// removes.
func ownDatabase(ctx context.Context, s *serverKind, dir string) (db string, drop func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if s.postgres == "" {
		return filepath.Join(dir, "bench.db"), func() {}, nil
	}
	return pgSchema(ctx, s.postgres)
}
