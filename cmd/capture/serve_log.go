package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"
)

// logFlushInterval is the longest an info line, such as a request's, waits in
// the log buffer before it is written to stderr.
const logFlushInterval = 10 * time.Millisecond

// newServeLogger is the server's logger, writing lines to w in format ("json" or
// "text"). Lines are gathered in a buffer and written together at most
// logFlushInterval later: one write for many requests' lines instead of a
// system call per request, which was 3.5 to 6.6 % of the CPU of an error
// answer. A line at warn or above is written at once, with every line before
// it; stop writes whatever is left, and every line after it is written at
// once. A crash (kill -9, a fatal runtime error) loses at most the last
// logFlushInterval of info lines.
func newServeLogger(w io.Writer, format string) (logger *slog.Logger, stop func()) {
	// The buffer's own periodic flush would wake an idle server a hundred times
	// a second: flushing schedules a flush when a line is buffered instead, and
	// the buffer's ticker is only a backstop.
	buffered := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(lossyWriter{w}), FlushInterval: time.Hour}
	var h slog.Handler = slog.NewJSONHandler(buffered, nil)
	if format == "text" {
		h = slog.NewTextHandler(buffered, nil)
	}
	f := flushing{Handler: h, flush: buffered.Sync, stopped: new(atomic.Bool), pending: new(atomic.Bool)}
	return slog.New(f), func() {
		f.stopped.Store(true)
		_ = buffered.Stop()
	}
}

// lossyWriter reports every write as done. A failed write (a full disk) loses
// its lines, as an unbuffered write lost its one line, but must not stop the
// log for good, as the buffer's bufio.Writer would after its first error. It
// has no Sync: the periodic flush writes the buffer and never fsyncs stderr.
type lossyWriter struct{ w io.Writer }

func (l lossyWriter) Write(p []byte) (int, error) {
	_, _ = l.w.Write(p)
	return len(p), nil
}

// flushing writes a record at warn or above, and every buffered line before it,
// before Handle returns: an operator sees a failure when it happens, and a
// crash that follows cannot take its cause with it. Once the logger is stopped,
// it writes every record at once: nothing flushes the buffer any more.
// Any other line is written within logFlushInterval: the first line into an
// empty buffer schedules its flush, which takes every line buffered by then.
type flushing struct {
	slog.Handler
	flush   func() error
	stopped *atomic.Bool
	pending *atomic.Bool // a flush is scheduled
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	switch {
	case r.Level >= slog.LevelWarn || h.stopped.Load():
		_ = h.flush()
	case h.pending.CompareAndSwap(false, true):
		time.AfterFunc(logFlushInterval, func() {
			h.pending.Store(false) // a line logged from now on schedules the next flush
			_ = h.flush()
		})
	}
	return err
}

func (h flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{Handler: h.Handler.WithAttrs(attrs), flush: h.flush, stopped: h.stopped, pending: h.pending}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: h.Handler.WithGroup(name), flush: h.flush, stopped: h.stopped, pending: h.pending}
}
