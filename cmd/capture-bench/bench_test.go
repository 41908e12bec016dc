package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The whole harness against the floor, briefly: it must build the servers,
// lay out and seed the floor's database, measure every row with the expected
// answers and print the table.
func TestHarnessMeasuresFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads a server; skipped with -short")
	}
	cfg, err := parseConfig([]string{"-only", "floor", "-duration", "300ms", "-warmup", "0",
		"-concurrency", "4", "-seed", "500", "-list-rows", "2000"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Log(table)
	for _, want := range []string{
		"GET /v1/prospects/{id}", "POST /v1/prospects", "GET /v1/prospects?limit=100 @ 2k",
		"no or bad key → 401", "bad JSON → 400", "{unknown} → 404", "floor req/s", "CPU/req", "µs", "MiB",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	for _, bad := range []string{"failed", "!"} {
		if strings.Contains(table, bad) {
			t.Errorf("the table reports %q: a row did not get the answers it expects", bad)
		}
	}
}

func TestConfigRejectsNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "both"},
		{"-duration", "0s"},
		{"-concurrency", "0"},
		{"-rows", "get,nope"},
		{"extra"},
	} {
		if _, err := parseConfig(args); err == nil {
			t.Errorf("parseConfig(%q) accepted it", args)
		}
	}
	cfg, err := parseConfig([]string{"-duration", "1s", "-rows", "get,list-big"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.warmup != 100*time.Millisecond || !cfg.rows["get"] || !cfg.rows["list-big"] || cfg.rows["list"] {
		t.Errorf("parsed %+v", cfg)
	}
}

// Keyset pages rely on ids sorting in creation order.
func TestSeedIDsSortByTime(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	var ids []string
	for i := range 1000 {
		ids = append(ids, newULID(t0.Add(time.Duration(i)*time.Millisecond), nil))
	}
	if !sort.StringsAreSorted(ids) {
		t.Error("ids made later do not sort after earlier ones")
	}
}

func TestMedianRunAndPeakMemory(t *testing.T) {
	runs := []result{
		{rps: 300, rssKB: 10},
		{rps: 100, rssKB: 50},
		{rps: 200, rssKB: 20, p50: time.Millisecond},
	}
	m := median(runs)
	if m.rps != 200 || m.p50 != time.Millisecond || m.rssKB != 50 {
		t.Errorf("median = %+v, want the 200 req/s run with the highest peak RSS, 50", m)
	}
	if m := median(append(runs, result{err: "refused"})); m.err != "refused" {
		t.Errorf("a failed run was hidden: %+v", m)
	}
}

// The table sets each of Capture's rows against the floor and its target: an
// idempotent create against the floor's plain create, a list by its CPU time
// per listed prospect.
func TestReportShowsTargetsNextToRatios(t *testing.T) {
	ms := time.Millisecond
	rep := report{
		cfg:     config{concurrency: 32, duration: time.Second, seed: 10000},
		servers: []*serverKind{{name: "capture"}, {name: "floor"}},
		results: []map[string]result{
			{
				"get":         {requests: 8000, rps: 8000, p50: ms, p99: 4 * ms, cpu: 800 * ms},
				"create":      {requests: 2000, rps: 2000, p50: ms, p99: 8 * ms, cpu: 400 * ms},
				"create-idem": {requests: 1700, rps: 1700, p50: ms, p99: 9 * ms, cpu: 400 * ms},
				"list":        {requests: 1000, rps: 1000, p50: ms, p99: 20 * ms, cpu: 1500 * ms},
			},
			{
				"get":    {requests: 10000, rps: 10000, p50: ms, p99: 2 * ms, cpu: 700 * ms},
				"create": {requests: 2000, rps: 2000, p50: ms, p99: 8 * ms, cpu: 200 * ms},
				"list":   {requests: 2000, rps: 2000, p50: ms, p99: 10 * ms, cpu: 1000 * ms},
			},
		},
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Log(out.String())
	line := func(prefix string) []string {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return strings.Fields(l)
			}
		}
		t.Fatalf("no row %q in the table", prefix)
		return nil
	}
	for _, tc := range []struct {
		row  string
		want []string // the last cells, in order
	}{
		{"GET /v1/prospects/{id} ", []string{"0.80×", "2.00×", "≥0.70×", "yes"}},
		{"POST /v1/prospects ", []string{"1.00×", "1.00×", "≥1.00×", "yes"}},
		{"POST /v1/prospects + Idempotency-Key", []string{"0.85×", "1.12×", "≥0.80×", "floor", "POST", "/v1/prospects", "yes"}},
		{"GET /v1/prospects?limit=100", []string{"0.50×", "2.00×", "≤10µs", "CPU/row", "no", "(15µs)"}},
	} {
		cells := line(tc.row)
		if got := cells[len(cells)-len(tc.want):]; !slices.Equal(got, tc.want) {
			t.Errorf("%s ends %q, want %q", tc.row, got, tc.want)
		}
	}
}

// The seeded prospects are what the rows expect: ids that sort by time, the
// emails and the company words the search rows look for, on either engine.
func TestSeedProspects(t *testing.T) {
	if testing.Short() {
		t.Skip("builds capture to lay out the databases; skipped with -short")
	}
	ctx := context.Background()
	bin, err := buildOrFind(ctx, "", "./cmd/capture", t.TempDir()+"/capture")
	if err != nil {
		t.Fatal(err)
	}
	dbs := map[string]string{"sqlite": t.TempDir() + "/bench.db"}
	if base := os.Getenv("CAPTURE_TEST_POSTGRES_URL"); base != "" {
		dsn, drop, err := pgSchema(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(drop)
		dbs["postgres"] = dsn
	}
	const n = 3000
	for engine, db := range dbs {
		t.Run(engine, func(t *testing.T) {
			acct, err := prepareWithCapture(ctx, bin, db)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := seedProspects(ctx, db, acct.id, n)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != n || !sort.StringsAreSorted(ids) || !regexp.MustCompile(`^prs_[0-9a-hjkmnp-tv-z]{26}$`).MatchString(ids[0]) {
				t.Fatalf("want %d ids of ULIDs sorted by time, got %d: %v…", n, len(ids), ids[:min(3, len(ids))])
			}
			var email, company string
			q := `SELECT email, company FROM prospects WHERE id = ?`
			if isPostgres(db) {
				pg, err := pgx.Connect(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				defer pg.Close(ctx)
				err = pg.QueryRow(ctx, strings.ReplaceAll(q, "?", "$1"), ids[1234]).Scan(&email, &company)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				sq, err := openDB(db)
				if err != nil {
					t.Fatal(err)
				}
				defer sq.Close()
				if err := sq.QueryRow(q, ids[1234]).Scan(&email, &company); err != nil {
					t.Fatal(err)
				}
			}
			if email != "seed-0001234@example.com" || company != "Firm "+seedWord(1234) {
				t.Errorf("prospect 1234 has %q of %q, want seed-0001234@example.com of %q", email, company, "Firm "+seedWord(1234))
			}
		})
	}
}
