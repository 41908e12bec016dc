package server

import (
	"context"
	"net/http"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/captureapi/capture/server/store"
)

// recorderKey is the context key of the request's recorder: one context value
// carries the request id and, once authenticated, the key.
type recorderKey struct{}

// withRecorder is ctx carrying rec, and so its request id and key.
func withRecorder(ctx context.Context, rec *recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

// newRequestID is "req_" and a new ULID in lower case, built in place: one
// allocation, where String, ToLower and + made three.
func newRequestID() string {
	var b [len("req_") + ulid.EncodedSize]byte
	copy(b[:], "req_")
	_ = ulid.Make().MarshalTextTo(b[len("req_"):]) // the buffer has the size it needs
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b[:])
}

// requestID is the id of the request being served ("" outside a request).
func requestID(ctx context.Context) string {
	if rec, _ := ctx.Value(recorderKey{}).(*recorder); rec != nil {
		return rec.requestID
	}
	return ""
}

// apiKey is the authenticated key of the request (nil before authentication,
// and for the probes).
func apiKey(ctx context.Context) *store.APIKey {
	if rec, _ := ctx.Value(recorderKey{}).(*recorder); rec != nil {
		return rec.key
	}
	return nil
}

// statusClientClosed is the status recorded (never sent) for a request whose
// client went away before its answer, as nginx's 499: not a server error.
const statusClientClosed = 499

// recorder remembers who asked and what was answered, for the handlers (through
// the request's context), the request log, and panics that happen after the
// handler started writing.
type recorder struct {
	http.ResponseWriter
	requestID   string
	status      int
	bytes       int64
	wroteHeader bool
	route       string
	key         *store.APIKey // set by authenticate
	apiErr      *Error
	replayed    bool // an Idempotency-Key replay
	bodyPending bool // the request has a body not yet read to its end
	clientGone  bool // the client went away before its answer
}

func newRecorder(w http.ResponseWriter, r *http.Request) *recorder {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK, requestID: newRequestID(),
		bodyPending: r.Body != nil && r.Body != http.NoBody}
	rec.Header().Set("Request-Id", rec.requestID)
	return rec
}

// WriteHeader sends the status. An answer given while the request's body is
// still unread closes the connection instead of draining the body first: a
// client that declared a body and never sends it cannot hold the answer back,
// nor the connection open.
func (w *recorder) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	if w.bodyPending {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Now())
	}
	w.status, w.wroteHeader = status, true
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recordError notes the error answered, for the log and the metrics; status
// statusClientClosed marks a request whose client went away.
func (w *recorder) recordError(e *Error, status int) {
	w.apiErr = e
	if status == statusClientClosed {
		w.status, w.clientGone = status, true
	}
}
