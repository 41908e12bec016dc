package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
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

// idempotencyKey is the request's Idempotency-Key where one is honoured (POST
// and PATCH), or "".
func idempotencyKey(r *http.Request) string {
	if r.Method != http.MethodPost && r.Method != http.MethodPatch {
		return ""
	}
	return r.Header.Get("Idempotency-Key")
}

// replayIdempotent claims the request's Idempotency-Key, or answers from the
// record that holds it: the kept answer, or 409 while it runs or when the key
// was used for another request. Where the store claims inside the request's
// transaction (store.TransactionalClaims), execute claims instead.
func (s *Server) replayIdempotent(c *call) error {
	key := idempotencyKey(c.r)
	if key == "" || s.claimsInTx {
		return nil
	}
	fp := fingerprint(c.r)
	rec, err := s.claimKey(c.r.Context(), key, fp)
	if err != nil || rec == nil {
		return err
	}
	return s.answerHeldKey(c, rec, fp)
}

// claimKey claims the request's key, or returns the record that holds it.
func (s *Server) claimKey(ctx context.Context, key string, fp []byte) (*store.IdempotencyRecord, error) {
	return s.cfg.Store.BeginIdempotent(ctx, apiKey(ctx).AccountID, key, fp, requestID(ctx), s.cfg.RequestTimeout+lockSlack)
}

// answerHeldKey answers a request whose key another request holds: the kept
// answer, or 409 while that request runs or when it was another request.
func (s *Server) answerHeldKey(c *call, rec *store.IdempotencyRecord, fp []byte) error {
	switch {
	case !bytes.Equal(rec.Fingerprint, fp):
		e := requestError(http.StatusConflict, gen.ErrorCodeIdempotencyKeyReused,
			"This Idempotency-Key was used with another request (method, path or body). Use a new key for a new request.")
		e.Param = "Idempotency-Key"
		return e
	case rec.Status == 0:
		e := withRetryAfter(requestError(http.StatusConflict, gen.ErrorCodeIdempotencyKeyInUse,
			"A request with this Idempotency-Key is still running. Retry once it has finished."), 1)
		e.Param = "Idempotency-Key"
		return e
	}
	w := c.w
	w.replayed = true
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Original-Request", rec.RequestID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Status)
	w.Write(rec.Body)
	return errAnswered
}

// errAnswered ends the pipeline for a request a step answered itself.
var errAnswered = errors.New("answered")

// execute runs the generated handler. A request with an Idempotency-Key runs in
// one store transaction with the keeping of its answer (and, where the store
// allows, the claim of its key): after a crash at any instant, the store holds
// both the effect and its answer, or neither, so a retry gets the original
// answer or a first run. The answer is held back until that transaction
// commits.
func (s *Server) execute(c *call) {
	key := idempotencyKey(c.r)
	if key == "" {
		s.api.ServeHTTP(c.w, c.r)
		return
	}
	ctx := c.r.Context()
	accountID := apiKey(ctx).AccountID
	held := &heldAnswer{recorder: c.w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil { // a 500 follows: the key must not stay locked
			s.releaseKey(c, accountID, key)
			panic(p)
		}
	}()
	errRejected := errors.New("the answer is not kept")
	var fp []byte
	var holder *store.IdempotencyRecord // another request's, which holds the key
	err := s.cfg.Store.Atomically(ctx, func(tx context.Context) error {
		if s.claimsInTx {
			var err error
			fp = fingerprint(c.r)
			if holder, err = s.claimKey(tx, key, fp); err != nil || holder != nil {
				return err
			}
		}
		s.api.ServeHTTP(held, c.r.WithContext(tx))
		if c.w.clientGone || !held.wroteHeader || !keeps(held.status) {
			return errRejected // undo whatever ran: a retry runs afresh
		}
		return s.cfg.Store.FinishIdempotent(tx, accountID, key, requestID(ctx), held.status, held.body.Bytes())
	})
	switch {
	case err == nil && holder != nil: // answered outside the transaction: a slow client must not hold the writer
		if err := s.answerHeldKey(c, holder, fp); !errors.Is(err, errAnswered) {
			s.writeError(c.w, c.r, err)
		}
	case c.w.clientGone:
		s.releaseKey(c, accountID, key)
	case err == nil || errors.Is(err, errRejected):
		if errors.Is(err, errRejected) {
			s.releaseKey(c, accountID, key)
		}
		c.w.WriteHeader(held.status)
		c.w.Write(held.body.Bytes())
	default: // nothing was kept, the effect included
		s.releaseKey(c, accountID, key)
		s.writeError(c.w, c.r, err)
	}
}

// releaseKey gives back a key whose answer is not kept, so a retry can run.
func (s *Server) releaseKey(c *call, accountID, key string) {
	ctx := c.r.Context()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second) // even past the request's deadline
	defer cancel()
	if err := s.cfg.Store.ReleaseIdempotent(bg, accountID, key, requestID(ctx)); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "release idempotency key", "request_id", requestID(ctx), "error", err)
	}
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

// heldAnswer keeps a handler's status and body until its transaction commits;
// headers go to the real answer as the handler sets them.
type heldAnswer struct {
	*recorder
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (h *heldAnswer) WriteHeader(status int) {
	if !h.wroteHeader {
		h.status, h.wroteHeader = status, true
	}
}

func (h *heldAnswer) Write(b []byte) (int, error) {
	h.wroteHeader = true
	return h.body.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (h *heldAnswer) Unwrap() http.ResponseWriter { return h.recorder }
