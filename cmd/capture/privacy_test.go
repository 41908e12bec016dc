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
