// Command capture-bench measures Capture under load next to the floor,
// cmd/capture-baseline: a minimal net/http server with a constant bearer
// check, one prepared statement per endpoint on the same SQLite driver and
// pragmas, and encoding/json, nothing else. For each kind of request it prints
// both servers' requests per second, median and 99th-percentile latency,
// server CPU time per request and peak resident memory, the ratio of Capture
// to the floor, and the target that ratio is held to.
//
// For each server it builds the binary (or takes the path given), lays out a
// fresh SQLite database in a temporary directory with Capture's own
// migrations and admin commands, seeds BENCH_SEED identical prospects, starts
// the server on a free loopback port and drives each row for BENCH_DURATION
// at BENCH_CONCURRENCY connections, as fast as the server answers. The list
// row then runs again against a database of BENCH_LIST_ROWS prospects, to show
// that a keyset page does not get dearer as the table grows. All traffic goes
// to 127.0.0.1 and every attack ends after its duration. Ratios and targets
// are reported, never asserted: the command fails only when it cannot measure.
//
//	go run ./cmd/capture-bench                      # both servers, 3 turns of 5 s a row
//	BENCH_DURATION=1s BENCH_LIST_ROWS=100000 go run ./cmd/capture-bench -only floor
//
// Flags override the environment; run with -h for the list.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what one run measures and how.
type config struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	count       int
	seed        int
	listRows    int
	only        string
	captureBin  string
	baselineBin string
	rows        map[string]bool
	keep        bool
	postgres    string        // PostgreSQL server for the capture-pg columns; "" skips them
	redis       string        // Redis the replicas share their rate limits through; "" for none
	replicas    int           // replicas of the capture-pg×N column; below 2 skips it
	idle        time.Duration // how long the idle row measures each engine; 0 skips it
}

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "capture-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "capture-bench:", err)
		os.Exit(1)
	}
}

func parseConfig(args []string) (config, error) {
	var cfg config
	var rows string
	fs := flag.NewFlagSet("capture-bench", flag.ContinueOnError)
	fs.DurationVar(&cfg.duration, "duration", envDuration("BENCH_DURATION", 5*time.Second), "how long each run of a row lasts (BENCH_DURATION)")
	fs.DurationVar(&cfg.warmup, "warmup", envDuration("BENCH_WARMUP", -1), "unmeasured load before each row; default a tenth of -duration, at most 1s (BENCH_WARMUP)")
	fs.IntVar(&cfg.concurrency, "concurrency", envInt("BENCH_CONCURRENCY", 32), "connections, each sending its next request when the last is answered (BENCH_CONCURRENCY)")
	fs.IntVar(&cfg.count, "count", envInt("BENCH_COUNT", 3), "runs of each row, taking turns between servers; the table shows the run with the median req/s (BENCH_COUNT)")
	fs.IntVar(&cfg.seed, "seed", envInt("BENCH_SEED", 10000), "prospects in the database for every row but the big list (BENCH_SEED)")
	fs.IntVar(&cfg.listRows, "list-rows", envInt("BENCH_LIST_ROWS", 1000000), "prospects in the database for the big list row; 0 skips it (BENCH_LIST_ROWS)")
	fs.StringVar(&cfg.only, "only", os.Getenv("BENCH_ONLY"), "measure only this server: capture or floor (BENCH_ONLY)")
	fs.StringVar(&cfg.captureBin, "capture", os.Getenv("BENCH_CAPTURE_BIN"), "capture binary; built from ./cmd/capture when empty (BENCH_CAPTURE_BIN)")
	fs.StringVar(&cfg.baselineBin, "baseline", os.Getenv("BENCH_BASELINE_BIN"), "capture-baseline binary; built from ./cmd/capture-baseline when empty (BENCH_BASELINE_BIN)")
	fs.StringVar(&rows, "rows", os.Getenv("BENCH_ROWS"), "comma-separated rows to run, of "+strings.Join(rowKeys(), ",")+"; all when empty (BENCH_ROWS)")
	fs.BoolVar(&cfg.keep, "keep", os.Getenv("BENCH_KEEP") != "", "keep the work directory (databases, server logs) (BENCH_KEEP)")
	fs.StringVar(&cfg.postgres, "postgres", cmp.Or(os.Getenv("BENCH_POSTGRES_URL"), os.Getenv("CAPTURE_TEST_POSTGRES_URL")),
		"postgres:// URL of a database for the capture-pg columns, a schema per run; none skips them (BENCH_POSTGRES_URL, else CAPTURE_TEST_POSTGRES_URL)")
	fs.StringVar(&cfg.redis, "redis", cmp.Or(os.Getenv("BENCH_REDIS_URL"), os.Getenv("CAPTURE_TEST_REDIS_URL")),
		"redis:// URL the capture-pg replicas share rate limits through (BENCH_REDIS_URL, else CAPTURE_TEST_REDIS_URL)")
	fs.IntVar(&cfg.replicas, "replicas", envInt("BENCH_REPLICAS", 3), "replicas behind the harness's round-robin in the last column; below 2 skips it (BENCH_REPLICAS)")
	fs.DurationVar(&cfg.idle, "idle", envDuration("BENCH_IDLE", 30*time.Second), "how long the idle row measures an idle capture serve of each engine; 0 skips it (BENCH_IDLE)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch cfg.only {
	case "", "capture", "floor":
	case "baseline": // the floor's binary is capture-baseline
		cfg.only = "floor"
	default:
		return cfg, fmt.Errorf("-only %q: want capture or floor", cfg.only)
	}
	if cfg.duration <= 0 {
		return cfg, errors.New("-duration must be positive")
	}
	if cfg.warmup < 0 {
		cfg.warmup = min(cfg.duration/10, time.Second)
	}
	if cfg.concurrency < 1 {
		return cfg, errors.New("-concurrency must be at least 1")
	}
	if cfg.count < 1 {
		return cfg, errors.New("-count must be at least 1")
	}
	if cfg.seed < 1 {
		return cfg, errors.New("-seed must be at least 1")
	}
	if rows != "" {
		cfg.rows = map[string]bool{}
		known := map[string]bool{}
		for _, k := range rowKeys() {
			known[k] = true
		}
		for _, k := range strings.Split(rows, ",") {
			k = strings.TrimSpace(k)
			if !known[k] {
				return cfg, fmt.Errorf("-rows: unknown row %q (known: %s)", k, strings.Join(rowKeys(), ","))
			}
			cfg.rows[k] = true
		}
	}
	return cfg, nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "capture-bench: ignoring %s=%q: not a duration\n", name, v)
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(strings.ReplaceAll(v, "_", "")); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "capture-bench: ignoring %s=%q: not an integer\n", name, v)
	}
	return def
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	work, err := os.MkdirTemp("", "capture-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("work directory: %s (kept)", work)
	} else {
		defer os.RemoveAll(work)
	}

	// Capture is built even for the floor alone: its migrations and admin
	// commands lay out both servers' databases.
	captureBin, err := buildOrFind(ctx, cfg.captureBin, "./cmd/capture", filepath.Join(work, "capture"))
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	var servers []*serverKind
	if cfg.only != "floor" {
		servers = append(servers, captureKind(captureBin))
		if cfg.postgres == "" {
			logf("no BENCH_POSTGRES_URL (or CAPTURE_TEST_POSTGRES_URL): the capture-pg columns are skipped")
		} else {
			servers = append(servers, captureOnPostgres(captureBin, cfg.postgres, "", 1))
			if cfg.replicas > 1 {
				servers = append(servers, captureOnPostgres(captureBin, cfg.postgres, cfg.redis, cfg.replicas))
			}
		}
	}
	if cfg.only != "capture" {
		bin, err := buildOrFind(ctx, cfg.baselineBin, "./cmd/capture-baseline", filepath.Join(work, "capture-baseline"))
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		servers = append(servers, floorKind(bin, captureBin))
		if cfg.postgres != "" {
			servers = append(servers, floorOnPostgres(bin, captureBin, cfg.postgres))
		}
	}

	started := time.Now()
	rep := report{cfg: cfg, servers: servers, loadBefore: loadAverage()}
	results, err := measure(ctx, cfg, servers, work)
	if err != nil {
		return err
	}
	rep.results = results
	var hang []hangResult
	if cfg.rows == nil || cfg.rows[hangRowKey] {
		hang = measureDeliveryHang(ctx, cfg, servers, filepath.Join(work, hangRowKey))
	}
	var flood *floodResult
	if cfg.only != "floor" && (cfg.rows == nil || cfg.rows[floodRowKey]) {
		f := runFlood(ctx, cfg, captureBin, filepath.Join(work, floodRowKey))
		flood = &f
	}
	var formFlood *formFloodResult
	if cfg.only != "floor" && (cfg.rows == nil || cfg.rows[formFloodRowKey]) {
		f := runFormFlood(ctx, cfg, captureBin, filepath.Join(work, formFloodRowKey))
		formFlood = &f
	}
	var idle []idleResult
	if cfg.only != "floor" && cfg.idle > 0 && (cfg.rows == nil || cfg.rows[idleRowKey]) {
		idle = measureIdle(ctx, cfg, captureBin, filepath.Join(work, idleRowKey))
	}
	rep.loadAfter = loadAverage()
	rep.elapsed = time.Since(started)
	rep.print(stdout)
	rep.printPostgres(stdout)
	printIdle(stdout, cfg, idle)
	printBatchGoals(stdout, &rep)
	printDeliveryHang(stdout, cfg, hang)
	if flood != nil {
		flood.print(stdout)
	}
	if formFlood != nil {
		formFlood.print(stdout)
	}
	return nil
}

// phase is a set of rows run against databases of one size.
type phase struct {
	prospects int
	rows      []row
}

// measure runs every row against every server: the rows on the small
// database first, then the list row on the big one. All servers of a phase
// run at once and take turns row by row, so that a change in the machine's
// load during the run affects them alike.
func measure(ctx context.Context, cfg config, servers []*serverKind, work string) ([]map[string]result, error) {
	out := make([]map[string]result, len(servers))
	for i := range out {
		out[i] = map[string]result{}
	}
	phases := []phase{{cfg.seed, selected(cfg, smallRows())}}
	if cfg.listRows > 0 {
		phases = append(phases, phase{cfg.listRows, selected(cfg, append([]row{bigListRow(cfg.listRows)}, bigSearchRows(cfg.listRows)...))})
	}
	for n, ph := range phases {
		if len(ph.rows) == 0 {
			continue
		}
		if err := runPhase(ctx, cfg, servers, filepath.Join(work, fmt.Sprintf("phase-%d", n)), ph, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func runPhase(ctx context.Context, cfg config, servers []*serverKind, dir string, ph phase, out []map[string]result) error {
	envs := make([]*rowEnv, len(servers))
	procs := make([][]*process, len(servers))
	var drops []func()
	defer func() {
		for i, ps := range procs {
			for _, p := range ps {
				if err := p.stop(); err != nil {
					logf("%s: %v", servers[i].name, err)
				}
			}
		}
		for _, drop := range drops {
			drop()
		}
	}()
	for i, s := range servers {
		if !slices.ContainsFunc(ph.rows, func(r row) bool { return !skipsRow(r, s) }) {
			continue // no row of the phase for it: no database to lay out
		}
		sdir := filepath.Join(dir, s.name)
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return err
		}
		db := filepath.Join(sdir, "bench.db")
		if s.postgres != "" {
			dsn, drop, err := pgSchema(ctx, s.postgres)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			db = dsn
			drops = append(drops, drop)
		}
		t0 := time.Now()
		acct, err := s.prepare(ctx, db)
		if err != nil {
			return fmt.Errorf("%s: prepare database: %w", s.name, err)
		}
		ids, err := seedProspects(ctx, db, acct.id, ph.prospects)
		if err != nil {
			return fmt.Errorf("%s: seed %d prospects: %w", s.name, ph.prospects, err)
		}
		if _, err := seedProspects(ctx, db, acct.smallID, smallAccountProspects); err != nil {
			return fmt.Errorf("%s: seed the small account: %w", s.name, err)
		}
		logf("%s: database with %d prospects ready in %s", s.name, ph.prospects, time.Since(t0).Round(time.Millisecond))
		envs[i] = &rowEnv{key: acct.key, smallKey: acct.smallKey, ids: ids, server: s.name, prospects: ph.prospects}
		if s.postgres != "" && slices.ContainsFunc(ph.rows, func(r row) bool { return !skipsRow(r, s) && r.key == spreadRowKey }) {
			if envs[i].spreadKeys, err = seedSpreadAccounts(ctx, db); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		for r := range max(1, s.replicas) {
			rdir := sdir
			if r > 0 {
				rdir = filepath.Join(sdir, fmt.Sprintf("replica-%d", r))
				if err := os.MkdirAll(rdir, 0o755); err != nil {
					return err
				}
			}
			p, err := startServer(ctx, s, db, acct, rdir)
			if err != nil {
				return err
			}
			procs[i] = append(procs[i], p)
			envs[i].bases = append(envs[i].bases, p.base)
		}
	}
	for _, r := range ph.rows {
		runs := make([][]result, len(servers))
		for range cfg.count {
			for i, s := range servers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if skipsRow(r, s) {
					continue
				}
				res := runRow(ctx, cfg, procs[i], envs[i], r)
				if res.err != "" {
					logf("%-13s %s: %s", s.name, r.name, res.err)
				} else {
					logf("%-13s %-44s %6.0f req/s  p50 %-7s p99 %-7s CPU/req %-7s peak RSS %s", s.name, r.name, res.rps,
						fmtLatency(res.p50), fmtLatency(res.p99), fmtCPU(res.cpuPerRequest()), fmtRSS(res.rssKB))
				}
				runs[i] = append(runs[i], res)
			}
		}
		for i := range servers {
			if len(runs[i]) > 0 {
				out[i][r.key] = median(runs[i])
			}
		}
	}
	for i, s := range servers {
		if strings.HasPrefix(s.name, "capture") {
			logCaptureMetrics(s.name, procs[i][0].metrics)
		}
	}
	return nil
}

// statusLabel picks the status of a capture_http_requests_total series.
var statusLabel = regexp.MustCompile(`^capture_http_requests_total\{.*status="(\d+)".*\} (\S+)$`)

// logCaptureMetrics shows that capture's own /metrics counted the load: the
// requests it answered, by status.
func logCaptureMetrics(name, base string) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		logf("%s /metrics: %v", name, err)
		return
	}
	defer resp.Body.Close()
	byStatus := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if m := statusLabel.FindStringSubmatch(lines.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			byStatus[m[1]] += v
		}
	}
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(byStatus)) {
		parts = append(parts, fmt.Sprintf("%s: %.0f", status, byStatus[status]))
	}
	logf("%s /metrics (of its first replica) counted capture_http_requests_total by status: %s", name, strings.Join(parts, ", "))
}

// median is the run with the median requests per second, or the first
// failed run if any failed; its peak RSS is the highest of all runs.
func median(runs []result) result {
	var peak int64
	for _, r := range runs {
		if r.err != "" {
			return r
		}
		peak = max(peak, r.rssKB)
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	m := sorted[len(sorted)/2]
	m.rssKB = peak
	for _, r := range runs {
		if r.unexpected != "" && m.unexpected == "" {
			m.unexpected = r.unexpected
		}
	}
	return m
}

func selected(cfg config, rows []row) []row {
	if cfg.rows == nil {
		return rows
	}
	var out []row
	for _, r := range rows {
		if cfg.rows[r.key] {
			out = append(out, r)
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// machine describes where the numbers were taken.
func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}

// loadAverage is the machine's one-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
