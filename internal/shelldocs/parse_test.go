package shelldocs

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFences(t *testing.T) {
	// ' stands for a backtick in the pages of these tests.
	page := md(`# Title

'''sh
echo a
'''
Prose with '''inline''' code.
- a list item:

  ''''text output
  '''
    indented
  ''''
~~~
plain
~~~
`)
	fences, err := Fences(page)
	if err != nil {
		t.Fatal(err)
	}
	want := []Fence{
		{Line: 3, EndLine: 5, Info: "sh", Text: "echo a\n"},
		{Line: 9, EndLine: 12, Info: "text output", Text: "```\n  indented\n"},
		{Line: 13, EndLine: 15, Info: "", Text: "plain\n"},
	}
	if !slices.Equal(fences, want) {
		t.Fatalf("fences:\n got %+v\nwant %+v", fences, want)
	}
}

func TestFencesUnclosed(t *testing.T) {
	_, err := Fences("text\n```sh\necho a\n")
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want one naming line 2", err)
	}
}

func TestBlocks(t *testing.T) {
	page := md(`'''sh
KEY=$(make-key)
'''

'''json output
{"id":"prs_…"}
'''
'''sh norun
make run
'''
'''sh postgres
capture migrate
'''
Then:
'''json
{}
'''
'''sh norun postgres
capture serve
'''
'''text output
serving
'''
`)
	blocks, err := Blocks(page)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		line            int
		first           string
		noRun, postgres bool
		output          string
	}
	var got []summary
	for _, b := range blocks {
		s := summary{line: b.Line, first: b.FirstLine(), noRun: b.NoRun, postgres: b.Postgres}
		if b.Output != nil {
			s.output = b.Output.Info + ": " + b.Output.Text
		}
		got = append(got, s)
	}
	want := []summary{
		{line: 1, first: "KEY=$(make-key)", output: "json output: {\"id\":\"prs_…\"}\n"},
		{line: 8, first: "make run", noRun: true},
		{line: 11, first: "capture migrate", postgres: true},
		{line: 18, first: "capture serve", noRun: true, postgres: true, output: "text output: serving\n"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("blocks:\n got %+v\nwant %+v", got, want)
	}
}

// A page that would let a shell block or an expected output go unchecked is refused.
func TestBlocksRefused(t *testing.T) {
	for name, tc := range map[string]struct{ page, want string }{
		"output after prose":     {"```sh\necho a\n```\nIt prints:\n```text output\na\n```\n", "line 5"},
		"output after json":      {"```json\n{}\n```\n```json output\n{}\n```\n", "line 4"},
		"output first":           {"```text output\na\n```\n", "line 1"},
		"two outputs":            {"```sh\necho a\n```\n```text output\na\n```\n```text output\na\n```\n", "line 7"},
		"unknown marker":         {"```sh\ntrue\n```\n```sh no-run\nmake run\n```\n", `unknown marker "no-run"`},
		"bash fence":             {"```bash\nmake run\n```\n", `fenced "bash"`},
		"console fence":          {"```console\n$ make run\n```\n", `fenced "console"`},
		"unclosed inside a list": {"- step\n  ```sh\n  echo a\n", "never closed"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Blocks(tc.page)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMatchOutput(t *testing.T) {
	actual := "Created account\n" +
		`{"id":"prs_01jabc","email":"ada@example.com","created":1764068400}` + "\n" +
		"noise\n" +
		`{"error":{"code":"parameter_invalid","request_id":"req_42"}}` + "  \n" +
		"exit status 1\n"
	for name, tc := range map[string]struct {
		expected string
		line     int // the expected line reported missing; 0 for a match
	}{
		"every line, exactly":       {expected: actual, line: 0},
		"some lines, in order":      {expected: "Created account\nexit status 1\n", line: 0},
		"wildcards":                 {expected: `{"id":"prs_…","email":"ada@example.com","created":…}` + "\n" + `{"error":{"code":"parameter_invalid","request_id":"req_…"}}`, line: 0},
		"wildcard alone":            {expected: "…\n…\n…\n…\n…\n", line: 0},
		"trailing spaces":           {expected: "noise   \n", line: 0},
		"out of order":              {expected: "exit status 1\nCreated account\n", line: 2},
		"a line too many":           {expected: "…\n…\n…\n…\n…\n…\n", line: 6},
		"different text":            {expected: "Created account\nexit status 2\n", line: 2},
		"wildcard is not a prefix":  {expected: "account\n", line: 1},
		"a wildcard needs the rest": {expected: `{"id":"prs_…","email":"grace@example.com",…}`, line: 1},
		"regexp characters literal": {expected: "exit status .\n", line: 1},
		"blank line expected":       {expected: "Created account\n\nnoise\n", line: 2},
	} {
		t.Run(name, func(t *testing.T) {
			err := MatchOutput(tc.expected, actual)
			var mismatch *MismatchError
			switch {
			case tc.line == 0 && err != nil:
				t.Fatalf("unexpected mismatch: %v", err)
			case tc.line != 0 && !errors.As(err, &mismatch):
				t.Fatalf("err = %v, want a mismatch at line %d", err, tc.line)
			case tc.line != 0 && mismatch.Line != tc.line:
				t.Fatalf("mismatch at line %d (%v), want line %d", mismatch.Line, err, tc.line)
			}
		})
	}
}

// md is a Markdown page written with ' for a backtick, which a Go raw string cannot hold.
func md(s string) string { return strings.ReplaceAll(s, "'", "`") }
