package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
)

// importEnv is the environment that points the binary at the server.
func importEnv(s *apitest.Server, key string) []string {
	return []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + key}
}

// readRejects reads a rejects file as CSV records.
func readRejects(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("the rejects file is not valid CSV: %v\n%s", err, data)
	}
	return recs
}

// prospectCount is how many live prospects the account has.
func prospectCount(t *testing.T, s *apitest.Server, accountID string) int64 {
	t.Helper()
	a, err := s.DB.Account(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	return a.ProspectCount
}

// importWithRejects imports the file with the binary, which must exit 1 (some
// rows rejected) printing the summary, and leave the account with that many
// prospects.
func importWithRejects(t *testing.T, s *apitest.Server, key, accountID, path, summary string, prospects int64) {
	t.Helper()
	out, errOut, code := runPiped(t, importEnv(s, key), "prospects", "import", path)
	if code != exitRequest {
		t.Fatalf("exit %d, want 1 (some rows rejected); stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := path + ": " + summary + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if n := prospectCount(t, s, accountID); n != prospects {
		t.Errorf("%d prospects, want %d", n, prospects)
	}
}

// Rows with long fields fill the body limit long before 500 of them: the
// batches are cut by size, a row too large for any batch is rejected with its
// reason, and the rest of the file goes in.
func TestImportSizesBatchesByBytes(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "long.csv")
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"email", "website", "metadata.a", "metadata.b", "metadata.c", "metadata.d"})
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	for i := range 600 {
		if i == 300 { // line 302: one cell of 10 MB
			w.Write([]string{"huge@example.com", "https://example.com/" + long("h", 10<<20), "", "", "", ""})
		}
		w.Write([]string{fmt.Sprintf("long-%d@example.com", i), "https://example.com/" + long("w", 2000),
			long("a", 500), long("b", 500), long("c", 500), long("d", 500)})
	}
	w.Flush()
	os.WriteFile(path, b.Bytes(), 0o644)

	importWithRejects(t, s, key, accountID, path, "601 rows: 600 created, 0 updated, 0 skipped, 1 rejected", 600)
	recs := readRejects(t, path+".rejects.csv")
	if len(recs) != 2 || recs[1][0] != "huge@example.com" || !slices.Contains(recs[1], "302") || !slices.Contains(recs[1], "row_too_large") {
		t.Errorf("rejects file: %d records, the second starting %.200q", len(recs), recs[min(1, len(recs)-1)])
	}
}

// A JSON Lines line over 1 MiB is rejected with its line and the lines after
// it are imported.
func TestImportJSONLinesLongLine(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "crm.jsonl")
	os.WriteFile(path, []byte(`{"email":"ada@example.com"}
{"email":"big@example.com","company":"`+strings.Repeat("x", 2<<20)+`"}
{"email":"lin@example.com"}
`), 0o644)
	importWithRejects(t, s, key, accountID, path, "3 rows: 2 created, 0 updated, 0 skipped, 1 rejected", 2)
	data, err := os.ReadFile(path + ".rejects.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"error_code":"row_too_large"`) || !strings.Contains(string(data), `"error_line":2`) {
		t.Errorf("rejects file:\n%.300s", data)
	}
}

// A cell that a spreadsheet would run as a formula is written to the rejects
// file with a leading ', and read back without it when the file is imported.
func TestImportRejectsFileEscapesFormulas(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "leads.csv")
	os.WriteFile(path, []byte("email,first_name,last_name,company,title,phone\n"+
		"bad.example.com,=cmd|' /C calc'!A0,+SUM(1),-2+3,@HYPERLINK(x),\t=1\n"), 0o644)
	importWithRejects(t, s, key, accountID, path, "1 rows: 0 created, 0 updated, 0 skipped, 1 rejected", 0)
	env := importEnv(s, key)
	recs := readRejects(t, path+".rejects.csv")
	want := []string{"bad.example.com", "'=cmd|' /C calc'!A0", "'+SUM(1)", "'-2+3", "'@HYPERLINK(x)", "'\t=1"}
	if len(recs) != 2 || !slices.Equal(recs[1][:len(want)], want) {
		t.Fatalf("rejects file: %q, want a row starting %q", recs, want)
	}

	// Fixed and imported as it is, the row keeps its values as they were.
	p, out := importFixedRejects(t, env, path, recs)
	if p["first_name"] != "=cmd|' /C calc'!A0" || p["last_name"] != "+SUM(1)" || p["company"] != "-2+3" || p["title"] != "@HYPERLINK(x)" {
		t.Errorf("the re-imported prospect: %s", out)
	}
}

// importFixedRejects gives the first rejected row of path's rejects file
// (recs, as read) the email fixed@example.com, imports the rejects file as it
// is, and returns the prospect it made, decoded and as printed.
func importFixedRejects(t *testing.T, env []string, path string, recs [][]string) (map[string]any, string) {
	t.Helper()
	recs[1][0] = "fixed@example.com"
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(recs)
	os.WriteFile(path+".rejects.csv", b.Bytes(), 0o644)
	if out, errOut, code := runPiped(t, env, "prospects", "import", path+".rejects.csv"); code != exitOK {
		t.Fatalf("importing the fixed rejects file: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ := runPiped(t, env, "prospects", "list", "--email", "fixed@example.com")
	return decode(t, out), out
}

// A value that starts with ' is data: a file of the user's own is imported as
// it is, and a rejects file gives such a value back as it was.
func TestImportKeepsApostrophes(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "quotes.csv")
	os.WriteFile(path, []byte("email,first_name,last_name\n"+
		"ok@example.com,'+44 20 7946 0000,'=x\n"+
		"bad.example.com,'Quoted,'-dash\n"), 0o644)
	importWithRejects(t, s, key, accountID, path, "2 rows: 1 created, 0 updated, 0 skipped, 1 rejected", 1)
	env := importEnv(s, key)
	out, _, _ := runPiped(t, env, "prospects", "list", "--email", "ok@example.com")
	if p := decode(t, out); p["first_name"] != "'+44 20 7946 0000" || p["last_name"] != "'=x" {
		t.Errorf("a file's own cells starting with ': %s", out)
	}
	recs := readRejects(t, path+".rejects.csv")
	if len(recs) != 2 || !slices.Equal(recs[1][:3], []string{"bad.example.com", "''Quoted", "''-dash"}) {
		t.Fatalf("rejects file: %q, want the cells starting with ' escaped once more", recs)
	}
	if p, out := importFixedRejects(t, env, path, recs); p["first_name"] != "'Quoted" || p["last_name"] != "'-dash" {
		t.Errorf("the re-imported prospect: %s", out)
	}
}

// The CSV files spreadsheets write: a byte order mark before a quoted
// header; a row with too many or too few cells keeps its cells in the rejects
// file; a row with a stray quote is rejected and the rest goes on.
func TestImportCSVQuirks(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "excel.csv")
	os.WriteFile(path, []byte("\ufeff\"email\",\"first_name\"\r\n"+
		"ada@example.com,Ada\r\n"+
		"kim@example.com,Kim,extra\r\n"+
		"lin@example.com\r\n"+
		"\"eve@example.com\"x,Eve\r\n"+
		"\"mo@example.com\",\"Mo\"\r\n"), 0o644)
	importWithRejects(t, s, key, accountID, path, "5 rows: 2 created, 0 updated, 0 skipped, 3 rejected", 2)
	recs := readRejects(t, path+".rejects.csv")
	want := [][]string{
		{"email", "first_name", "error_line", "error_code"},
		{"kim@example.com", "Kim", "3", "row_malformed"},
		{"lin@example.com", "", "4", "row_malformed"},
		{"", "", "5", "row_malformed"},
	}
	if len(recs) != len(want) {
		t.Fatalf("rejects file: %q", recs)
	}
	for i, w := range want {
		if !slices.Equal(recs[i][:len(w)], w) {
			t.Errorf("rejects record %d = %q, want %q…", i, recs[i], w)
		}
	}
}

// An opening quote that is never closed would read the rest of the file as
// one cell: the file is refused, naming the line, before anything is sent.
func TestImportUnterminatedQuote(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	path := filepath.Join(t.TempDir(), "broken.csv")
	var b strings.Builder
	b.WriteString("email,company\nada@example.com,Acme\nlin@example.com,\"Lin & Co\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "lead-%d@example.com,Acme\n", i)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	out, errOut, code := runPiped(t, importEnv(s, key), "prospects", "import", path)
	if code == exitOK || out != "" || !strings.Contains(errOut, "line 3") || !strings.Contains(errOut, "quote") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a failure naming line 3 and its quote", code, out, errOut)
	}
	if n := prospectCount(t, s, accountID); n != 0 {
		t.Errorf("%d prospects created from a file that was refused", n)
	}
}

// After a run with rejected rows, the rejects file is fixed and imported as
// it is; an unchanged rerun says its batches were replayed; a rerun of a
// changed file whose rows mostly exist suggests --on-conflict skip.
func TestImportAgain(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	dir := t.TempDir()
	env := importEnv(s, key)
	path := filepath.Join(dir, "leads.csv")
	rows := "email,first_name,status\n"
	for i := range 10 {
		rows += fmt.Sprintf("lead-%d@example.com,Lead,contacted\n", i)
	}
	os.WriteFile(path, []byte(rows+"bad-1.example.com,Bad,new\nbad-2@example.com,Bad,hot\n"), 0o644)
	out, errOut, code := runPiped(t, env, "prospects", "import", path)
	if code != exitRequest || !strings.HasPrefix(out, path+": 12 rows: 10 created, 0 updated, 0 skipped, 2 rejected\n") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	recs := readRejects(t, path+".rejects.csv")
	if want := []string{"email", "first_name", "status", "error_line", "error_code", "error_param", "error_message"}; !slices.Equal(recs[0], want) {
		t.Fatalf("rejects header %q, want %q", recs[0], want)
	}
	if len(recs) != 3 || !slices.Equal(recs[1][:6], []string{"bad-1.example.com", "Bad", "new", "12", "parameter_invalid", "email"}) ||
		!slices.Equal(recs[2][:6], []string{"bad-2@example.com", "Bad", "hot", "13", "parameter_invalid", "status"}) {
		t.Fatalf("rejects: %q", recs)
	}

	// Unchanged, the file's batches are answered again: nothing is counted
	// created twice.
	out, errOut, code = runPiped(t, env, "prospects", "import", path)
	if code != exitRequest || !strings.HasPrefix(out, path+": 12 rows: 0 created, 0 updated, 0 skipped, 2 rejected, 10 replayed\n") {
		t.Errorf("unchanged rerun: exit %d\n%s%s", code, out, errOut)
	}

	// The rejects file, fixed, goes in as it is.
	fixed := filepath.Join(dir, "fixed.csv")
	data, _ := os.ReadFile(path + ".rejects.csv")
	data = bytes.Replace(bytes.Replace(data, []byte("bad-1.example.com"), []byte("bad-1@example.com"), 1), []byte(",hot,"), []byte(",new,"), 1)
	os.WriteFile(fixed, data, 0o644)
	out, errOut, code = runPiped(t, env, "prospects", "import", fixed)
	if code != exitOK || out != fixed+": 2 rows: 2 created, 0 updated, 0 skipped, 0 rejected\n" {
		t.Errorf("importing the fixed rejects file: exit %d\n%s%s", code, out, errOut)
	}
	if n := prospectCount(t, s, accountID); n != 12 {
		t.Errorf("%d prospects, want 12", n)
	}

	// The original file fixed in place: its rows exist now, and the summary
	// says how to leave them as they are.
	os.WriteFile(path, []byte(rows+"bad-1@example.com,Bad,new\nbad-2@example.com,Bad,new\n"), 0o644)
	out, errOut, code = runPiped(t, env, "prospects", "import", path)
	if code != exitRequest || !strings.Contains(out, "12 rejected") || !strings.Contains(out, "--on-conflict skip") {
		t.Errorf("rerun of the fixed file: exit %d; want 12 conflicts and the hint to use --on-conflict skip\n%s%s", code, out, errOut)
	}
	out, errOut, code = runPiped(t, env, "prospects", "import", path, "--on-conflict", "skip")
	if code != exitOK || out != path+": 12 rows: 0 created, 0 updated, 12 skipped, 0 rejected\n" {
		t.Errorf("with --on-conflict skip: exit %d\n%s%s", code, out, errOut)
	}
}
