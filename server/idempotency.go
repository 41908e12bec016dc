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
// locked where the claim commits on its own (a store without
// store.TransactionalClaims): if its process dies, a retry may run once the
// lock runs out.
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

// keyClaim is a request's hold on its Idempotency-Key, from holdKey to the end
// of execute.
type keyClaim struct {
	accountID, key string
	fp             []byte // the request's fingerprint
	// inTx: the claim is the first write of execute's transaction, not made yet
	// (a store with TransactionalClaims); otherwise holdKey made it.
	inTx bool
}

// holdKey holds the request's Idempotency-Key for it, or answers from the
// record that holds it. Where the claim is made depends on the store, and is
// decided here alone: a store that claims inside the write transaction
// (store.TransactionalClaims: both engines) is handed the claim for execute's
// transaction, so that the claim, the effect and the kept answer are one
// commit; any other store commits the claim now, on its own. Either way the
// request then runs holding the key, or is answered as answerHeldKey says.
func (s *Server) holdKey(c *call) error {
	key := idempotencyKey(c.r)
	if key == "" {
		return nil
	}
	ctx := c.r.Context()
	claim := &keyClaim{accountID: apiKey(ctx).AccountID, key: key, fp: fingerprint(c.r), inTx: s.claimsInTx}
	if !claim.inTx {
		holder, err := s.claimKey(ctx, claim)
		if err != nil {
			return err
		}
		if holder != nil {
			return s.answerHeldKey(c, holder, claim.fp)
		}
	}
	c.claim = claim
	return nil
}

// claimKey claims the request's key, or returns the record that holds it.
func (s *Server) claimKey(ctx context.Context, claim *keyClaim) (*store.IdempotencyRecord, error) {
	return s.cfg.Store.BeginIdempotent(ctx, claim.accountID, claim.key, claim.fp, requestID(ctx), s.cfg.RequestTimeout+lockSlack)
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
	body := rec.Body
	if secretAnswers[c.route.Operation.OperationID] {
		var err error
		if body, err = s.cfg.Webhooks.OpenSecretAnswer(answerScope(apiKey(c.r.Context()).AccountID, idempotencyKey(c.r)), rec.Body); err != nil {
			// Sealed with another secret key (the server's changed): the secret
			// cannot be shown again, and a retry would meet the same answer.
			s.cfg.Logger.WarnContext(c.r.Context(), "a kept answer cannot be unsealed", "request_id", requestID(c.r.Context()), "original_request", rec.RequestID, "error", err)
			e := requestError(http.StatusConflict, gen.ErrorCodeIdempotencyAnswerUnreadable,
				"The answer kept for this Idempotency-Key holds a webhook signing secret sealed with another secret key than this server's, so it cannot be shown again. The request did run: list the endpoints with GET /v1/webhook_endpoints, or send a new Idempotency-Key to make another.")
			e.Param = "Idempotency-Key"
			return e
		}
	}
	w := c.w
	w.replayed = true
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Original-Request", rec.RequestID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Status)
	w.Write(body)
	return errAnswered
}

// errNotKept undoes a transaction whose answer is not kept for replays: a
// retry runs afresh.
var errNotKept = errors.New("the answer is not kept")

// keepAnswer keeps the handler's answer for replays of the key, in the
// transaction of its effect; an answer that is not kept (keeps) undoes it.
func (s *Server) keepAnswer(tx context.Context, c *call, held *heldAnswer) error {
	if c.w.clientGone || !held.wroteHeader || !keeps(held.status) {
		return errNotKept
	}
	body := held.body.Bytes()
	if secretAnswers[c.route.Operation.OperationID] {
		body = s.cfg.Webhooks.SealSecretAnswer(answerScope(c.claim.accountID, c.claim.key), body)
	}
	return s.cfg.Store.FinishIdempotent(tx, c.claim.accountID, c.claim.key, requestID(tx), held.status, body)
}

// secretAnswers are the operations whose answer carries a webhook signing
// secret: it is kept for replays only sealed, like the secret itself, so that
// a copy of the database alone does not give it.
var secretAnswers = map[string]bool{"createWebhookEndpoint": true}

// answerScope binds a sealed answer to its account and key: it opens for
// their replays only.
func answerScope(accountID, key string) string {
	return "idempotency " + accountID + " " + key
}

// releaseKey gives back a key whose answer is not kept, so a retry can run.
func (s *Server) releaseKey(c *call) {
	ctx := c.r.Context()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second) // even past the request's deadline
	defer cancel()
	if err := s.cfg.Store.ReleaseIdempotent(bg, c.claim.accountID, c.claim.key, requestID(ctx)); err != nil {
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
