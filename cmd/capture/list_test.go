package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

// seedProspects creates n prospects, p00@example.com first, in one batch.
func seedProspects(t *testing.T, s *apitest.Server, n int) {
	t.Helper()
	items := make([]client.ProspectCreateParams, n)
	for i := range items {
		items[i] = client.ProspectCreateParams{Email: fmt.Sprintf("p%02d@example.com", i)}
	}
	c := client.New(s.StandardKey, client.WithBaseURL(s.URL))
	b, err := c.Prospects.CreateBatch(context.Background(), items)
	if err != nil || b.Failed != 0 {
		t.Fatalf("seed %d prospects: %v %+v", n, err, b)
	}
}

// apiTo is the options of a command over the API at s, printing into out and
// errOut as on a terminal or not.
func apiTo(s *apitest.Server, terminal bool, out, errOut *bytes.Buffer) *apiOptions {
	return &apiOptions{APIKey: s.StandardKey, URL: s.URL, output: output{Out: out, ErrOut: errOut, Terminal: terminal}}
}

func TestProspectsListOnATerminalShows30ThenLimitOrAll(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	seedProspects(t, s, 35)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + s.StandardKey}
	rows := regexp.MustCompile(`(?m)^prs_\S+ +p\d\d@example\.com `)
	for _, tc := range []struct {
		args []string
		rows int
		hint bool
	}{
		{nil, 30, true},
		{[]string{"--limit", "32"}, 32, true},
		{[]string{"--limit", "35"}, 35, false},
		{[]string{"--all"}, 35, false},
	} {
		term := startTerminal(t, env, append([]string{"prospects", "list"}, tc.args...)...)
		out, code := term.wait(t)
		hint := fmt.Sprintf("Showing the first %d prospects: --limit N shows more, --all shows every one.\n", tc.rows)
		if n := len(rows.FindAllString(out, -1)); code != 0 || n != tc.rows || strings.HasSuffix(out, hint) != tc.hint {
			t.Errorf("list %q on a terminal: want %d rows (a hint: %v), got exit %d and %d rows:\n%s", tc.args, tc.rows, tc.hint, code, n, out)
		}
	}
	// Piped, a script gets every prospect, as before.
	out, errOut, code := runPiped(t, env, "prospects", "list")
	if code != 0 || strings.Count(out, "\n") != 35 || errOut != "" {
		t.Errorf("list piped: want 35 JSON lines, got exit %d, stderr %q and\n%s", code, errOut, out)
	}
}

// The run functions work without cobra: the options a command line would make.

func TestProspectsListRun(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	seedProspects(t, s, 35)
	var out, errOut bytes.Buffer
	opts := &prospectsListOptions{apiOptions: apiTo(s, true, &out, &errOut)}
	if err := prospectsListRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 31 || !strings.HasPrefix(out.String(), "ID ") ||
		errOut.String() != "Showing the first 30 prospects: --limit N shows more, --all shows every one.\n" {
		t.Fatalf("on a terminal: want a header and 30 rows, got %d lines, stderr %q:\n%s", lines, errOut.String(), out.String())
	}

	out.Reset()
	errOut.Reset()
	opts = &prospectsListOptions{apiOptions: apiTo(s, false, &out, &errOut), Fields: []string{"email"},
		Params: client.ProspectListParams{Email: "p07@example.com"}}
	if err := prospectsListRun(context.Background(), opts); err != nil || out.String() != `{"email":"p07@example.com"}`+"\n" {
		t.Fatalf("piped with a filter and --fields email: %v, stdout %q", err, out.String())
	}

	opts = &prospectsListOptions{apiOptions: apiTo(s, false, &out, &errOut), listLimit: listLimit{Limit: 3}}
	out.Reset()
	if err := prospectsListRun(context.Background(), opts); err != nil || strings.Count(out.String(), "\n") != 3 {
		t.Fatalf("piped with --limit 3: %v, stdout\n%s", err, out.String())
	}
}

func TestProspectsCreateRun(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	var out, errOut bytes.Buffer
	opts := &prospectsCreateOptions{apiOptions: apiTo(s, false, &out, &errOut),
		Params: client.ProspectCreateParams{Email: "ada@example.com", Company: "Analytical Engines"}, Fields: []string{"email", "company"}}
	if err := prospectsCreateRun(context.Background(), opts); err != nil {
		t.Fatalf("create: %v, stderr %q", err, errOut.String())
	}
	if want := "{\n  \"email\": \"ada@example.com\",\n  \"company\": \"Analytical Engines\"\n}\n"; out.String() != want {
		t.Fatalf("create printed %q, want %q", out.String(), want)
	}

	// The same email again: refused, exit status 1, the error's fields on stderr.
	out.Reset()
	err := prospectsCreateRun(context.Background(), opts)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRequest || out.Len() != 0 ||
		!strings.Contains(errOut.String(), "code: prospect_exists\n") || !strings.Contains(errOut.String(), "status: 409\n") ||
		!strings.Contains(errOut.String(), "existing_id: prs_") {
		t.Fatalf("a duplicate: want exit status 1 and the error on stderr, got %v, stdout %q, stderr\n%s", err, out.String(), errOut.String())
	}
}

func TestRunWithoutAKeyIsAUsageError(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	opts := &prospectsGetOptions{apiOptions: &apiOptions{URL: "http://127.0.0.1:1", output: output{Out: &out, ErrOut: &errOut}}, ID: "prs_1"}
	err := prospectsGetRun(context.Background(), opts)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "no API key") || out.Len()+errOut.Len() != 0 {
		t.Fatalf("want a usage error naming the missing key and nothing printed, got %v, %q, %q", err, out.String(), errOut.String())
	}
}

// A command line becomes the options its run function gets: the command
// reads the flags, the run function does the work.
func TestProspectsListFlagsMakeOptions(t *testing.T) {
	t.Parallel()
	var got *prospectsListOptions
	api := &apiOptions{}
	cmd := newProspectsListCmd(api, func(_ context.Context, o *prospectsListOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--status", "qualified", "--limit", "5", "--created-lte", "2026-01-01", "--fields", "id,email"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := client.ProspectListParams{Status: "qualified", CreatedLTE: 1767311999}
	if got == nil || got.Params != want || got.Limit != 5 || got.All || strings.Join(got.Fields, ",") != "id,email" {
		t.Fatalf("options: %+v", got)
	}
}

func TestProspectsSearchRun(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	seedProspects(t, s, 35)
	var out, errOut bytes.Buffer
	opts := &prospectsSearchOptions{apiOptions: apiTo(s, true, &out, &errOut), Query: `email~"example.com" AND -email:"p00@example.com"`}
	if err := prospectsSearchRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 31 || !strings.HasPrefix(out.String(), "ID ") ||
		!strings.Contains(out.String(), " p34@example.com ") ||
		errOut.String() != "Showing the first 30 prospects: --limit N shows more, --all shows every one.\n" {
		t.Fatalf("on a terminal: want a header and 30 rows, newest first, got %d lines, stderr %q:\n%s", lines, errOut.String(), out.String())
	}

	out.Reset()
	errOut.Reset()
	opts = &prospectsSearchOptions{apiOptions: apiTo(s, false, &out, &errOut), Query: `email~"P03@" OR email:"P12@example.com"`, Fields: []string{"email"}}
	want := `{"email":"p12@example.com"}` + "\n" + `{"email":"p03@example.com"}` + "\n"
	if err := prospectsSearchRun(context.Background(), opts); err != nil || out.String() != want {
		t.Fatalf("piped with --fields email: %v, stdout\n%s\nwant\n%s", err, out.String(), want)
	}

	// A query that does not parse: exit status 1, the error's fields on stderr.
	out.Reset()
	errOut.Reset()
	opts = &prospectsSearchOptions{apiOptions: apiTo(s, false, &out, &errOut), Query: `status:`}
	err := prospectsSearchRun(context.Background(), opts)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitRequest || out.Len() != 0 ||
		!strings.Contains(errOut.String(), "code: query_invalid\n") || !strings.Contains(errOut.String(), `at position 7`) {
		t.Fatalf("a bad query: want exit status 1 and the error on stderr, got %v, stdout %q, stderr\n%s", err, out.String(), errOut.String())
	}
}
