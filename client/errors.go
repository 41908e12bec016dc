package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is the one error type every call returns: an error answer from the API,
// a network failure (Type api_connection_error), or a request the client refused
// to send. Inspect it with [errors.As], or compare it with [errors.Is] against the
// sentinels below or any *Error whose non-zero fields say what to match.
type Error struct {
	// Type is the broad kind: api_error, authentication_error,
	// invalid_request_error, rate_limit_error, or api_connection_error when the
	// network failed (no answer arrived, or it was cut short).
	Type ErrorType
	// Code is the stable machine string, such as resource_missing; empty for
	// network failures and for answers that were not Capture's JSON error object.
	Code ErrorCode
	// Param names the offending field when the error is about one ("email",
	// "metadata.plan", "tags[3]").
	Param string
	// Message says, for people, what went wrong and what to do.
	Message string
	// StatusCode is the HTTP status of the answer; 0 when no answer arrived.
	StatusCode int
	// RequestID identifies the request on the server; quote it when asking for help.
	RequestID string
	// ExistingID is, on prospect_exists, the id of the live prospect with that email.
	ExistingID string
	// DocURL links to the error code in the API reference.
	DocURL string
	// RetryAfter is how long the server asked the client to wait, if it did.
	RetryAfter time.Duration
	// Attempts is how many requests were sent before giving up (1 when no retry
	// happened, 0 when the request was never sent).
	Attempts int
	// Err is the underlying cause, such as a *net.OpError or the context's error;
	// nil for plain error answers.
	Err error

	// final marks errors that no retry can fix even though their type usually
	// could, such as a cancelled context or an untrusted TLS certificate.
	final bool
}

// Sentinels for errors.Is. Each matches any *Error with the same Type or Code;
// for any other code, compare with an *Error of your own, such as
// &client.Error{Code: client.ErrorCodeMaintenance}.
var (
	// ErrConnection matches network failures: refused, reset, DNS, TLS,
	// timeouts and answers cut short.
	ErrConnection = &Error{Type: ErrorTypeAPIConnectionError}
	// ErrAPI matches server-side failures (5xx) and answers the client could not read.
	ErrAPI = &Error{Type: ErrorTypeAPIError}
	// ErrAuthentication matches a missing, unknown or revoked API key.
	ErrAuthentication = &Error{Type: ErrorTypeAuthenticationError}
	// ErrInvalidRequest matches every error caused by the request itself.
	ErrInvalidRequest = &Error{Type: ErrorTypeInvalidRequestError}
	// ErrRateLimit matches answers telling the key to slow down.
	ErrRateLimit = &Error{Type: ErrorTypeRateLimitError}

	// ErrNotFound matches an unknown prospect id (or one of another account).
	ErrNotFound = &Error{Code: ErrorCodeResourceMissing}
	// ErrGone matches a prospect that was deleted.
	ErrGone = &Error{Code: ErrorCodeResourceGone}
	// ErrProspectHidden matches a hidden prospect asked for with a standard key.
	ErrProspectHidden = &Error{Code: ErrorCodeProspectHidden}
	// ErrProspectExists matches a create whose email a live prospect already
	// has; the error's ExistingID names that prospect.
	ErrProspectExists = &Error{Code: ErrorCodeProspectExists}
	// ErrEmailSuppressed matches a create whose email was erased from the
	// account and is on its suppression list ([SuppressionService.Lift]).
	ErrEmailSuppressed = &Error{Code: ErrorCodeEmailSuppressed}
	// ErrPlanLimitReached matches a create refused because the account is at
	// its plan's prospect limit.
	ErrPlanLimitReached = &Error{Code: ErrorCodePlanLimitReached}
	// ErrAdminKeyRequired matches a request only an admin key may make
	// (setting hidden, managing webhook endpoints) made with a standard key.
	ErrAdminKeyRequired = &Error{Code: ErrorCodeAdminKeyRequired}
	// ErrIdempotencyKeyReused matches an Idempotency-Key sent again with a
	// different request.
	ErrIdempotencyKeyReused = &Error{Code: ErrorCodeIdempotencyKeyReused}
)

// Error formats the status, code, message and identifiers on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("capture: ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d ", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(string(e.Code))
	} else {
		b.WriteString(string(e.Type))
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	var extra []string
	if e.Param != "" {
		extra = append(extra, "param "+e.Param)
	}
	if e.ExistingID != "" {
		extra = append(extra, "existing_id "+e.ExistingID)
	}
	if e.RequestID != "" {
		extra = append(extra, "request "+e.RequestID)
	}
	if e.Attempts > 1 {
		extra = append(extra, fmt.Sprintf("%d attempts", e.Attempts))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) and
// errors.As(err, &netErr) see through the *Error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e matches target: target must be an *Error, and each of
// its Type, Code and StatusCode that is set must equal e's. This is what makes
// errors.Is(err, client.ErrNotFound) work.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil || (t.Type == "" && t.Code == "" && t.StatusCode == 0) {
		return false
	}
	return (t.Type == "" || t.Type == e.Type) &&
		(t.Code == "" || t.Code == e.Code) &&
		(t.StatusCode == 0 || t.StatusCode == e.StatusCode)
}

// IsRetryable reports whether sending the same request again may succeed: network
// failures, 409 idempotency_key_in_use, 429, 500, 502, 503 and 504. The client
// already retries these on its own; this helps callers who retry later or
// elsewhere, such as from a job queue.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.retryable()
}

func (e *Error) retryable() bool {
	if e.final {
		return false
	}
	if e.Type == ErrorTypeAPIConnectionError {
		return true
	}
	switch e.StatusCode {
	case http.StatusConflict:
		return e.Code == ErrorCodeIdempotencyKeyInUse
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// UnmarshalJSON reads an error object as the API sends it (type, code,
// message, param, request_id, doc_url, existing_id), such as a batch item's
// error in [ProspectBatchResult]. The status and the retry fields are not part
// of it.
func (e *Error) UnmarshalJSON(b []byte) error {
	var d errorDetail
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	*e = Error{Type: d.Type, Code: d.Code, Message: d.Message, Param: d.Param, RequestID: d.RequestID,
		DocURL: d.DocURL, ExistingID: d.ExistingID, final: true}
	return nil
}
