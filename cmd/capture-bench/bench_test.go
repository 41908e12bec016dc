package main

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"
)

// The whole harness against the baseline, briefly: it must build the server,
// seed it, measure every row with the expected answers and print the table.
func TestHarnessMeasuresBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads a server")
	}
	cfg, err := parseConfig([]string{"-only", "baseline", "-duration", "300ms", "-warmup", "0",
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
		"GET /v1/prospects/{id}", "POST /v1/prospects + Idempotency-Key", "GET /v1/prospects?limit=100 @ 2k",
		"bad key → 401", "bad JSON → 400", "{unknown} → 404", "baseline req/s", "MiB",
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
