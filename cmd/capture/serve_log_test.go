package main

import (
	"errors"
	"strings"
	"testing"
)

// A warning is on stderr when the call that logged it returns, after every
// line logged before it.
func TestServeLoggerWritesWarningsAtOnce(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var out syncBuffer
		logger, stop := newServeLogger(&out, format)
		for i := range 100 {
			logger.Info("request", "n", i)
		}
		logger.With("part", "store").Warn("storage unreachable")
		got := out.String()
		if n := strings.Count(got, "request"); n != 100 {
			t.Errorf("%s: %d of the 100 info lines before the warning were written with it:\n%s", format, n, got)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, "storage unreachable") || !strings.Contains(last, "store") {
			t.Errorf("%s: the warning, with its attributes, should be the last line written, got %q", format, last)
		}
		stop()
	}
}

// Stopping the logger writes every line still in its buffer.
func TestServeLoggerStopWritesTheRest(t *testing.T) {
	var out syncBuffer
	logger, stop := newServeLogger(&out, "json")
	for i := range 1000 {
		logger.Info("request", "n", i)
	}
	stop()
	if n := strings.Count(out.String(), `"msg":"request"`); n != 1000 {
		t.Errorf("%d of 1000 lines written after stop", n)
	}
}

// failingOnce fails its first write, as a full disk would, then writes.
type failingOnce struct {
	syncBuffer
	failed bool
}

func (f *failingOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("no space left on device")
	}
	return f.syncBuffer.Write(p)
}

// A write that fails loses its lines, not the log: the lines after it are
// written.
func TestServeLoggerWritesOnAfterAFailedWrite(t *testing.T) {
	out := &failingOnce{}
	logger, stop := newServeLogger(out, "json")
	defer stop()
	logger.Warn("lost with the failed write")
	logger.Warn("disk has room again")
	if got := out.String(); !strings.Contains(got, "disk has room again") {
		t.Errorf("after one failed write the log wrote nothing more: %q", got)
	}
}

// Lines logged after the logger stopped are written at once.
func TestServeLoggerWritesLinesAfterStop(t *testing.T) {
	var out syncBuffer
	logger, stop := newServeLogger(&out, "json")
	logger.Info("before")
	stop()
	logger.Info("purged expired idempotency keys")
	if got := out.String(); !strings.Contains(got, "purged expired idempotency keys") {
		t.Errorf("an info line after stop was not written: %q", got)
	}
}
