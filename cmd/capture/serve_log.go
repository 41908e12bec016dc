package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"go.uber.org/zap/zapcore"
)

// logFlushInterval is the longest an info line, such as a request's, waits in
// the log buffer before it is written to stderr.
const logFlushInterval = 10 * time.Millisecond

// newServeLogger is the server's logger, writing lines to w in format ("json" or
// "text"). Lines are gathered in a buffer and written together at most
// logFlushInterval later: one write for many requests' lines instead of a
// system call per request, which was about a tenth of the CPU of an error
// answer. A line at warn or above is written at once, with every line before
// it, and stop writes whatever is left; a kill -9 loses at most the last
// logFlushInterval of info lines.
func newServeLogger(w io.Writer, format string) (logger *slog.Logger, stop func()) {
	// The anonymous struct hides *os.File's Sync: the periodic flush must write
	// the buffer, not fsync stderr.
	buffered := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(struct{ io.Writer }{w}), FlushInterval: logFlushInterval}
	var h slog.Handler = slog.NewJSONHandler(buffered, nil)
	if format == "text" {
		h = slog.NewTextHandler(buffered, nil)
	}
	return slog.New(flushOnWarn{Handler: h, flush: buffered.Sync}), func() { _ = buffered.Stop() }
}

// flushOnWarn writes a record at warn or above, and every buffered line before
// it, before Handle returns: an operator sees a failure when it happens, and a
// crash that follows cannot take its cause with it.
type flushOnWarn struct {
	slog.Handler
	flush func() error
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.flush()
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithAttrs(attrs), flush: h.flush}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithGroup(name), flush: h.flush}
}
