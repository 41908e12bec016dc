// Skipsummary reads the events of a go test -json run (test2json's format)
// and prints one line saying which tests were skipped and why, grouped by what
// they need: a database or a browser this machine has not set up, or the time
// -short leaves out. make test runs it last, so that a run that skipped whole
// suites says so without -v.
//
// Usage: skipsummary [events.json]; without an argument it reads the file
// gotestsum names in GOTESTSUM_JSONFILE when it runs a --post-run-command.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// event is the part of a test2json event that the summary reads.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// reasons name what a skipped test needs, recognised in its skip message;
// the first that matches wins. A message that matches none is quoted as it is.
var reasons = []struct{ mark, one, many string }{
	{"CAPTURE_TEST_POSTGRES_URL", "needs PostgreSQL (set CAPTURE_TEST_POSTGRES_URL)", "need PostgreSQL (set CAPTURE_TEST_POSTGRES_URL)"},
	{"CAPTURE_TEST_REDIS_URL", "needs Redis (set CAPTURE_TEST_REDIS_URL)", "need Redis (set CAPTURE_TEST_REDIS_URL)"},
	{"Chromium", "needs a browser (install chromium)", "need a browser (install chromium)"},
	{"-short", "is slow (run without -short)", "are slow (run without -short)"},
	{fuzzInput, "is a fuzz input its target does not check", "are fuzz inputs their target does not check"},
}

// fuzzInput stands for the message of a fuzz target's seed input that the
// target declines to check, whatever it says.
const fuzzInput = "\x00fuzz input"

// logLine is a line a test wrote through t.Log or t.Skip: "    file_test.go:12: message".
var logLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

func main() {
	path := os.Getenv("GOTESTSUM_JSONFILE")
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if path == "" {
		fmt.Fprintln(os.Stderr, "usage: skipsummary events.json (the output of go test -json)")
		os.Exit(2)
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipsummary:", err)
		os.Exit(1)
	}
	defer f.Close()
	line, err := summarise(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipsummary:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}

// summarise reads test2json events and returns the one-line summary of the
// tests they skipped, "skipped: none" when there were none.
func summarise(r io.Reader) (string, error) {
	lastLog := map[[2]string]string{} // package and test: the last line it logged
	count := map[string]int{}         // reason: tests skipped for it
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Test == "" {
			continue // a package's own lines (ok, FAIL, no test files) say nothing about skips
		}
		id := [2]string{e.Package, e.Test}
		switch e.Action {
		case "output":
			if m := logLine.FindStringSubmatch(strings.TrimRight(e.Output, "\n")); m != nil {
				lastLog[id] = m[1]
			}
		case "skip":
			if strings.HasPrefix(e.Test, "Fuzz") && strings.Contains(e.Test, "/") {
				count[fuzzInput]++ // the target's own choice, not a test left out
			} else {
				count[lastLog[id]]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return format(count), nil
}

// format groups the skip messages by reason, the most frequent first.
func format(byMessage map[string]int) string {
	type group struct {
		n, rank   int // rank: the reason's place in reasons, after them for a message quoted
		one, many string
	}
	groups := map[string]*group{}
	for msg, n := range byMessage {
		one, many, rank := fmt.Sprintf("says %q", msg), fmt.Sprintf("say %q", msg), len(reasons)
		if msg == "" {
			one, many = "gives no reason", "give no reason"
		}
		for i, r := range reasons {
			if strings.Contains(msg, r.mark) {
				one, many, rank = r.one, r.many, i
				break
			}
		}
		if groups[many] == nil {
			groups[many] = &group{rank: rank, one: one, many: many}
		}
		groups[many].n += n
	}
	if len(groups) == 0 {
		return "skipped: none"
	}
	sorted := make([]*group, 0, len(groups))
	for _, g := range groups {
		sorted = append(sorted, g)
	}
	slices.SortFunc(sorted, func(a, b *group) int { // the most skipped first
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.rank, b.rank), strings.Compare(a.many, b.many))
	})
	parts := make([]string, len(sorted))
	for i, g := range sorted {
		noun, verb := "", g.many
		if g.n == 1 {
			verb = g.one
		}
		if i == 0 {
			noun = " tests"
			if g.n == 1 {
				noun = " test"
			}
		}
		parts[i] = fmt.Sprintf("%d%s %s", g.n, noun, verb)
	}
	return "skipped: " + strings.Join(parts, ", ")
}
