package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

// An erased email is refused by an import, whose rejects file says why,
// until capture suppressions lift accepts it again.
func TestEraseImportLift(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	p, err := client.New(s.StandardKey, client.WithBaseURL(s.URL)).Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	admin := apiTo(s, false, &out, &errOut)
	admin.APIKey = s.AdminKey
	if err := prospectsEraseRun(ctx, &prospectsEraseOptions{apiOptions: admin, ID: p.ID}); err != nil {
		t.Fatalf("erase: %v, stderr %q", err, errOut.String())
	}
	var erased map[string]any
	if err := json.Unmarshal(out.Bytes(), &erased); err != nil || erased["id"] != p.ID || erased["erased"] != true {
		t.Fatalf("erase printed %q: %v", out.String(), err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "crm.jsonl")
	os.WriteFile(path, []byte("{\"email\":\"grace@example.com\"}\n{\"email\":\"ADA@example.com\"}\n"), 0o644)
	conn := []string{"--url", s.URL, "--api-key", s.StandardKey}
	stdout, stderr, code := cli(t, append([]string{"import", path}, conn...)...)
	if code != exitRequest || !strings.HasPrefix(stdout, path+": 2 rows: 1 created, 0 updated, 0 skipped, 1 rejected\n") {
		t.Fatalf("import: exit %d: %s%s", code, stdout, stderr)
	}
	data, _ := os.ReadFile(path + ".rejects.jsonl")
	if want := `{"email":"ADA@example.com","error_code":"email_suppressed","error_line":2,"error_message":…,"error_param":"email"}`; !matchEllipsis(want, strings.TrimSpace(string(data))) {
		t.Errorf("rejects:\n%s\nwant\n%s", data, want)
	}

	out.Reset()
	if err := suppressionsLiftRun(ctx, &suppressionsLiftOptions{apiOptions: admin, Email: "ada@example.com"}); err != nil {
		t.Fatalf("lift: %v, stderr %q", err, errOut.String())
	}
	if want := "{\n  \"object\": \"suppression_lift\",\n  \"email\": \"ada@example.com\",\n  \"lifted\": true\n}\n"; out.String() != want {
		t.Errorf("lift printed %q, want %q", out.String(), want)
	}
	if _, _, code := cli(t, append([]string{"import", path + ".rejects.jsonl"}, conn...)...); code != 0 {
		t.Errorf("importing the rejects again after the lift: exit %d", code)
	}
}

// capture prospects consents prints the ledger: a table on a terminal, JSON
// lines when piped; --consent-text gives the wording.
func TestProspectsConsents(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	conn := []string{"--url", s.URL, "--api-key", s.StandardKey}
	out, errOut, code := cli(t, append([]string{"create", "--email", "ada@example.com", "--marketing-consent",
		"--consent-text", "News, please", "--fields", "id", "--json"}, conn...)...)
	if code != 0 {
		t.Fatalf("create: exit %d %s", code, errOut)
	}
	var p struct{ ID string }
	json.Unmarshal([]byte(out), &p)
	if _, errOut, code := cli(t, append([]string{"update", p.ID, "--marketing-consent=false"}, conn...)...); code != 0 {
		t.Fatalf("update: exit %d %s", code, errOut)
	}
	out, errOut, code = cli(t, append([]string{"consents", p.ID, "--json"}, conn...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"granted":false`) ||
		!strings.Contains(lines[1], `"text":"News, please"`) || !strings.Contains(lines[1], `"source":"api"`) {
		t.Fatalf("consents: exit %d\n%s%s", code, out, errOut)
	}
	var out2, errOut2 bytes.Buffer
	opts := &prospectsConsentsOptions{apiOptions: apiTo(s, true, &out2, &errOut2), ID: p.ID}
	if err := prospectsConsentsRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := out2.String(); !strings.HasPrefix(got, "ID") || !strings.Contains(got, "News, please") || strings.Count(got, "cns_") != 2 {
		t.Errorf("table:\n%s", got)
	}
}

// capture prospects export prints everything held about the prospect as JSON.
func TestProspectsExport(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	conn := []string{"--url", s.URL, "--api-key", s.AdminKey}
	out, errOut, code := cli(t, append([]string{"create", "--email", "ada@example.com", "--marketing-consent", "--fields", "id", "--json"}, conn...)...)
	if code != 0 {
		t.Fatalf("create: exit %d %s", code, errOut)
	}
	var p struct{ ID string }
	json.Unmarshal([]byte(out), &p)
	var out2, errOut2 bytes.Buffer
	opts := &prospectsExportOptions{apiOptions: apiTo(s, true, &out2, &errOut2), ID: p.ID}
	opts.APIKey = s.AdminKey
	if err := prospectsExportRun(context.Background(), opts); err != nil {
		t.Fatalf("export: %v %s", err, errOut2.String())
	}
	var x struct {
		Object      string
		Prospect    struct{ Email string }
		Events      []struct{ Type string }
		Consents    []struct{ Source string }
		Submissions []any
	}
	if err := json.Unmarshal(out2.Bytes(), &x); err != nil || x.Object != "prospect_export" || x.Prospect.Email != "ada@example.com" ||
		len(x.Events) != 1 || x.Events[0].Type != "prospect.created" || len(x.Consents) != 1 || x.Submissions == nil {
		t.Fatalf("export printed %s: %v", out2.String(), err)
	}
}

// capture accounts update --retention-days sets the account's retention,
// which accounts list shows; 0 clears it.
func TestAccountsUpdateRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "run.db")
	var out, errOut bytes.Buffer
	admin := &adminOptions{DB: path, DBGiven: true, output: output{Out: &out, ErrOut: &errOut}}
	if err := migrateRun(ctx, &migrateOptions{DB: path, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if err := accountsCreateRun(ctx, &accountsCreateOptions{adminOptions: admin, Name: "acme", ProspectLimit: 10}); err != nil {
		t.Fatal(err)
	}
	days := 365
	if err := accountsUpdateRun(ctx, &accountsUpdateOptions{adminOptions: admin, Name: "acme", RetentionDays: &days, SetRetention: true}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := accountsListRun(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if got := jsonLines(t, out.String()); len(got) != 1 || got[0]["retention_days"] != 365.0 {
		t.Fatalf("accounts list: %s", out.String())
	}
	if err := accountsUpdateRun(ctx, &accountsUpdateOptions{adminOptions: admin, Name: "nope", SetRetention: true}); err == nil {
		t.Error("an unknown account was updated")
	}
	code, _, stderr := capture(t, "accounts", "update", "acme", "--db", path, "--retention-days", "0")
	out.Reset()
	if err := accountsListRun(ctx, admin); err != nil || code != 0 {
		t.Fatalf("update --retention-days 0: exit %d %s; %v", code, stderr, err)
	}
	if got := jsonLines(t, out.String()); got[0]["retention_days"] != nil {
		t.Errorf("retention not cleared: %s", out.String())
	}
}

// An import row that gives consent records it in the ledger, with its
// consent_text and the source import.
func TestImportRecordsConsent(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	path := filepath.Join(t.TempDir(), "leads.csv")
	os.WriteFile(path, []byte("email,marketing_consent,consent_text\nada@example.com,true,Newsletter please\n"), 0o644)
	if out, errOut, code := cli(t, "import", path, "--url", s.URL, "--api-key", s.StandardKey); code != 0 {
		t.Fatalf("import: exit %d %s%s", code, out, errOut)
	}
	c := client.New(s.StandardKey, client.WithBaseURL(s.URL))
	ctx := context.Background()
	var id string
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Email: "ada@example.com"}) {
		if err != nil {
			t.Fatal(err)
		}
		id = p.ID
	}
	var got []client.Consent
	for e, err := range c.Prospects.Consents(ctx, id, client.ConsentListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 1 || !got[0].Granted || got[0].Source != "import" || orEmpty(got[0].Text) != "Newsletter please" {
		t.Fatalf("the import's consents: %+v", got)
	}
}
