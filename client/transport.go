package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBodySize bounds how much of an answer is read; a page of 100 prospects is
// far smaller.
const maxBodySize = 32 << 20

// attempt sends req once and reads the whole answer, so that a connection that
// breaks mid-body is a (retryable) connection error rather than a decoding one.
func (c *Client) attempt(ctx context.Context, base *http.Request, out any) (*http.Response, *Error) {
	req := base.Clone(ctx)
	if base.GetBody != nil {
		body, err := base.GetBody()
		if err != nil {
			return nil, buildError(err)
		}
		req.Body = body
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, connectionError(ctx, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize))
	if err != nil {
		e := connectionError(ctx, req, err)
		e.StatusCode = resp.StatusCode
		e.RequestID = resp.Header.Get("Request-Id")
		if !e.final {
			e.Message = fmt.Sprintf("the %s answer to %s %s was cut short: %v", resp.Status, req.Method, req.URL.Redacted(), err)
		}
		return resp, e
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				return resp, &Error{
					Type:       ErrorTypeAPIError,
					Message:    fmt.Sprintf("could not decode the %s answer to %s %s: %v", resp.Status, req.Method, req.URL.Redacted(), err),
					StatusCode: resp.StatusCode,
					RequestID:  resp.Header.Get("Request-Id"),
					Err:        err,
				}
			}
		}
		return resp, nil
	}
	return resp, apiError(resp, body)
}

// errorBody is the API's error object (components/schemas/Error). Fields it
// does not name are ignored and Type and Code take any string, so an answer
// from a newer server still decodes.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is what an error object says (components/schemas/ErrorDetail).
type errorDetail struct {
	Type       ErrorType `json:"type"`
	Code       ErrorCode `json:"code"`
	Message    string    `json:"message"`
	Param      string    `json:"param"`
	RequestID  string    `json:"request_id"`
	DocURL     string    `json:"doc_url"`
	ExistingID string    `json:"existing_id"`
}

// apiError turns an error answer into an *Error: Capture's JSON error object
// when there is one, and an api_error describing the answer when there is not
// (an HTML page from a proxy, an empty body).
func apiError(resp *http.Response, body []byte) *Error {
	e := &Error{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("Request-Id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var env errorBody
	if err := json.Unmarshal(body, &env); err == nil && env.Error.Type != "" {
		d := env.Error
		e.Type, e.Code, e.Message, e.DocURL = d.Type, d.Code, d.Message, d.DocURL
		e.Param, e.ExistingID = d.Param, d.ExistingID
		if d.RequestID != "" {
			e.RequestID = d.RequestID
		}
		if e.Message == "" {
			e.Message = resp.Status
		}
		return e
	}
	e.Type = ErrorTypeAPIError
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "" {
		ct = "untyped"
	}
	e.Message = fmt.Sprintf("the server answered %s with a %s body instead of a Capture error object", resp.Status, ct)
	if s := snippet(body, 200); s != "" {
		e.Message += ": " + strconv.Quote(s)
	}
	return e
}

// snippet returns the start of body on one line, for error messages.
func snippet(body []byte, n int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body[:min(len(body), 4*n)]), "")), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

// connectionError describes a request that got no (complete) answer.
func connectionError(ctx context.Context, req *http.Request, err error) *Error {
	e := &Error{Type: ErrorTypeAPIConnectionError, Err: err}
	where := req.Method + " " + req.URL.Redacted()
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		e.Message = fmt.Sprintf("%s stopped: %v", where, cause)
		if !errors.Is(err, cause) {
			e.Err = errors.Join(err, cause)
		}
		e.final = true
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &record):
		// Retrying cannot make a certificate trusted or an HTTP server speak TLS.
		e.Message = fmt.Sprintf("TLS failed for %s: %v", where, unwrapURLError(err))
		e.final = true
	default:
		e.Message = fmt.Sprintf("network error on %s: %v", where, unwrapURLError(err))
	}
	return e
}

// unwrapURLError drops the `Post "url": ` prefix that *url.Error adds, since
// the message names the request already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// buildError reports a request the client refused to send.
func buildError(err error) *Error {
	return &Error{
		Type:    ErrorTypeInvalidRequestError,
		Message: "could not build the request: " + err.Error(),
		Err:     err,
		final:   true,
	}
}

// wait returns how long to sleep before retry number n (1 for the first retry):
// the server's Retry-After if it sent one, otherwise a random duration up to
// base·2ⁿ⁻¹ ("full jitter", which spreads clients out after an outage); both
// capped by backoffMax.
func (c *Client) wait(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.backoffMax)
	}
	limit := c.backoffMax
	if shift := n - 1; shift < 62 {
		if d := c.backoffBase << shift; d>>shift == c.backoffBase && d < limit {
			limit = d
		}
	}
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
