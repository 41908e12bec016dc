// Package poll waits, in tests, for a condition that another goroutine or
// process brings about: a server that starts, a webhook attempt that gets
// recorded, a metric that moves. It replaces sleeps standing in for
// synchronisation with a bounded wait that says what it waited for.
package poll

import (
	"testing"
	"time"
)

// interval is how long Until sleeps between two checks: short, since most
// conditions hold within milliseconds, but long enough that a check which
// makes a request does not flood the server it waits for.
const interval = 10 * time.Millisecond

// margin is kept before the test binary's own deadline (go test -timeout), so
// that a wait which cannot succeed fails with its own message instead of the
// binary's panic and goroutine dump.
const margin = time.Second

// Until calls cond until it reports done, checking every few milliseconds, and
// fails t (from the test's goroutine, as t.Fatal does) if it has not within
// the given time, or before the test binary's deadline if that comes first, or
// once the test's context is done. what says what the wait was for, such as
// "the revoked key to be refused"; state is cond's account of what it saw, and
// the failure message quotes the last one.
func Until(t testing.TB, within time.Duration, what string, cond func() (done bool, state string)) {
	t.Helper()
	start := time.Now()
	end := start.Add(within)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if binary, ok := d.Deadline(); ok && binary.Add(-margin).Before(end) {
			end = binary.Add(-margin)
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		done, state := cond()
		if done {
			return
		}
		if !time.Now().Before(end) {
			t.Fatalf("waited %s for %s; last seen: %s", time.Since(start).Round(time.Millisecond), what, state)
		}
		timer.Reset(min(interval, time.Until(end)))
		select {
		case <-timer.C:
		case <-t.Context().Done():
			t.Fatalf("the test ended while waiting for %s; last seen: %s", what, state)
		}
	}
}
