package poll

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fatalTB records the failure Until reports and ends the goroutine, as t.Fatalf does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Until with a recording TB on a goroutine of its own and returns the failure, if any.
func run(t *testing.T, within time.Duration, cond func() (bool, string)) string {
	f := &fatalTB{TB: t}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		Until(f, within, "the counter to reach 3", cond)
	}()
	<-ended
	return f.msg
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int64
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	msg := run(t, 10*time.Second, func() (bool, string) {
		return n.Load() == 3, fmt.Sprintf("counter at %d", n.Load())
	})
	if msg != "" {
		t.Fatalf("failed although the condition came to hold: %s", msg)
	}
}

func TestUntilSaysWhatItWaitedForAndWhatItLastSaw(t *testing.T) {
	checks := 0
	start := time.Now()
	msg := run(t, 100*time.Millisecond, func() (bool, string) {
		checks++
		return false, fmt.Sprintf("counter at %d", checks)
	})
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %v, want about 100ms", elapsed)
	}
	if checks < 2 {
		t.Errorf("checked %d times in 100ms, want repeated checks", checks)
	}
	want := fmt.Sprintf("for the counter to reach 3; last seen: counter at %d", checks)
	if !strings.HasPrefix(msg, "waited ") || !strings.HasSuffix(msg, want) {
		t.Errorf("failure message %q, want it to end %q", msg, want)
	}
}
