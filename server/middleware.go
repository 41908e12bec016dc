package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/routers"
	"github.com/oklog/ulid/v2"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

type (
	requestIDKey  struct{}
	keyContextKey struct{}
)

func newRequestID() string { return "req_" + strings.ToLower(ulid.Make().String()) }

// requestID is the id of the request being served ("" outside a request).
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// apiKey is the authenticated key of the request.
func apiKey(ctx context.Context) *store.APIKey {
	k, _ := ctx.Value(keyContextKey{}).(*store.APIKey)
	return k
}

// recorder remembers what was answered, for the request log and for panics that
// happen after the handler started writing.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	route       string
	keyID       string
	apiErr      *Error
	replayed    bool // an Idempotency-Key replay
}

func (w *recorder) WriteHeader(status int) {
	if w.wroteHeader {
		return
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

// negotiate accepts a missing Accept and any Accept under which JSON is
// acceptable: the most specific media range that matches application/json
// decides, so "application/json;q=0, */*" refuses JSON.
func negotiate(r *http.Request) error {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return nil
	}
	best, q := 0, 0.0 // specificity of the best matching range, and its q
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			specificity := 0
			switch mt {
			case "*/*":
				specificity = 1
			case "application/*":
				specificity = 2
			case "application/json":
				specificity = 3
			}
			if specificity <= best {
				continue
			}
			best, q = specificity, 1
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					q = 0
				}
			}
		}
	}
	if q > 0 {
		return nil
	}
	return requestError(http.StatusNotAcceptable, gen.ErrorCodeNotAcceptable,
		"This API answers in JSON only; send Accept: application/json (or omit Accept).")
}

// authenticate finds the request's key: Bearer, or Basic with the key as user name.
func (s *Server) authenticate(r *http.Request) (*store.APIKey, error) {
	h := r.Header.Get("Authorization")
	var secret string
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	switch {
	case h == "":
		return nil, unauthorized(gen.ErrorCodeApiKeyMissing,
			"No API key provided. Send it as Authorization: Bearer sk_… (or HTTP Basic with the key as user name).")
	case strings.EqualFold(scheme, "Bearer") && value == "":
		return nil, unauthorized(gen.ErrorCodeApiKeyMissing, "The Authorization header has no key after Bearer.")
	case strings.EqualFold(scheme, "Bearer"):
		secret = value
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "The Basic credentials are not valid base64.")
		}
		secret, _, _ = strings.Cut(string(raw), ":")
	default:
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid,
			"Unsupported Authorization scheme. Send Authorization: Bearer sk_….")
	}
	if !strings.HasPrefix(secret, "sk_") {
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "Invalid API key: keys start with sk_.")
	}
	key, err := s.lookupKey(r.Context(), secret)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "Invalid API key provided: "+redact(secret)+".")
	case err != nil:
		return nil, err
	case key.Revoked:
		return nil, unauthorized(gen.ErrorCodeApiKeyRevoked, "This API key ("+redact(secret)+") has been revoked.")
	}
	return key, nil
}

// lookupKey finds a key by its secret through a short-lived cache of lookups, so
// that a busy key (or a flood of wrong ones) costs no database read per request.
// A revocation reaches a running server within KeyCacheTTL.
func (s *Server) lookupKey(ctx context.Context, secret string) (*store.APIKey, error) {
	if s.keys == nil {
		return s.cfg.Store.KeyBySecret(ctx, secret)
	}
	sum := sha256.Sum256([]byte(secret))
	if k, ok := s.keys.Get(sum); ok {
		if k == nil {
			return nil, store.ErrNotFound
		}
		return k, nil
	}
	k, err := s.cfg.Store.KeyBySecret(ctx, secret)
	switch {
	case err == nil:
		s.keys.Add(sum, k)
	case errors.Is(err, store.ErrNotFound):
		s.keys.Add(sum, nil)
	}
	return k, err
}

// redact shows enough of a secret to recognise it, never enough to use it.
func redact(secret string) string {
	if len(secret) <= 7 {
		return "sk_…"
	}
	return secret[:3] + "…" + secret[len(secret)-4:]
}

// unknownQueryParameter rejects query parameters the operation does not define,
// as unknown body fields are: a misspelt filter must not silently match everything.
func unknownQueryParameter(r *http.Request, route *routers.Route) error {
	for name := range r.URL.Query() {
		if route.Operation.Parameters.GetByInAndName("query", name) == nil &&
			route.PathItem.Parameters.GetByInAndName("query", name) == nil {
			return invalid(gen.ErrorCodeParameterUnknown, name, "Received unknown query parameter: %s.", name)
		}
	}
	return nil
}

// readBody reads a request body up to MaxBodyBytes so that validation and the
// handler share one copy, and rejects a larger one before reading it all.
func readBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	tooLarge := invalid(gen.ErrorCodeBodyTooLarge, "", "The body is larger than %d bytes.", MaxBodyBytes)
	if r.ContentLength > MaxBodyBytes {
		return tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body.Close()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			return err // 504: the body did not arrive within the deadline
		}
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body could not be read: %v.", err)
	}
	if len(data) > MaxBodyBytes {
		return tooLarge
	}
	// kin-openapi decodes the first JSON value and ignores what follows it; a
	// body is one JSON value or it is invalid.
	if len(data) > 0 && !json.Valid(data) && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var v any
		err := json.Unmarshal(data, &v)
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not valid JSON: %v.", err)
	}
	r.ContentLength = int64(len(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.Body, _ = r.GetBody()
	if len(data) == 0 {
		r.Body = http.NoBody
	}
	return nil
}
