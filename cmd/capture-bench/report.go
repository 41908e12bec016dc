package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the table a run prints.
type report struct {
	cfg     config
	servers []*serverKind
	results []map[string]result // in the order of servers
	elapsed time.Duration
	// loadBefore and loadAfter are the machine's load average around the
	// run: other work on the machine skews the numbers.
	loadBefore, loadAfter string
}

func (rep *report) print(w io.Writer) {
	cfg := rep.cfg
	fmt.Fprintf(w, "\n%d connections, %s a row after %s of warm-up", cfg.concurrency, cfg.duration, cfg.warmup)
	if cfg.count > 1 {
		fmt.Fprintf(w, ", median of %d runs", cfg.count)
	}
	fmt.Fprintf(w, "; %d prospects seeded", cfg.seed)
	if cfg.listRows > 0 {
		fmt.Fprintf(w, " (%s for the last row)", countLabel(cfg.listRows))
	}
	fmt.Fprintf(w, "\n%s; load average %s before, %s after; run took %s\n\n",
		machine(), rep.loadBefore, rep.loadAfter, rep.elapsed.Round(time.Second))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"%ROW%"}
	for _, s := range rep.servers {
		head = append(head, s.name+" req/s", "p50", "p99", "CPU/req", "peak RSS")
	}
	// The ratio compares Capture on SQLite with the floor, when both ran.
	ci, fi := -1, -1
	for i, s := range rep.servers {
		switch s.name {
		case "capture":
			ci = i
		case "floor":
			fi = i
		}
	}
	both := ci >= 0 && fi >= 0
	if both {
		head = append(head, "ratio req/s", "p99")
	}
	if ci >= 0 {
		head = append(head, "target", "met")
	}
	keys := rowKeys()
	rows := map[string]row{}
	for _, r := range smallRows() {
		rows[r.key] = r
	}
	rows["list-big"] = bigListRow(cfg.listRows)
	for _, r := range bigSearchRows(cfg.listRows) {
		rows[r.key] = r
	}
	width := 0
	for _, r := range rows {
		width = max(width, len([]rune(r.name)))
	}
	// The table aligns every column right; padding the row names to one
	// width aligns that column left.
	pad := func(s string) string { return s + strings.Repeat(" ", width-len([]rune(s))) }

	head[0] = pad("row")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")

	var notes []string
	for _, k := range keys {
		present := false
		for _, res := range rep.results {
			if _, ok := res[k]; ok {
				present = true
			}
		}
		if !present {
			continue
		}
		r := rows[k]
		cells := []string{pad(r.name)}
		for i, s := range rep.servers {
			res, ok := rep.results[i][k]
			switch {
			case !ok:
				cells = append(cells, "–", "–", "–", "–", "–")
			case res.err != "":
				cells = append(cells, "failed", "–", "–", "–", "–")
				notes = append(notes, fmt.Sprintf("%s, %s: not measured: %s", s.name, r.name, res.err))
			default:
				mark := ""
				if res.unexpected != "" {
					mark = " !"
					notes = append(notes, fmt.Sprintf("%s, %s: %s", s.name, r.name, res.unexpected))
				}
				cells = append(cells, fmt.Sprintf("%.0f%s", res.rps, mark), fmtLatency(res.p50), fmtLatency(res.p99),
					fmtCPU(res.cpuPerRequest()), fmtRSS(res.rssKB))
			}
			if ok && res.note != "" {
				notes = append(notes, fmt.Sprintf("%s, %s: %s", s.name, r.name, res.note))
			}
		}
		var c, f result
		var cok, fok bool
		if ci >= 0 {
			c, cok = rep.results[ci][k]
			cok = cok && c.err == ""
		}
		if both {
			f, fok = rep.results[fi][cmp.Or(r.against, k)]
			fok = fok && f.err == ""
			if cok && fok {
				cells = append(cells, ratio(c.rps, f.rps), ratio(float64(c.p99), float64(f.p99)))
			} else {
				cells = append(cells, "–", "–")
			}
		}
		if ci >= 0 {
			target, met := r.goal.String(), "–"
			if r.against != "" && target != "" {
				target += " floor " + rows[r.against].name
			}
			switch {
			case r.goal.minRatio > 0 && cok && fok && f.rps > 0:
				// Judged on the ratio as printed, so that 0.70× meets ≥0.70×.
				met = yesNo(math.Round(c.rps/f.rps*100) >= math.Round(r.goal.minRatio*100))
			case r.goal.maxCPUOf != "" && cok:
				met = cpuRatioMet(r.goal, c, rep.results[ci][r.goal.maxCPUOf])
			case r.goal.maxCPUPerListed > 0 && cok && c.cpu > 0 && r.listed > 0:
				per := c.cpuPerRequest() / time.Duration(r.listed)
				met = yesNo(per <= r.goal.maxCPUPerListed) + " (" + fmtCPU(per) + ")"
			}
			if target == "" {
				target = "–"
			}
			cells = append(cells, target, met)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nCPU/req = the server's user+system CPU time during the row (all its processes; not the load generator's, nor PostgreSQL's) over its requests.\n")
	if both {
		fmt.Fprintf(w, "floor = capture-baseline: net/http, a constant bearer check, one prepared statement per endpoint on the same SQLite driver and pragmas, encoding/json; fixed JSON errors.\n")
		fmt.Fprintf(w, "ratio = %s / floor on the same row (req/s: higher is better; p99: lower is better); an idempotent create is set against the floor's plain create.\n",
			rep.servers[ci].name)
	}
	if ci >= 0 {
		fmt.Fprintf(w, "target and met: the goals for %s, reported and not asserted; a list's is its CPU/req over the 100 prospects of the page.\n", rep.servers[ci].name)
	}
	for _, s := range rep.servers {
		if s.postgres == "" || !strings.HasPrefix(s.name, "capture") { // floor-pg: printPostgres
			continue
		}
		if s.replicas > 1 {
			how := "rate limits in each process"
			if rep.cfg.redis != "" {
				how = "rate limits shared in Redis"
			}
			fmt.Fprintf(w, "%s = %d capture serve processes on one PostgreSQL schema (%s), the load spread over them round-robin; peak RSS is their sum.\n", s.name, s.replicas, how)
		} else {
			fmt.Fprintf(w, "%s = one capture serve on PostgreSQL (over loopback TCP, on the same machine).\n", s.name)
		}
	}
	rep.printPerProspect(w)
	if len(notes) > 0 {
		fmt.Fprintln(w, "\n! notes:")
		for _, n := range notes {
			fmt.Fprintln(w, "  -", n)
		}
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// cpuPerRequest is the server's CPU time for each request of the row, or 0
// when it was not measured.
func (r result) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// fmtCPU shows a CPU time with two or three significant digits.
func fmtCPU(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	switch {
	case d == 0:
		return "–"
	case us < 10:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10000:
		return fmt.Sprintf("%.2fms", us/1000)
	case us < 100000:
		return fmt.Sprintf("%.1fms", us/1000)
	}
	return fmt.Sprintf("%.0fms", us/1000)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// fmtLatency shows a latency with three significant digits or so.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "–"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func fmtRSS(kb int64) string {
	if kb == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}

// printPerProspect sets each row that writes several prospects a request
// against single creates on the same server, in prospects per second.
func (rep *report) printPerProspect(w io.Writer) {
	for _, r := range smallRows() {
		if r.perRequest <= 1 {
			continue
		}
		for i, s := range rep.servers {
			res, ok := rep.results[i][r.key]
			if !ok || res.err != "" {
				continue
			}
			line := fmt.Sprintf("\n%s, %s: %.0f prospects/s", s.name, r.name, res.rps*float64(r.perRequest))
			if single, ok := rep.results[i]["create"]; ok && single.err == "" && single.rps > 0 {
				line += fmt.Sprintf(" = %.1f× the %.0f prospects/s of POST /v1/prospects", res.rps*float64(r.perRequest)/single.rps, single.rps)
			}
			fmt.Fprintln(w, line)
		}
	}
}
