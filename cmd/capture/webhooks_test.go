package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
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

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWebhooksListenForwardsNewEvents(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // where listen keeps its secret
	s := apitest.New(t)
	standard := []string{"--url", s.URL, "--api-key", s.StandardKey}
	// An event from before listen starts is not forwarded.
	if _, errOut, code := captureCLI(append([]string{"prospects", "create", "--email", "old@example.com"}, standard...)...); code != 0 {
		t.Fatal(errOut)
	}
	var out, errOut syncBuffer
	got := make(chan *client.Event, 10)
	secret := func() string {
		_, s, _ := strings.Cut(out.String(), "signing secret is ")
		return strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])
	}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e, err := client.VerifyWebhook(body, r.Header, secret())
		if err != nil {
			t.Errorf("VerifyWebhook with the account's kept secret: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- e
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"webhooks", "listen", "--forward-to", rcv.URL + "/hook", "--interval", "20ms",
			"--event", "prospect.created", "--event", "prospect.deleted"}, standard...), &out, &errOut)
	}()
	poll.Until(t, 10*time.Second, "listen to print its signing secret", func() (bool, string) {
		return secret() != "", fmt.Sprintf("stdout %q, stderr %q", out.String(), errOut.String())
	})
	created, stderr, code := captureCLI(append([]string{"prospects", "create", "--email", "new@example.com"}, standard...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	id := decode(t, created)["id"].(string)
	captureCLI(append([]string{"prospects", "update", id, "--status", "qualified"}, standard...)...) // not forwarded: --event
	captureCLI(append([]string{"prospects", "delete", id}, standard...)...)
	for _, want := range []string{"prospect.created", "prospect.deleted"} {
		select {
		case e := <-got:
			if e.Type != want || e.Data.Object.ID != id {
				t.Errorf("forwarded %s about %s, want %s about %s", e.Type, e.Data.Object.ID, want, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s forwarded: %q %q", want, out.String(), errOut.String())
		}
	}
	// Each forward is reported with the receiver's status once it has answered.
	poll.Until(t, 10*time.Second, "listen to report both forwards answered 204", func() (bool, string) {
		report := out.String()
		return strings.Count(report, "[204]") >= 2, "its report:\n" + report
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("listen exited %d: %s", code, errOut.String())
	}
	select {
	case e := <-got:
		t.Errorf("also forwarded %s", e.Type)
	default:
	}
	if !strings.Contains(out.String(), "prospect.deleted") || strings.Contains(out.String(), "prospect.updated") {
		t.Errorf("listen's report:\n%s", out.String())
	}
}
