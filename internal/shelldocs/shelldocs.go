// Package shelldocs reads the shell blocks of the project's Markdown pages
// (README.md and docs/) as its test runs them: a fence with the info string
// `sh` is run, `sh norun` is shown but not run (it starts a long-lived process
// or the test suite), `sh postgres` needs PostgreSQL and Redis, and a `json
// output` or `text output` block right after an sh block is what that block
// prints. The test in this package runs every page's blocks against a live
// server; this file only parses pages and compares outputs, so both are unit
// tested without a server.
package shelldocs

import (
	"fmt"
	"regexp"
	"strings"
)

// Fence is one fenced code block of a page.
type Fence struct {
	Line    int    // the line of the opening fence, from 1
	EndLine int    // the line of the closing fence
	Info    string // the info string after the opening fence, such as "sh" or "json output"
	Text    string // the block's lines, each ending in a newline
}

// Words returns the info string's words: the language first.
func (f Fence) Words() []string { return strings.Fields(f.Info) }

// FirstLine is the block's first line that is not blank, to name it in messages.
func (f Fence) FirstLine() string {
	for line := range strings.Lines(f.Text) {
		if s := strings.TrimSpace(line); s != "" {
			return s
		}
	}
	return ""
}

// Block is an sh block of a page and what the page shows it prints.
type Block struct {
	Fence
	NoRun    bool   // `sh norun`: not run by the test
	Postgres bool   // `sh postgres`: run only with PostgreSQL and Redis
	Output   *Fence // the `… output` block placed right after it, or nil
}

// Markers after `sh` in an info string.
const (
	markerNoRun    = "norun"
	markerPostgres = "postgres"
)

// otherShells are info strings of shell code that the test would not run:
// a page must say `sh` (or `sh norun`) so that no shell block escapes it.
var otherShells = map[string]bool{"bash": true, "shell": true, "console": true, "zsh": true, "shell-session": true, "shellsession": true}

// Fences returns the fenced code blocks of a Markdown page, in order. A fence
// is a line of three or more backticks or tildes, indented or not (blocks in
// list items are), closed by a line of at least as many of the same character;
// the block's lines lose the opening fence's indentation.
func Fences(page string) ([]Fence, error) {
	var (
		fences []Fence
		open   *Fence
		marker string // the opening fence's run of backticks or tildes
		indent int
		body   strings.Builder
	)
	n := 0
	for line := range strings.Lines(page) {
		n++
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimLeft(line, " \t")
		if open == nil {
			run := fenceRun(trimmed)
			if run == "" {
				continue
			}
			info := strings.TrimSpace(trimmed[len(run):])
			if run[0] == '`' && strings.Contains(info, "`") {
				continue // inline code at the start of a line, not a fence
			}
			open, marker, indent = &Fence{Line: n, Info: info}, run, len(line)-len(trimmed)
			body.Reset()
			continue
		}
		if run := fenceRun(trimmed); run != "" && run[0] == marker[0] && len(run) >= len(marker) && strings.TrimSpace(trimmed[len(run):]) == "" {
			open.EndLine, open.Text = n, body.String()
			fences = append(fences, *open)
			open = nil
			continue
		}
		body.WriteString(dedent(line, indent))
		body.WriteByte('\n')
	}
	if open != nil {
		return nil, fmt.Errorf("line %d: the fence %q is never closed", open.Line, marker+open.Info)
	}
	return fences, nil
}

// fenceRun returns the run of three or more backticks or tildes s starts with, or "".
func fenceRun(s string) string {
	if s == "" || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	i := 0
	for i < len(s) && s[i] == s[0] {
		i++
	}
	if i < 3 {
		return ""
	}
	return s[:i]
}

// dedent removes up to n leading spaces or tabs from line.
func dedent(line string, n int) string {
	i := 0
	for i < n && i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return line[i:]
}

// Blocks returns the sh blocks of a Markdown page, in order, each with the
// output block that follows it. It refuses a page that breaks the convention
// in a way that would let a block go unchecked: a shell block fenced other
// than `sh`, an unknown marker after `sh`, or an output block that does not
// directly follow an sh block (only blank lines between).
func Blocks(page string) ([]Block, error) {
	fences, err := Fences(page)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(page, "\n")
	var blocks []Block
	for i, f := range fences {
		words := f.Words()
		if len(words) == 0 {
			continue
		}
		switch {
		case words[0] == "sh":
			b := Block{Fence: f}
			for _, w := range words[1:] {
				switch w {
				case markerNoRun:
					b.NoRun = true
				case markerPostgres:
					b.Postgres = true
				default:
					return nil, fmt.Errorf("line %d: unknown marker %q in %q: an sh block is run, `sh %s` is not, `sh %s` needs PostgreSQL and Redis",
						f.Line, w, f.Info, markerNoRun, markerPostgres)
				}
			}
			blocks = append(blocks, b)
		case otherShells[words[0]]:
			return nil, fmt.Errorf("line %d: a shell block fenced %q is never run: fence it `sh` (or `sh %s` if it cannot run in a test)", f.Line, f.Info, markerNoRun)
		case len(words) == 2 && words[1] == "output":
			if i == 0 || len(blocks) == 0 || blocks[len(blocks)-1].Line != fences[i-1].Line || blocks[len(blocks)-1].Output != nil ||
				!blank(lines[fences[i-1].EndLine:f.Line-1]) {
				return nil, fmt.Errorf("line %d: an %q block must follow an sh block directly (only blank lines between): it is what that block prints", f.Line, f.Info)
			}
			out := f
			blocks[len(blocks)-1].Output = &out
		}
	}
	return blocks, nil
}

// blank reports whether every line is empty or spaces.
func blank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

// Wildcard in an expected line matches any run of characters, such as an id,
// a timestamp or a request id.
const Wildcard = "…"

// MatchOutput checks that every line of expected matches a line of actual, in
// order, other lines of actual allowed between them; in an expected line,
// Wildcard matches any run of characters. Trailing spaces are ignored on both
// sides. It returns nil, or an error naming the first expected line (counted
// from 1) that no line after the previous match matches.
func MatchOutput(expected, actual string) error {
	got := strings.Split(strings.TrimSuffix(actual, "\n"), "\n")
	next := 0 // the first line of actual not yet used by a match
	for i, want := range strings.Split(strings.TrimSuffix(expected, "\n"), "\n") {
		re := linePattern(strings.TrimRight(want, " \t\r"))
		found := false
		for ; next < len(got); next++ {
			if re.MatchString(strings.TrimRight(got[next], " \t\r")) {
				found, next = true, next+1
				break
			}
		}
		if !found {
			return &MismatchError{Line: i + 1, Want: want}
		}
	}
	return nil
}

// MismatchError is the expected line that the output does not show.
type MismatchError struct {
	Line int    // the line of the expected output, from 1
	Want string // its text
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("line %d of the expected output matches no line of the output after the lines matched before it: %s", e.Line, e.Want)
}

// linePattern is the regular expression an expected line stands for.
func linePattern(want string) *regexp.Regexp {
	parts := strings.Split(want, Wildcard)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
}
