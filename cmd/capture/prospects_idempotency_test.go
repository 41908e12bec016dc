package main

import (
	"testing"

	"github.com/captureapi/capture/internal/apitest"
)

func TestProspectsCLIIdempotencyKeyMakesARepeatSafe(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	args := []string{"create", "--email", "ada@example.com", "--idempotency-key", "signup-4711", "--url", s.URL, "--api-key", s.StandardKey}
	first, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("first create: exit %d, %s", code, errOut)
	}
	again, errOut, code := cli(t, args...)
	if code != 0 || again != first {
		t.Fatalf("repeating the command with the same key should print the same prospect; exit %d, stderr %s\nfirst:\n%s\nagain:\n%s", code, errOut, first, again)
	}
	_, errOut, code = cli(t, "create", "--email", "bob@example.com", "--idempotency-key", "signup-4711", "--url", s.URL, "--api-key", s.StandardKey)
	if f := errorFields(t, errOut); code != 1 || f["code"] != "idempotency_key_reused" || f["status"] != "409" {
		t.Fatalf("the same key with another body: want exit 1 idempotency_key_reused, got exit %d, stderr\n%s", code, errOut)
	}
}
