package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Version is the version of this library, sent in the User-Agent header.
const Version = "1.0.0"

// BaseURLEnv names the environment variable [New] reads the server's base URL
// from when no [WithBaseURL] is given.
const BaseURLEnv = "CAPTURE_URL"

// Defaults for the retry policy; see [WithMaxRetries] and [WithBackoff].
const (
	DefaultMaxRetries  = 2
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = 20 * time.Second
)

// DefaultTimeout bounds each attempt (connecting, sending, reading the answer)
// when no *http.Client of your own is given.
const DefaultTimeout = 30 * time.Second

// Client talks to the Capture API. It is safe for concurrent use; create one and
// share it.
type Client struct {
	// Prospects creates, retrieves, updates, deletes and lists prospects.
	Prospects *ProspectService
	// Account retrieves the account the API key belongs to.
	Account *AccountService
	// Events reads the log of changes to prospects.
	Events *EventService
	// Suppressions lifts the suppression of erased emails (admin keys only).
	Suppressions *SuppressionService
	// WebhookEndpoints manages where events are delivered (admin keys only).
	WebhookEndpoints *WebhookEndpointService
	// Forms manages public web forms and reads their submissions (admin keys only).
	Forms *FormService

	apiKey      string
	baseURL     string
	baseErr     *Error
	httpClient  *http.Client
	maxRetries  int
	backoffBase time.Duration
	backoffMax  time.Duration
	userAgent   string
	onRetry     func(err *Error, attempt int, wait time.Duration)
}

// Option configures a [Client] in [New].
type Option func(*Client)

// WithBaseURL points the client at a Capture server, such as
// "https://capture.example.com" or, for a local `capture serve`,
// "http://127.0.0.1:8080". A path prefix is kept. It takes precedence over the
// CAPTURE_URL environment variable.
func WithBaseURL(baseURL string) Option {
	return func(c *Client) { c.baseURL = baseURL }
}

// WithHTTPClient sends requests through hc, for proxies, custom TLS or a
// different timeout. Each attempt is one hc.Do; hc.Timeout bounds each attempt,
// the context bounds the whole call including retries.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithMaxRetries sets how many times a failed request is sent again (default 2,
// so 3 attempts at most); 0 turns retries off.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithBackoff sets the retry waits: the n-th retry waits a random duration
// between 0 and base·2ⁿ⁻¹ ("full jitter"), never more than maxWait. A
// Retry-After sent by the server replaces the random wait but is capped by
// maxWait too, so maxWait is the longest a call ever sleeps between attempts.
func WithBackoff(base, maxWait time.Duration) Option {
	return func(c *Client) {
		c.backoffBase = max(base, 0)
		c.backoffMax = max(maxWait, c.backoffBase)
	}
}

// WithUserAgent names your application in the User-Agent header, ahead of this
// library's own name and version, so that server logs show who is calling.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua + " " + c.userAgent
		}
	}
}

// WithRetryNotify calls fn before each wait for a retry, with the error that
// made the attempt fail, the number of the attempt about to be sent (2 for the
// first retry) and how long the client waits before sending it; a command-line
// tool can tell its user why nothing is happening yet. fn runs on the caller's
// goroutine and delays the retry by as long as it takes.
func WithRetryNotify(fn func(err *Error, attempt int, wait time.Duration)) Option {
	return func(c *Client) { c.onRetry = fn }
}

// New returns a client that authenticates with apiKey (sk_…) and talks to the
// server given by [WithBaseURL] or, without it, by the CAPTURE_URL environment
// variable. There is no default server: with neither, or with a malformed URL,
// every call fails with an [Error] saying so, before anything is sent. It
// retries as described in the package documentation.
func New(apiKey string, opts ...Option) *Client {
	c := &Client{
		apiKey:      apiKey,
		baseURL:     os.Getenv(BaseURLEnv),
		httpClient:  &http.Client{Timeout: DefaultTimeout},
		maxRetries:  DefaultMaxRetries,
		backoffBase: DefaultBackoffBase,
		backoffMax:  DefaultBackoffMax,
		userAgent:   "capture-go/" + Version,
	}
	for _, o := range opts {
		o(c)
	}
	c.baseURL, c.baseErr = checkBaseURL(c.baseURL)
	c.Prospects = &ProspectService{c: c}
	c.Account = &AccountService{c: c}
	c.Events = &EventService{c: c}
	c.Suppressions = &SuppressionService{c: c}
	c.WebhookEndpoints = &WebhookEndpointService{c: c}
	c.Forms = &FormService{c: c}
	return c
}

func checkBaseURL(raw string) (string, *Error) {
	if raw == "" {
		err := errors.New("no base URL")
		return raw, &Error{
			Type:    ErrorTypeAPIConnectionError,
			Message: "no base URL: pass client.WithBaseURL(\"https://…\") to client.New or set " + BaseURLEnv,
			Err:     err,
			final:   true,
		}
	}
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = errors.New("want an absolute http or https URL such as https://capture.example.com")
	}
	if err != nil {
		return raw, &Error{
			Type:    ErrorTypeAPIConnectionError,
			Message: "invalid base URL " + strconv.Quote(raw) + ": " + err.Error(),
			Err:     err,
			final:   true,
		}
	}
	// Paths are resolved against the base URL, which keeps a path prefix only
	// when it ends with a slash.
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	return raw, nil
}

// Response describes the HTTP answer behind a call; ask for it with
// [WithResponse]. On success it is how you read the Request-Id, on failure it
// adds the headers to what the [Error] says.
type Response struct {
	// StatusCode is the HTTP status of the last answer; 0 if none arrived.
	StatusCode int
	// RequestID is the last answer's Request-Id header.
	RequestID string
	// Header holds the last answer's headers, such as RateLimit.
	Header http.Header
	// IdempotencyKey is the Idempotency-Key sent (yours or a generated one);
	// empty for GET and DELETE, which are idempotent without one.
	IdempotencyKey string
	// Replayed is true when the server answered from its idempotency store: an
	// earlier request with the same key had already done the work.
	Replayed bool
	// Attempts is how many requests were sent, retries included.
	Attempts int
}

// RequestOption adjusts a single call.
type RequestOption func(*requestOptions)

type requestOptions struct {
	idempotencyKey string
	response       *Response
	onConflict     OnConflict
}

// WithOnConflict says what [ProspectService.CreateBatch] does with an item
// whose email a live prospect has already: [OnConflictError] (the default)
// fails the item with [ErrProspectExists], [OnConflictSkip] answers the
// existing prospect untouched, [OnConflictUpdate] sets the item's non-zero
// fields on it. Other calls ignore it.
func WithOnConflict(c OnConflict) RequestOption {
	return func(o *requestOptions) { o.onConflict = c }
}

// WithIdempotencyKey sends key as the Idempotency-Key of a create or update
// instead of a generated one, so that a retry by your own code — after a crash,
// from a queue — is recognised by the server as the same request. The client
// never replaces it. Keys are 1 to 255 printable ASCII characters. Get,
// Delete and List need no key and ignore it.
func WithIdempotencyKey(key string) RequestOption {
	return func(o *requestOptions) { o.idempotencyKey = key }
}

// WithResponse fills r with the status, Request-Id and headers of the call's last
// HTTP answer, on success and on failure. For a list walk, r describes the last
// page fetched.
func WithResponse(r *Response) RequestOption {
	return func(o *requestOptions) { o.response = r }
}

// do runs one API call: it builds the request to path (relative to the base
// URL, with query parameters and a JSON body when given) once, then sends it
// until it succeeds, fails for good, or the retries run out.
func (c *Client) do(ctx context.Context, method, path string, query map[string]string, body any, opts []RequestOption, out any) error {
	var ro requestOptions
	for _, o := range opts {
		o(&ro)
	}
	if c.baseErr != nil {
		e := *c.baseErr
		return &e
	}
	var key *string
	if method == http.MethodPost || method == http.MethodPatch {
		k := ro.idempotencyKey
		if k == "" {
			k = rand.Text()
		} else if err := checkIdempotencyKey(k); err != nil {
			return err
		}
		key = &k
	}
	req, err := c.newRequest(method, path, query, body)
	if err != nil {
		return buildError(err)
	}
	if key != nil {
		req.Header.Set("Idempotency-Key", *key)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	var last *Error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			// Done before this attempt could be sent: report the previous
			// attempt's error if there was one, since it says more.
			if last != nil {
				last.Err = errors.Join(last.Err, context.Cause(ctx))
				return last
			}
			e := connectionError(ctx, req, context.Cause(ctx))
			e.Attempts = attempt - 1
			return e
		}
		resp, e := c.attempt(ctx, req, out)
		if ro.response != nil {
			*ro.response = Response{Attempts: attempt}
			if key != nil {
				ro.response.IdempotencyKey = *key
			}
			if resp != nil {
				ro.response.StatusCode = resp.StatusCode
				ro.response.RequestID = resp.Header.Get("Request-Id")
				ro.response.Header = resp.Header
				ro.response.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
			}
		}
		if e == nil {
			return nil
		}
		e.Attempts = attempt
		if attempt > c.maxRetries || !e.retryable() {
			return e
		}
		wait := c.wait(attempt, e.RetryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// The context would end before the next attempt could be sent.
			return e
		}
		last = e
		if c.onRetry != nil {
			c.onRetry(e, attempt+1, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// newRequest builds a request for path (relative to the base URL and escaped,
// such as "v1/prospects/prs_…"), with the query parameters and, when body is not nil, body as
// JSON. Its GetBody lets each attempt send the body afresh.
func (c *Client) newRequest(method, path string, query map[string]string, body any) (*http.Request, error) {
	base, err := url.Parse(c.baseURL)
	if err != nil {
		return nil, err
	}
	u, err := base.Parse("./" + path)
	if err != nil {
		return nil, err
	}
	if len(query) > 0 {
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	var req *http.Request
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req, err = http.NewRequest(method, u.String(), bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
	return http.NewRequest(method, u.String(), nil)
}

// checkIdempotencyKey refuses a key the server would reject, before it is sent
// (a control character would otherwise fail inside net/http and look like a
// network error).
func checkIdempotencyKey(k string) error {
	ok := len(k) <= 255
	for i := 0; ok && i < len(k); i++ {
		ok = k[i] >= 0x20 && k[i] <= 0x7e
	}
	if ok {
		return nil
	}
	return &Error{
		Type:    ErrorTypeInvalidRequestError,
		Code:    ErrorCodeIdempotencyKeyInvalid,
		Param:   "Idempotency-Key",
		Message: "Idempotency-Key must be 1 to 255 printable ASCII characters.",
		final:   true,
	}
}
