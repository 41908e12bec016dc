package client

import (
	"net/http"
	"testing"
	"time"
)

func TestWaitIsFullJitterCapped(t *testing.T) {
	c := New("sk_test", WithBackoff(100*time.Millisecond, time.Second))
	for _, tc := range []struct {
		retry int
		limit time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {80, time.Second}} {
		var most time.Duration
		for range 500 {
			d := c.wait(tc.retry, 0)
			if d < 0 || d > tc.limit {
				t.Fatalf("retry %d waited %v, outside [0, %v]", tc.retry, d, tc.limit)
			}
			most = max(most, d)
		}
		// With full jitter the waits spread over the whole range.
		if most < tc.limit/2 {
			t.Fatalf("retry %d: 500 waits all below %v; jitter does not use the range up to %v", tc.retry, most, tc.limit)
		}
	}
	if d := c.wait(1, 3*time.Second); d != time.Second {
		t.Fatalf("Retry-After 3s with a 1s cap waited %v", d)
	}
	if d := c.wait(1, 300*time.Millisecond); d != 300*time.Millisecond {
		t.Fatalf("Retry-After 300ms waited %v", d)
	}
	if d := New("sk_test", WithBackoff(0, 0)).wait(3, 0); d != 0 {
		t.Fatalf("a zero backoff waited %v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"1":    time.Second,
		" 60 ": time.Minute,
		"0":    0,
		"-3":   0,
		"soon": 0,
		"":     0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
