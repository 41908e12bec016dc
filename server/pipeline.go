package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/routers"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// errDeadline is the cause of a request's context when its deadline passed, as
// opposed to its client going away.
var errDeadline = errors.New("request deadline passed")

// call is one request on its way through the pipeline: what it matched, and
// what the steps so far learnt about it.
type call struct {
	w *recorder
	r *http.Request
	*operation
	claim *keyClaim // the Idempotency-Key it holds, if any
	batch *rawBatch // a batch's body, decoded once for the steps before the handler (batch.go)
}

// ServeHTTP answers one request. Every request, whatever its bytes, takes the
// steps below in this order; each step lives in the file named after it, and
// the first that fails answers with the error object. A request net/http
// refuses before it reaches ServeHTTP is answered by serveRefused, below.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := newRecorder(w, r)
	// The deadline bounds the whole exchange, authenticated or not: the body must
	// arrive within it and the answer be written soon after it.
	deadline := start.Add(s.cfg.RequestTimeout)
	ctx := withRecorder(r.Context(), rec)
	// The store records the request in the events of the changes it makes.
	ctx = store.WithRequest(ctx, store.RequestInfo{ID: rec.requestID, IdempotencyKey: idempotencyKey(r),
		IP: clientIP(r), UserAgent: r.UserAgent()})
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, errDeadline)
	defer cancel()
	r = r.WithContext(ctx)
	rc := http.NewResponseController(rec)
	_ = rc.SetWriteDeadline(deadline.Add(writeSlack)) // (test recorders cannot: left as they are)
	if rec.bodyPending {
		_ = rc.SetReadDeadline(deadline)
	}
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.recoverPanic(rec, r, p)
		}
		s.record(r, rec, start)
		// A request whose client went away gets no answer; net/http must not send
		// its own empty 200 in its place (to a client that only half-closed).
		if p == http.ErrAbortHandler || rec.clientGone && !rec.wroteHeader {
			panic(http.ErrAbortHandler)
		}
	}()

	if faultyFraming(r) {
		// Where this body ends depends on which header one believes: whatever
		// follows on the connection may be a smuggled request. Answer, then close.
		rec.Header().Set("Connection", "close")
		s.writeError(rec, r, invalid(gen.ErrorCodeRequestMalformed, "",
			"Where the request's body ends is ambiguous: it has Transfer-Encoding with Content-Length, or in HTTP/1.0. Send Content-Length alone, or Transfer-Encoding: chunked alone in HTTP/1.1; the connection is closed."))
		return
	}
	if err := checkTarget(r); err != nil { // route.go: 404 for paths no route can have, 400 for a query that does not parse
		s.writeError(rec, r, err)
		return
	}
	op := s.routes.find(asGet(r))
	if op == nil { // not an API operation: a page, or nothing
		if h, pattern := s.other.Handler(r); pattern != "" {
			rec.route = pattern
			h.ServeHTTP(rec, r)
			return
		}
		s.writeError(rec, r, s.routeError(r)) // route.go: 404, or 405 with Allow
		return
	}
	rec.route = op.route.Path
	c := &call{w: rec, r: r, operation: op}
	if isAPI(op.route) {
		release, err := s.inFlight.acquire() // inflight.go: 503 overloaded
		if err != nil {
			s.writeError(rec, r, err)
			return
		}
		defer release()
	}
	if isPublicForm(op) { // form_submit.go: no key, CORS, form bodies, HTML answers
		s.serveForm(c)
		return
	}
	for _, step := range []func(*call) error{
		s.negotiate,        // negotiate.go: 406
		s.checkMaintenance, // maintenance.go: 503 maintenance
		s.authenticate,     // authenticate.go: 401
		s.rateLimit,        // ratelimit.go: 429
		s.authorize,        // authenticate.go: 403 for a standard key on an admin-only operation
		s.readBody,         // body.go: 400, 504
		s.checkQuery,       // query.go: 400 parameter_unknown
		s.validateRequest,  // validate.go: 400 naming the field
		s.checkBatch,       // batch.go: a batch's items checked before execute's transaction
		s.holdKey,          // idempotency.go: the Idempotency-Key claimed, or its claim handed to execute's transaction; replays, 409
	} {
		if err := step(c); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.execute(c) // below: the generated handler; with a key, in one transaction with its kept answer
}

// errAnswered ends the pipeline for a request a step answered itself.
var errAnswered = errors.New("answered")

// fail answers err as the error object, unless it is errAnswered.
func (s *Server) fail(c *call, err error) {
	if !errors.Is(err, errAnswered) {
		s.writeError(c.w, c.r, err)
	}
}

// execute runs the generated handler. A request that holds an Idempotency-Key
// runs in one store transaction with the keeping of its answer, and with the
// claim of its key where holdKey handed the claim to it: after a crash at any
// instant, the store holds both the effect and its answer, or neither, so a
// retry gets the original answer or a first run. The answer is held back until
// that transaction commits.
func (s *Server) execute(c *call) {
	claim := c.claim
	if claim == nil {
		s.api.ServeHTTP(c.w, c.r)
		return
	}
	held := &heldAnswer{recorder: c.w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil { // a 500 follows: the key must not stay locked
			s.releaseKey(c)
			panic(p)
		}
	}()
	var holder *store.IdempotencyRecord // another request's, which holds the key
	err := s.cfg.Store.Atomically(c.r.Context(), func(tx context.Context) error {
		if claim.inTx {
			var err error
			if holder, err = s.claimKey(tx, claim); err != nil || holder != nil {
				return err
			}
		}
		s.api.ServeHTTP(held, c.r.WithContext(tx))
		return s.keepAnswer(tx, c, held) // idempotency.go: or errNotKept, which undoes the effect
	})
	// A claim made in the transaction went with its rollback; one committed
	// on its own is given back.
	release := func() {
		if !claim.inTx {
			s.releaseKey(c)
		}
	}
	switch {
	case err == nil && holder != nil: // answered outside the transaction: a slow client must not hold the writer
		s.fail(c, s.answerHeldKey(c, holder, claim.fp))
	case c.w.clientGone:
		release()
	case err == nil || errors.Is(err, errNotKept):
		if err != nil {
			release()
		}
		c.w.WriteHeader(held.status)
		c.w.Write(held.body.Bytes())
	default: // nothing was kept, the effect included
		release()
		s.writeError(c.w, c.r, err)
	}
}

// record counts the answered request in the metrics and writes its log line.
func (s *Server) record(r *http.Request, rec *recorder, start time.Time) {
	latency := time.Since(start)
	s.metrics.observe(r, rec, latency)
	s.logRequest(r, rec, latency)
}

// serveRefused answers, on w, a request that net/http refused before ServeHTTP
// could see it (httpserver.go's listener recognises net/http's own answer,
// whose status line was statusLine): 400 request_malformed, written, logged
// and counted as every other error. Nothing of the request is known, its
// method included.
func (s *Server) serveRefused(w http.ResponseWriter, statusLine string) {
	start := time.Now()
	reason := strings.TrimPrefix(statusLine, "HTTP/1.1 ")
	if len(reason) > 120 {
		reason = reason[:120] + "…"
	}
	r := &http.Request{URL: &url.URL{}, Header: http.Header{}, Body: http.NoBody}
	rec := newRecorder(w, r)
	r = r.WithContext(withRecorder(context.Background(), rec))
	s.writeError(rec, r, invalid(gen.ErrorCodeRequestMalformed, "",
		"The request could not be read as HTTP/1.1 (%s). Check the request line and headers; headers may be at most %d bytes.",
		reason, MaxHeaderBytes))
	s.record(r, rec, start)
}

// writeSlack is how long past its deadline an answer may take to write: a
// client that does not read it loses its connection then.
const writeSlack = 5 * time.Second

// isAPI tells the /v1 operations from the probes, which answer whatever the
// Accept, the maintenance flag or the load.
func isAPI(route *routers.Route) bool { return strings.HasPrefix(route.Path, "/v1/") }

// recoverPanic answers 500 with the request id; the stack goes to the log only.
func (s *Server) recoverPanic(w *recorder, r *http.Request, p any) {
	if p == http.ErrAbortHandler {
		panic(p)
	}
	s.cfg.Logger.ErrorContext(r.Context(), "panic", "request_id", requestID(r.Context()),
		"panic", p, "stack", string(debug.Stack()))
	if w.wroteHeader {
		return // too late for an error object; the client sees a cut-short body
	}
	s.writeError(w, r, &Error{Status: http.StatusInternalServerError, Type: gen.ErrorTypeApiError,
		Code: gen.ErrorCodeInternalError, Message: "Something went wrong on our side. Try again later; if it persists, contact support with the request id."})
}

// clientGone reports whether the request's client went away before its answer,
// as far as the server can tell: its context ended before the request's own
// deadline, which net/http does when the connection's reader fails or sees the
// end of the client's input. (A body read that runs into the deadline ends the
// context too, as the reader fails; it is a timeout, not a disconnect.)
func clientGone(ctx context.Context) bool {
	return ctx.Err() != nil && !pastDeadline(ctx)
}

// pastDeadline reports whether the request's deadline has passed.
func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return errors.Is(context.Cause(ctx), errDeadline) || ok && !time.Now().Before(d)
}
