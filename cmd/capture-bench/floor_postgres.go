package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// floorOnPostgres is capture-baseline on PostgreSQL (its -postgres mode): the
// floor of the capture-pg columns, on a schema Capture's binary (captureBin)
// lays out and the harness seeds as theirs.
func floorOnPostgres(bin, captureBin, postgres string) *serverKind {
	k := floorKind(bin, captureBin)
	k.name, k.postgres = "floor-pg", postgres
	k.serveArgs = func(addr, db string, acct account) []string {
		return []string{"-addr", addr, "-postgres", db, "-account", acct.id}
	}
	return k
}

// skipsRow reports whether server s does not run row r: the row's skip names
// it, r is for PostgreSQL's Capture columns only, or s is floor-pg, which
// runs only the rows its comparisons need (pgComparisons).
func skipsRow(r row, s *serverKind) bool {
	switch {
	case r.key == spreadRowKey:
		return s.postgres == "" || !strings.HasPrefix(s.name, "capture")
	case s.name == "floor-pg":
		return r.key != "get" && r.key != "create"
	}
	return r.skip == s.name
}

// pgComparison is one line of the PostgreSQL table: a server's figures on a
// row set against another server's on a row (maybe another one).
type pgComparison struct {
	label               string
	server, row         string
	against, againstRow string
	minRatio            float64 // req/s at least this times against's
	maxP99Ratio         float64 // p99 at most this times against's; 0 for no bound
}

// pgComparisons are the targets of Capture on PostgreSQL: against the bare
// pgx server of the same run, and with its replicas against one.
func pgComparisons(servers []*serverKind) []pgComparison {
	var out []pgComparison
	for _, s := range servers {
		if s.postgres == "" || !strings.HasPrefix(s.name, "capture") {
			continue
		}
		out = append(out,
			pgComparison{label: "GET by id", server: s.name, row: "get", against: "floor-pg", againstRow: "get", minRatio: 0.8, maxP99Ratio: 2},
			pgComparison{label: "create", server: s.name, row: "create", against: "floor-pg", againstRow: "create", minRatio: 0.7},
			pgComparison{label: "idempotent create", server: s.name, row: "create-idem", against: "floor-pg", againstRow: "create", minRatio: 0.5},
		)
	}
	for _, s := range servers {
		if s.postgres != "" && s.replicas > 1 && strings.HasPrefix(s.name, "capture") {
			out = append(out,
				pgComparison{label: fmt.Sprintf("%d replicas: creates, one account", s.replicas), server: s.name, row: "create", against: "capture-pg", againstRow: "create", minRatio: 1},
				pgComparison{label: fmt.Sprintf("%d replicas: creates, %d accounts", s.replicas, spreadAccounts), server: s.name, row: spreadRowKey, against: "capture-pg", againstRow: spreadRowKey, minRatio: 1},
			)
		}
	}
	return out
}

// printPostgres prints the PostgreSQL targets of the run: each comparison
// whose two figures were measured.
func (rep *report) printPostgres(w io.Writer) {
	index := map[string]int{}
	for i, s := range rep.servers {
		index[s.name] = i
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	printed := false
	for _, c := range pgComparisons(rep.servers) {
		si, ok1 := index[c.server]
		ai, ok2 := index[c.against]
		if !ok1 || !ok2 {
			continue
		}
		a, aok := rep.results[si][c.row]
		b, bok := rep.results[ai][c.againstRow]
		if !aok || !bok || a.err != "" || b.err != "" || b.rps == 0 || b.p99 == 0 {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "\nCapture on PostgreSQL against the bare pgx server (floor-pg) of the same run, and its replicas against one:")
			fmt.Fprintln(tw, "row\tserver\treq/s\tp99\tagainst\treq/s\tp99\tratio req/s\tp99\ttarget\tmet\t")
			printed = true
		}
		target := fmt.Sprintf("≥%.2f×", c.minRatio)
		met := math.Round(a.rps/b.rps*100) >= math.Round(c.minRatio*100)
		if c.maxP99Ratio > 0 {
			target += fmt.Sprintf(", p99 ≤%g×", c.maxP99Ratio)
			met = met && math.Round(float64(a.p99)/float64(b.p99)*100) <= math.Round(c.maxP99Ratio*100)
		}
		against := c.against
		if c.againstRow != c.row {
			against += " " + c.againstRow
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", c.label, c.server, a.rps, fmtLatency(a.p99),
			against, b.rps, fmtLatency(b.p99), ratio(a.rps, b.rps), ratio(float64(a.p99), float64(b.p99)), target, yesNo(met))
	}
	tw.Flush()
	if printed {
		fmt.Fprintln(w, "floor-pg = capture-baseline -postgres: the floor's net/http server and constant bearer check, one statement per endpoint through a pgx pool of Capture's default size, on the same PostgreSQL, table and seeded rows; an idempotent create is set against its plain create.")
	}
}
