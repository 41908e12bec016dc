package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
	"github.com/captureapi/capture/server/store"
)

// Error is an API error: everything that goes wrong ends as one, and writeError
// turns it into the JSON error object of openapi.yaml.
type Error struct {
	Status     int
	Type       gen.ErrorType
	Code       gen.ErrorCode
	Message    string
	Param      string
	ExistingID string
	// Header holds the headers an error status requires (Allow, Retry-After, WWW-Authenticate).
	Header http.Header
	// Cause is logged, never sent.
	Cause error
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (e *Error) Unwrap() error { return e.Cause }

// invalid is a 400 invalid_request_error about param (which may be empty).
func invalid(code gen.ErrorCode, param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: gen.ErrorTypeInvalidRequestError, Code: code, Param: param,
		Message: fmt.Sprintf(format, args...)}
}

// requestError is an invalid_request_error with another status (402, 403, 404, …).
func requestError(status int, code gen.ErrorCode, format string, args ...any) *Error {
	return &Error{Status: status, Type: gen.ErrorTypeInvalidRequestError, Code: code, Message: fmt.Sprintf(format, args...)}
}

func unauthorized(code gen.ErrorCode, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: gen.ErrorTypeAuthenticationError, Code: code, Message: msg,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="Capture", Basic realm="Capture"`}}}
}

func withRetryAfter(e *Error, seconds int) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set("Retry-After", strconv.Itoa(max(1, seconds)))
	return e
}

// asAPIError maps any error to the API error it means; unknown errors are a 500.
func asAPIError(err error) *Error {
	var e *Error
	var exists *store.ExistsError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.Is(err, os.ErrDeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Type: gen.ErrorTypeApiError, Code: gen.ErrorCodeTimeout,
			Message: "The request took longer than its deadline and was cancelled. Try again later.", Cause: err}
	case errors.Is(err, store.ErrUnavailable):
		return withRetryAfter(&Error{Status: http.StatusServiceUnavailable, Type: gen.ErrorTypeApiError,
			Code: gen.ErrorCodeStorageUnavailable, Message: "Storage is unreachable. Try again shortly.", Cause: err}, 1)
	case errors.Is(err, store.ErrPlanLimit):
		return requestError(http.StatusPaymentRequired, gen.ErrorCodePlanLimitReached,
			"The account has as many prospects as its plan allows. Delete prospects or raise the plan's limit.")
	case errors.Is(err, store.ErrSuppressed):
		e := requestError(http.StatusConflict, gen.ErrorCodeEmailSuppressed,
			"This email was erased from the account at the person's request and is suppressed: it cannot be captured again until an admin key lifts it (POST /v1/suppressions/lift).")
		e.Param = "email"
		return e
	case errors.As(err, &exists):
		e := requestError(http.StatusConflict, gen.ErrorCodeProspectExists,
			"A live prospect with this email exists already: %s.", exists.ID)
		e.Param, e.ExistingID = "email", exists.ID
		return e
	default:
		return &Error{Status: http.StatusInternalServerError, Type: gen.ErrorTypeApiError, Code: gen.ErrorCodeInternalError,
			Message: "Something went wrong on our side. Try again later; if it persists, contact support with the request id.",
			Cause:   err}
	}
}

// writeError writes err as the JSON error object, with its status and headers.
// Whatever failed once the request's deadline passed (a body read cut by it, a
// query interrupted by it) is 504 timeout. When the client went away and the
// failure is the server's side of it (work cancelled, a 5xx), nothing is
// written: the request is logged at info, recorded as 499 and counted apart,
// never as a server error, and ServeHTTP closes the connection without an
// answer. A 4xx still answers: a client that only half-closed gets it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	id := requestID(ctx)
	rec, _ := w.(interface{ recordError(*Error, int) })
	if pastDeadline(ctx) || errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	e := asAPIError(err)
	if clientGone(ctx) && e.Status >= 500 {
		s.cfg.Logger.InfoContext(ctx, "client went away", "request_id", id, "error", err)
		if rec != nil {
			rec.recordError(nil, statusClientClosed)
		}
		return
	}
	if e.Status >= 500 {
		s.cfg.Logger.ErrorContext(ctx, "request failed", "request_id", id, "code", e.Code, "error", err)
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	if rec != nil {
		rec.recordError(e, e.Status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(e.Status)
	bp := leanBuffers.Get().(*[]byte)
	b := append(appendError((*bp)[:0], errorDetail(e, id, s.cfg.PublicURL)), '\n')
	w.Write(b)
	keepBuffer(bp, b)
}

// appendError appends the error object with detail d, as encoding/json writes
// gen.Error (TestLeanErrorEncoding holds it to that) without its reflection.
func appendError(b []byte, d gen.ErrorDetail) []byte {
	b = append(b, `{"error":`...)
	return append(appendErrorDetail(b, d), '}')
}

// appendErrorDetail appends d as encoding/json writes gen.ErrorDetail.
func appendErrorDetail(b []byte, d gen.ErrorDetail) []byte {
	b = append(b, `{"code":`...)
	b = appendString(b, string(d.Code))
	b = append(b, `,"doc_url":`...)
	b = appendString(b, d.DocUrl)
	if d.ExistingId != nil {
		b = append(b, `,"existing_id":`...)
		b = appendString(b, *d.ExistingId)
	}
	b = append(b, `,"message":`...)
	b = appendString(b, d.Message)
	if d.Param != nil {
		b = append(b, `,"param":`...)
		b = appendString(b, *d.Param)
	}
	b = append(b, `,"request_id":`...)
	b = appendString(b, d.RequestId)
	b = append(b, `,"type":`...)
	b = appendString(b, string(d.Type))
	return append(b, '}')
}

// errorDetail is e as the error object's detail: the body of an error answer,
// and the error of a batch's item.
func errorDetail(e *Error, requestID, publicURL string) gen.ErrorDetail {
	d := gen.ErrorDetail{
		Type: e.Type, Code: e.Code, Message: e.Message, RequestId: requestID,
		DocUrl: publicURL + docs.ErrorURL(string(e.Code)),
	}
	if e.Param != "" {
		d.Param = &e.Param
	}
	if e.ExistingID != "" {
		d.ExistingId = &e.ExistingID
	}
	return d
}
