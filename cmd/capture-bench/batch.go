package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The batch rows against their targets: a batch's prospects per second set
// against single creates on the same server (the "batch" row over the
// "create" row), and the latency of a 500-item batch under on_conflict update
// whose emails all exist (the "upsert" row). The figures are reported, never
// asserted.

// upsertRowKey names the upsert row for -rows.
const upsertRowKey = "upsert"

// batchGoals are the targets for a batch's prospects per second over
// single creates' on SQLite and on PostgreSQL, and for the upsert row's latency.
const (
	batchGoalSQLite   = 15.0
	batchGoalPostgres = 10.0
	upsertGoal        = 500 * time.Millisecond
)

// upsertRow sends, on one connection, the same batchSize emails each time with
// on_conflict update and a new company: the first request creates them (it is
// the row's check), every later one updates all of them.
func upsertRow() row {
	return row{
		key: upsertRowKey, name: "POST /v1/prospects/batch, 500 existing emails, on_conflict update (1 connection)", status: 200,
		target: func(e *rowEnv, n uint64, t *vegeta.Target) {
			t.Method, t.URL = "POST", e.at(n)+"/v1/prospects/batch"
			t.Header = e.header("Content-Type", "application/json")
			t.Body = e.upsertBody(n)
		},
		check:       batchWrote(batchSize),
		skip:        "floor",
		connections: 1,
	}
}

// upsertBody is a batch of the batchSize emails of the upsert row, each with
// a company that says which request sent it.
func (e *rowEnv) upsertBody(n uint64) []byte {
	var b strings.Builder
	b.WriteString(`{"on_conflict":"update","prospects":[`)
	for i := range batchSize {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"email":"upsert-` + e.server + `-` + strconv.Itoa(i) + `@example.com","first_name":"Grace",` +
			`"company":"Compilers ` + strconv.FormatUint(n, 10) + `","tags":["bench","upsert"],"metadata":{"round":"` +
			strconv.FormatUint(n, 10) + `"}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// batchWrote checks that a batch created or updated every one of its n items.
func batchWrote(n int) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Object           string
			Created, Updated int
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Object != "batch" || v.Created+v.Updated != n {
			return fmt.Errorf("want a batch that wrote %d prospects, got %.300s", n, body)
		}
		return nil
	}
}

// printBatchGoals prints, for each Capture server of the run, the batch row's
// prospects per second over the create row's and the upsert row's latency,
// each with its target and whether it was met.
func printBatchGoals(w io.Writer, rep *report) {
	var lines []string
	for i, s := range rep.servers {
		if !strings.HasPrefix(s.name, "capture") || i >= len(rep.results) {
			continue
		}
		res := rep.results[i]
		goal := batchGoalSQLite
		if s.postgres != "" {
			goal = batchGoalPostgres
		}
		batch, bok := res["batch"]
		single, sok := res["create"]
		if bok && sok && batch.err == "" && single.err == "" && single.rps > 0 {
			x := batch.rps * batchSize / single.rps
			lines = append(lines, fmt.Sprintf("  %s: a batch writes %.0f prospects/s, single creates %.0f/s: %.1f× (target ≥%g×: %s)",
				s.name, batch.rps*batchSize, single.rps, x, goal, yesNo(x >= goal)))
		}
		if u, ok := res[upsertRowKey]; ok && u.err == "" {
			lines = append(lines, fmt.Sprintf("  %s: a 500-item on_conflict update batch of existing emails takes p50 %s, p99 %s (target p99 <%s: %s)",
				s.name, fmtLatency(u.p50), fmtLatency(u.p99), upsertGoal, yesNo(u.p99 < upsertGoal)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nbatches against their targets (batch row over the create row; upsert row's latency):")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
