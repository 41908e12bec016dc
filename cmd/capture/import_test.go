package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

// importFile is a generated CSV file of prospects, with what an import of it
// must leave behind.
type importFile struct {
	path string
	good map[string]bool   // emails of the rows that are accepted
	bad  map[int][2]string // line → code, param of the rows that are rejected
	rows int
}

// writeImportCSV writes n rows, one in a hundred of them bad in one of four
// ways the server or the command refuses.
func writeImportCSV(t *testing.T, dir string, n int) importFile {
	t.Helper()
	f := importFile{path: filepath.Join(dir, "leads.csv"), good: map[string]bool{}, bad: map[int][2]string{}, rows: n}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"email", "first_name", "company", "status", "tags", "metadata.list", "marketing_consent"})
	for i := range n {
		line := i + 2 // the header is line 1
		email := fmt.Sprintf("lead-%d@example.com", i)
		rec := []string{email, "Lead", "Company, Inc.", "new", "expo;2026", "trade-show", "true"}
		if i%100 == 37 {
			switch (i / 100) % 4 {
			case 0:
				rec[0] = fmt.Sprintf("lead-%d.example.com", i)
				f.bad[line] = [2]string{"parameter_invalid", "email"}
			case 1:
				rec[3] = "hot"
				f.bad[line] = [2]string{"parameter_invalid", "status"}
			case 2:
				rec[4] = "expo;" + strings.Repeat("x", 51)
				f.bad[line] = [2]string{"parameter_invalid", "tags[1]"}
			case 3:
				rec[6] = "maybe"
				f.bad[line] = [2]string{"parameter_invalid", "marketing_consent"}
			}
		} else {
			f.good[email] = true
		}
		w.Write(rec)
	}
	w.Flush()
	if err := os.WriteFile(f.path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// check verifies what an import left: exactly the good rows as live
// prospects, and the rejects file listing exactly the bad rows.
func (f importFile) check(t *testing.T, s *apitest.Server, accountID string) {
	t.Helper()
	ctx := context.Background()
	live := map[string]bool{}
	lp := store.ListParams{Limit: 100, IncludeHidden: true}
	for {
		page, err := s.DB.ListProspects(ctx, accountID, lp)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Prospects {
			if live[p.Email] {
				t.Fatalf("%s is there twice", p.Email)
			}
			live[p.Email] = true
			if p.Company == nil || *p.Company != "Company, Inc." || len(p.Tags) != 2 || p.Metadata["list"] != "trade-show" || !p.MarketingConsent {
				t.Fatalf("%s imported as %+v", p.Email, p)
			}
		}
		if !page.HasMore {
			break
		}
		lp.StartingAfter = page.Prospects[len(page.Prospects)-1].ID
	}
	if len(live) != len(f.good) {
		t.Errorf("%d live prospects, want the %d good rows", len(live), len(f.good))
	}
	for email := range f.good {
		if !live[email] {
			t.Errorf("good row %s was not imported", email)
			break
		}
	}

	data, err := os.ReadFile(f.path + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"email", "first_name", "company", "status", "tags", "metadata.list", "marketing_consent",
		"error_line", "error_code", "error_param", "error_message"}
	if !slices.Equal(recs[0], want) {
		t.Fatalf("rejects header %q, want %q", recs[0], want)
	}
	seen := map[int]bool{}
	last := 0
	for _, r := range recs[1:] {
		line, _ := strconv.Atoi(r[7])
		want, ok := f.bad[line]
		if !ok || seen[line] || r[8] != want[0] || r[9] != want[1] || r[10] == "" || r[2] != "Company, Inc." {
			t.Errorf("rejects file lists %q; want line %d as %v", r, line, want)
		}
		if line < last {
			t.Errorf("rejects out of the file's order: line %d after %d", line, last)
		}
		seen[line], last = true, line
	}
	if len(seen) != len(f.bad) {
		t.Errorf("rejects file lists %d rows, want the %d bad ones", len(seen), len(f.bad))
	}
}

// importServer is a real server with an account big enough for the file.
func importServer(t *testing.T) (s *apitest.Server, key, accountID string) {
	s = apitest.New(t)
	key = s.NewAccountKey(t, "importer", "standard", 100000)
	a, err := s.DB.AccountByName(context.Background(), "importer")
	if err != nil {
		t.Fatal(err)
	}
	return s, key, a.ID
}

// An import of 6,000 rows (12 batches), 1% of them bad: exactly the good rows exist
// afterwards, the rejects file lists exactly the bad ones, the summary counts
// them and the exit status says some were rejected.
func TestImportCSV(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	f := writeImportCSV(t, t.TempDir(), 6000)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + key}
	out, errOut, code := runPiped(t, env, "prospects", "import", f.path)
	if code != exitRequest {
		t.Fatalf("exit %d, want 1 (some rows rejected); stderr:\n%s", code, errOut)
	}
	want := fmt.Sprintf("%s: 6000 rows: 5940 created, 0 updated, 0 skipped, 60 rejected\nrejected rows are in %s.rejects.csv; fix them there and import that file as it is\n", f.path, f.path)
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !regexp.MustCompile(`(?m)^6000 of 6000 rows done \(100%\), \d+ rows/s, 60 rejected$`).MatchString(errOut) {
		t.Errorf("no final progress line on stderr:\n%s", errOut)
	}
	f.check(t, s, accountID)
}

// An import killed halfway and run again creates nothing twice: the batches
// that went through are answered again from their Idempotency-Keys, and the
// result is the same as an import that was never interrupted.
func TestImportKilledHalfwayRunsAgain(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	f := writeImportCSV(t, t.TempDir(), 6000)
	env := []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + key}

	cmd := command(t, env, "prospects", "import", f.path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	count := func() int64 {
		a, err := s.DB.Account(context.Background(), accountID)
		if err != nil {
			t.Fatal(err)
		}
		return a.ProspectCount
	}
	// Kill the command once a quarter of the rows are in, while it sends the rest.
	quarter := int64(len(f.good) / 4)
	poll.Until(t, 20*time.Second, fmt.Sprintf("%d prospects imported", quarter), func() (bool, string) {
		n := count()
		select {
		case err := <-exited:
			t.Fatalf("the import finished (%v) before it could be interrupted, with %d prospects", err, n)
		default:
		}
		return n >= quarter, fmt.Sprintf("%d prospects", n)
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if n := count(); n >= int64(len(f.good)) {
		t.Fatalf("the kill came too late: %d prospects in", n)
	}

	out, errOut, code := runPiped(t, env, "prospects", "import", f.path)
	if code != exitRequest {
		t.Fatalf("the second run: exit %d; stderr:\n%s", code, errOut)
	}
	// Replayed batches answer as they did the first time: every good row is
	// counted once, created by this run or replayed from the first one, and
	// none is a conflict with the first run.
	m := regexp.MustCompile(`^(.*): 6000 rows: (\d+) created, 0 updated, 0 skipped, 60 rejected, (\d+) replayed\n`).FindStringSubmatch(out)
	if m == nil || m[1] != f.path {
		t.Fatalf("stdout:\n%s\nwant created and replayed rows", out)
	}
	created, _ := strconv.Atoi(m[2])
	replayed, _ := strconv.Atoi(m[3])
	if created == 0 {
		t.Errorf("nothing created by the second run:\n%s", out)
	}
	if replayed < len(f.good)/4 || replayed >= len(f.good) {
		t.Errorf("%d replayed; the first run imported at least a quarter of the rows and not all:\n%s", replayed, out)
	}
	if created+replayed != len(f.good) {
		t.Errorf("created and replayed rows do not add up to the %d good ones:\n%s", len(f.good), out)
	}
	f.check(t, s, accountID)
}

// On a terminal the import shows a progress bar with the rows done, the rate
// and the time left.
func TestImportOnATerminalShowsAProgressBar(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	f := writeImportCSV(t, t.TempDir(), 1200)
	term := startTerminal(t, []string{"CAPTURE_URL=" + s.URL, "CAPTURE_API_KEY=" + key}, "prospects", "import", f.path)
	out, code := term.wait(t)
	if code != exitRequest {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"importing", "1200/1200", "rows/s", "100%",
		"1200 rows: 1188 created, 0 updated, 0 skipped, 12 rejected"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal lacks %q:\n%q", want, out)
		}
	}
	if !regexp.MustCompile(`\[\d+s:\d+s\]`).MatchString(out) {
		t.Errorf("the bar shows no elapsed and left time:\n%q", out)
	}
	f.check(t, s, accountID)
}

// JSON Lines: one object a line, unknown fields and unreadable lines rejected
// with their line; --on-conflict update merges rows into existing prospects;
// an import where every row is accepted exits 0 and leaves no rejects file.
func TestImportJSONLines(t *testing.T) {
	t.Parallel()
	s, key, _ := importServer(t)
	dir := t.TempDir()
	conn := []string{"--url", s.URL, "--api-key", key}
	path := filepath.Join(dir, "crm.jsonl")
	os.WriteFile(path, []byte(`{"email":"ada@example.com","first_name":"Ada","tags":["vip"]}
{"email":"grace@example.com","metadata":{"crm_id":"7"}}

{"email":"eve@example.com","nickname":"Eve"}
{"email":"bob@example.com",
{"email":"ADA@example.com","company":"Analytical Engines"}
`), 0o644)
	out, errOut, code := cli(t, append([]string{"import", path}, conn...)...)
	if code != exitRequest {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if want := path + ": 5 rows: 2 created, 0 updated, 0 skipped, 3 rejected\n"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout %q, want %q…", out, want)
	}
	// Each rejected line, as the file has it, with what was wrong added.
	data, _ := os.ReadFile(path + ".rejects.jsonl")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	want := []string{
		`{"email":"eve@example.com","error_code":"parameter_unknown","error_line":4,"error_message":"Received unknown parameter: nickname.","error_param":"nickname","nickname":"Eve"}`,
		`{"error_code":"body_invalid_json","error_line":5,"error_message":"The line is not a JSON object: unexpected EOF.","error_param":"","error_source":"{\"email\":\"bob@example.com\","}`,
		`{"company":"Analytical Engines","email":"ADA@example.com","error_code":"prospect_exists","error_line":6,"error_message":…,"error_param":"email"}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("rejects:\n%s", data)
	}
	for i, w := range want {
		if !matchEllipsis(w, lines[i]) {
			t.Errorf("reject %d =\n%s\nwant\n%s", i, lines[i], w)
		}
	}

	// The same file under update: Ada's second row merges into her prospect.
	fixed := filepath.Join(dir, "fixed.jsonl")
	os.WriteFile(fixed, []byte(`{"email":"ada@example.com","company":"Analytical Engines"}
{"email":"new@example.com"}
`), 0o644)
	out, errOut, code = cli(t, append([]string{"import", fixed, "--on-conflict", "update"}, conn...)...)
	if code != exitOK || out != fixed+": 2 rows: 1 created, 1 updated, 0 skipped, 0 rejected\n" {
		t.Fatalf("update import: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(fixed + ".rejects.csv"); !os.IsNotExist(err) {
		t.Errorf("a rejects file was left for an import without rejects: %v", err)
	}
	out, _, _ = cli(t, append([]string{"list", "--email", "ada@example.com"}, conn...)...)
	if p := decode(t, out); p["company"] != "Analytical Engines" || p["first_name"] != "Ada" {
		t.Errorf("ada after the upsert: %s", out)
	}
}

// matchEllipsis reports whether s is pattern, where … in pattern stands for
// any run of characters.
func matchEllipsis(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return s == "" || strings.HasSuffix(pattern, "…")
}

// A file the command cannot read as a whole is refused before any request.
func TestImportRefusesBadFiles(t *testing.T) {
	t.Parallel()
	s, key, accountID := importServer(t)
	dir := t.TempDir()
	conn := []string{"--url", s.URL, "--api-key", key}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", write("a.csv", "email,nickname\nada@example.com,Ace\n")}, `unknown column "nickname"`},
		{[]string{"import", write("b.csv", "first_name\nAda\n")}, "no email column"},
		{[]string{"import", write("c.txt", "{}\n")}, "--format csv or --format jsonl"},
		{[]string{"import", write("d.csv", "email\n"), "--on-conflict", "merge"}, "--on-conflict must be"},
		{[]string{"import", filepath.Join(dir, "missing.csv")}, "no such file"},
	} {
		out, errOut, code := cli(t, append(tc.args, conn...)...)
		if code == exitOK || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want a failure saying %q", tc.args, code, errOut, tc.want)
		}
	}
	if a, _ := s.DB.Account(context.Background(), accountID); a.ProspectCount != 0 {
		t.Errorf("%d prospects created by refused imports", a.ProspectCount)
	}
}

// Importing again, under --on-conflict update, a file of 500 rows whose
// emails all exist updates every one of them, on each engine.
func TestImportUpdateOf500Existing(t *testing.T) {
	t.Parallel()
	for _, e := range apitest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := e.New(t)
			conn := []string{"--url", s.URL, "--api-key", s.NewAccountKey(t, "importer", "standard", 1000)}
			dir := t.TempDir()
			write := func(name, company string) string {
				var b strings.Builder
				b.WriteString("email,company\n")
				for i := range 500 {
					fmt.Fprintf(&b, "u%d@example.com,%s %d\n", i, company, i)
				}
				path := filepath.Join(dir, name)
				os.WriteFile(path, []byte(b.String()), 0o644)
				return path
			}
			first := write("first.csv", "Before")
			if out, errOut, code := cli(t, append([]string{"import", first}, conn...)...); code != exitOK {
				t.Fatalf("first import: exit %d\n%s%s", code, out, errOut)
			}
			again := write("again.csv", "After")
			out, errOut, code := cli(t, append([]string{"import", again, "--on-conflict", "update"}, conn...)...)
			if code != exitOK || out != again+": 500 rows: 0 created, 500 updated, 0 skipped, 0 rejected\n" {
				t.Fatalf("update import: exit %d\n%s%s", code, out, errOut)
			}
			out, _, _ = cli(t, append([]string{"list", "--email", "u499@example.com"}, conn...)...)
			if p := decode(t, out); p["company"] != "After 499" {
				t.Errorf("u499 after the update import: %s", out)
			}
		})
	}
}
