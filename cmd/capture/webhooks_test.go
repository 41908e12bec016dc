package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
)

// capture runs `capture args…` in-process, output piped.
func captureCLI(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestEventsAndWebhooksCLIAgainstRealServer(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	admin := []string{"--url", s.URL, "--api-key", s.AdminKey}
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}

	out, errOut, code := captureCLI(append([]string{"webhooks", "create", "--endpoint", "https://crm.example.com/hook",
		"--event", "prospect.created", "--description", "CRM"}, admin...)...)
	if code != 0 {
		t.Fatalf("webhooks create: exit %d, stderr %q", code, errOut)
	}
	ep := decode(t, out)
	id, _ := ep["id"].(string)
	if secret, _ := ep["secret"].(string); !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "we_") {
		t.Fatalf("created %v", ep)
	}
	// Standard keys may not: exit 1 with the code.
	_, errOut, code = captureCLI(append([]string{"webhooks", "list"}, standard...)...)
	if code != exitRequest || errorFields(t, errOut)["code"] != "admin_key_required" {
		t.Errorf("webhooks list with a standard key: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code = captureCLI(append([]string{"webhooks", "list"}, admin...)...)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, id) || strings.Contains(out, "whsec_") {
		t.Errorf("webhooks list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code = captureCLI(append([]string{"webhooks", "create", "--endpoint", "https://x.example.com", "--event", "prospect.exploded"}, admin...)...); code != exitUsage {
		t.Errorf("an unknown event type: exit %d, stderr %q", code, errOut)
	}

	if _, errOut, code = captureCLI(append([]string{"prospects", "create", "--email", "ada@example.com"}, standard...)...); code != 0 {
		t.Fatalf("prospects create: %d %s", code, errOut)
	}
	out, errOut, code = captureCLI(append([]string{"events", "list"}, standard...)...)
	if code != 0 {
		t.Fatalf("events list: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("events list printed %d lines: %q", len(lines), out)
	}
	var e struct {
		Type string `json:"type"`
		Data struct {
			Object struct {
				Email string `json:"email"`
			} `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.Type != "prospect.created" || e.Data.Object.Email != "ada@example.com" {
		t.Errorf("event line %s (%v)", lines[0], err)
	}
	out, _, code = captureCLI(append([]string{"events", "list", "--type", "prospect.deleted"}, standard...)...)
	if code != 0 || out != "" {
		t.Errorf("events list --type prospect.deleted: exit %d, stdout %q", code, out)
	}

	out, errOut, code = captureCLI(append([]string{"webhooks", "delete", id}, admin...)...)
	if code != 0 || decode(t, out)["deleted"] != true {
		t.Errorf("webhooks delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
