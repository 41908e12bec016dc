package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

func TestFormsCLIAgainstRealServer(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	admin := []string{"--url", s.URL, "--api-key", s.AdminKey}

	out, errOut, code := captureCLI(append([]string{"forms", "create", "--name", "Spring webinar", "--origin", "https://www.example.com",
		"--tag", "webinar", "--source", "web_form", "--captcha", "turnstile", "--captcha-secret", "sekrit"}, admin...)...)
	if code != 0 {
		t.Fatalf("forms create: exit %d, stderr %q", code, errOut)
	}
	f := decode(t, out)
	id, _ := f["id"].(string)
	submitURL, _ := f["submit_url"].(string)
	if !strings.HasPrefix(id, "frm_") || strings.Contains(out, "sekrit") {
		t.Fatalf("created %v", f)
	}
	if _, errOut, code = captureCLI(append([]string{"forms", "create", "--name", "x", "--captcha", "turnstile"}, admin...)...); code != exitUsage {
		t.Errorf("a captcha without its secret: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code = captureCLI(append([]string{"forms", "list"}, admin...)...)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, id) {
		t.Errorf("forms list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = captureCLI(append([]string{"forms", "get", id}, admin...)...)
	if code != 0 || decode(t, out)["name"] != "Spring webinar" {
		t.Errorf("forms get: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, body := range []string{`{"email": "ada@example.com"}`, `{"email": "bot@example.com", "_gotcha": "x"}`} {
		res, err := http.Post(s.URL+submitURL, "application/json", strings.NewReader(body))
		if err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %v %v", res, err)
		}
		res.Body.Close()
	}
	out, errOut, code = captureCLI(append([]string{"forms", "submissions", id}, admin...)...)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("forms submissions: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// On a terminal, --quarantined: a table of the quarantined ones, with their
	// reasons (neither page sent the captcha's token).
	var tout, terr bytes.Buffer
	opts := &formsSubmissionsOptions{apiOptions: apiTo(s, true, &tout, &terr), FormID: id,
		Params: client.SubmissionListParams{Status: "quarantined"}}
	opts.APIKey = s.AdminKey
	if err := formsSubmissionsRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tout.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "REASONS") || !strings.Contains(lines[1], "honeypot,captcha_failed") ||
		!strings.Contains(lines[1], "bot@example.com") || !strings.Contains(lines[2], "captcha_failed") {
		t.Errorf("the quarantined table:\n%s\nstderr %q", tout.String(), terr.String())
	}

	// Approved, Ada's submission makes her prospect, with its attribution.
	c := client.New(s.AdminKey, client.WithBaseURL(s.URL))
	for sub, err := range c.Forms.Submissions(context.Background(), id, client.SubmissionListParams{}) {
		if err == nil && sub.Fields["email"] == "ada@example.com" {
			_, err = c.Forms.Approve(context.Background(), id, sub.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code = captureCLI(append([]string{"prospects", "list", "--fields", "email,attribution"}, admin...)...)
	if code != 0 || !strings.Contains(out, `{"email":"ada@example.com","attribution":{"first_touch":{"at":`) {
		t.Errorf("prospects list --fields email,attribution: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = captureCLI(append([]string{"forms", "delete", id}, admin...)...)
	if code != 0 || decode(t, out)["deleted"] != true {
		t.Errorf("forms delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = captureCLI(append([]string{"forms", "get", id}, admin...)...)
	if code != exitRequest || errorFields(t, errOut)["code"] != "resource_missing" {
		t.Errorf("a deleted form: exit %d, stderr %q", code, errOut)
	}
}
