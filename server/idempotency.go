package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"time"

	"github.com/captureapi/capture/gen"
)

// lockSlack is how long past its deadline a request keeps its Idempotency-Key
// locked: if its process dies, a retry may run once the lock runs out.
const lockSlack = 5 * time.Second

// keeps reports whether an answer is kept for replays: only answers of requests
// that ran. Validation (400), authentication (401) and rate-limit (429) rejections
// did not run, and 5xx answers are failures a retry should get past.
func keeps(status int) bool {
	return status < 500 && status != 400 && status != 401 && status != 429
}

// serveIdempotent runs a POST or PATCH that carries an Idempotency-Key: the first
// request with the key runs and its answer is kept; later ones get that answer.
func (s *Server) serveIdempotent(w *recorder, r *http.Request, key string) {
	ctx := r.Context()
	accountID := apiKey(ctx).AccountID
	fingerprint := fingerprint(r)
	rec, err := s.cfg.Store.BeginIdempotent(ctx, accountID, key, fingerprint, requestID(ctx), s.cfg.RequestTimeout+lockSlack)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rec != nil {
		switch {
		case !bytes.Equal(rec.Fingerprint, fingerprint):
			e := requestError(http.StatusConflict, gen.ErrorCodeIdempotencyKeyReused,
				"This Idempotency-Key was used with another request (method, path or body). Use a new key for a new request.")
			e.Param = "Idempotency-Key"
			s.writeError(w, r, e)
		case rec.Status == 0:
			e := withRetryAfter(requestError(http.StatusConflict, gen.ErrorCodeIdempotencyKeyInUse,
				"A request with this Idempotency-Key is still running. Retry once it has finished."), 1)
			e.Param = "Idempotency-Key"
			s.writeError(w, r, e)
		default:
			w.replayed = true
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Original-Request", rec.RequestID)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Status)
			w.Write(rec.Body)
		}
		return
	}

	tee := &teeWriter{recorder: w}
	held := true // until the answer is kept, or the key is given back
	defer func() {
		// Whatever happened (a panic included), a key whose answer is not kept must
		// not stay locked.
		if !held {
			return
		}
		bg, cancel := bookkeeping(ctx)
		defer cancel()
		if err := s.cfg.Store.ReleaseIdempotent(bg, accountID, key, requestID(ctx)); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "release idempotency key", "request_id", requestID(ctx), "error", err)
		}
	}()
	s.api.ServeHTTP(tee, r)
	if !keeps(w.status) {
		return
	}
	// The request ran and its effect is stored: from here the key is never given
	// back, or a retry would run it twice. If keeping the answer fails, the key
	// stays locked until its lock runs out.
	held = false
	bg, cancel := bookkeeping(ctx)
	defer cancel()
	if err := s.cfg.Store.FinishIdempotent(bg, accountID, key, requestID(ctx), w.status, tee.body.Bytes()); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "keep idempotent answer", "request_id", requestID(ctx), "error", err)
	}
}

// bookkeeping is the context for recording a request's outcome: free of the
// request's deadline, since it must happen even when the request ran out of time.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// fingerprint identifies a request for Idempotency-Key reuse: the key's role,
// method, path and body. The role is part of it because an answer depends on it
// (hidden prospects): a replay must never show a standard key what only an admin
// key was answered.
func fingerprint(r *http.Request) []byte {
	h := sha256.New()
	role := ""
	if k := apiKey(r.Context()); k != nil {
		role = string(k.Role)
	}
	io.WriteString(h, role+" "+r.Method+" "+r.URL.Path+"\n")
	if r.GetBody != nil {
		if b, err := r.GetBody(); err == nil {
			io.Copy(h, b)
		}
	}
	return h.Sum(nil)
}

// teeWriter passes an answer through and keeps a copy of its body.
type teeWriter struct {
	*recorder
	body bytes.Buffer
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.body.Write(b)
	return t.recorder.Write(b)
}
