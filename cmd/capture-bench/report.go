package main

import (
	"fmt"
	"io"
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
		head = append(head, s.name+" req/s", "p50", "p99", "peak RSS")
	}
	// The ratio compares Capture on SQLite with the baseline, when both ran.
	ci, bi := -1, -1
	for i, s := range rep.servers {
		switch s.name {
		case "capture":
			ci = i
		case "baseline":
			bi = i
		}
	}
	both := ci >= 0 && bi >= 0
	if both {
		head = append(head, "ratio req/s", "p50", "p99", "RSS")
	}
	keys := rowKeys()
	names := map[string]string{}
	for _, r := range smallRows() {
		names[r.key] = r.name
	}
	names["list-big"] = bigListRow(cfg.listRows).name
	width := 0
	for _, n := range names {
		width = max(width, len([]rune(n)))
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
		cells := []string{pad(names[k])}
		for i, s := range rep.servers {
			res, ok := rep.results[i][k]
			switch {
			case !ok:
				cells = append(cells, "–", "–", "–", "–")
			case res.err != "":
				cells = append(cells, "failed", "–", "–", "–")
				notes = append(notes, fmt.Sprintf("%s, %s: not measured: %s", s.name, names[k], res.err))
			default:
				mark := ""
				if res.unexpected != "" {
					mark = " !"
					notes = append(notes, fmt.Sprintf("%s, %s: %s", s.name, names[k], res.unexpected))
				}
				cells = append(cells, fmt.Sprintf("%.0f%s", res.rps, mark), fmtLatency(res.p50), fmtLatency(res.p99), fmtRSS(res.rssKB))
			}
			if ok && res.note != "" {
				notes = append(notes, fmt.Sprintf("%s, %s: %s", s.name, names[k], res.note))
			}
		}
		if both {
			a, aok := rep.results[ci][k]
			b, bok := rep.results[bi][k]
			if aok && bok && a.err == "" && b.err == "" {
				cells = append(cells,
					ratio(a.rps, b.rps),
					ratio(float64(a.p50), float64(b.p50)),
					ratio(float64(a.p99), float64(b.p99)),
					ratio(float64(a.rssKB), float64(b.rssKB)))
			} else {
				cells = append(cells, "–", "–", "–", "–")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()

	if both {
		fmt.Fprintf(w, "\nratio = %s / %s: below 1 for req/s, above 1 for latency and memory, is the price of what %s does beyond the baseline.\n",
			rep.servers[ci].name, rep.servers[bi].name, rep.servers[ci].name)
	}
	for _, s := range rep.servers {
		if s.postgres == "" {
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
