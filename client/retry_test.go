package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
)

// countingTransport counts the requests that leave the client, including those
// that never reach a server.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func TestConnectionRefusedIsRetriedThenTyped(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: connections are refused

	tr := &countingTransport{next: http.DefaultTransport}
	c := fastClient("http://"+addr, client.WithHTTPClient(&http.Client{Transport: tr}))
	_, err = c.Prospects.Get(context.Background(), "prs_1")

	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIConnectionError || e.StatusCode != 0 {
		t.Fatalf("want api_connection_error with no status, got %+v", e)
	}
	if e.Attempts != 3 || tr.n.Load() != 3 {
		t.Fatalf("want 3 attempts (1 + 2 retries), error says %d, transport saw %d", e.Attempts, tr.n.Load())
	}
	if !errors.Is(err, client.ErrConnection) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("errors.Is should see ErrConnection and ECONNREFUSED through %v", err)
	}
	if !client.IsRetryable(err) {
		t.Fatal("a refused connection is retryable")
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("message should say how many attempts were made: %v", err)
	}
}

// breakMidBody answers with headers and half a body, then kills the connection.
func breakMidBody(t *testing.T, w http.ResponseWriter, reset bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nRequest-Id: req_cut\r\nContent-Length: 400\r\n\r\n{\"id\":\"prs_")
	_ = buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0) // close with RST instead of FIN
	}
	conn.Close()
}

func TestConnectionBrokenMidBodyIsRetriedWithSameKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reset bool
	}{{"reset", true}, {"cut short", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
				if attempt == 1 {
					breakMidBody(t, w, tc.reset)
					return
				}
				writeProspect(w, http.StatusCreated, "prs_1")
			})
			var resp client.Response
			p, err := fastClient(srv.URL).Prospects.Create(context.Background(),
				client.ProspectCreateParams{Email: "ada@example.com"}, client.WithResponse(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != "prs_1" || resp.Attempts != 2 {
				t.Fatalf("want prs_1 after 2 attempts, got %q after %d", p.ID, resp.Attempts)
			}
			sameValues(t, "Idempotency-Key", srv.headers("Idempotency-Key"), 2)
			if resp.IdempotencyKey != srv.headers("Idempotency-Key")[0] {
				t.Fatalf("Response.IdempotencyKey %q is not the key sent", resp.IdempotencyKey)
			}
		})
	}
}

func TestConnectionBrokenMidBodyWithoutRetriesIsConnectionError(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		breakMidBody(t, w, false)
	})
	_, err := fastClient(srv.URL, client.WithMaxRetries(0)).Prospects.Create(context.Background(),
		client.ProspectCreateParams{Email: "ada@example.com"})
	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIConnectionError || e.Attempts != 1 || srv.count() != 1 {
		t.Fatalf("want one attempt ending in api_connection_error, got %+v after %d requests", e, srv.count())
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the cause should be io.ErrUnexpectedEOF, got %v", e.Err)
	}
	if e.StatusCode != http.StatusCreated || e.RequestID != "req_cut" {
		t.Fatalf("what arrived of the answer should be kept: status %d, request %q", e.StatusCode, e.RequestID)
	}
}

func TestRetryableStatusesAreRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"409 idempotency_key_in_use", func(w http.ResponseWriter) {
			writeAPIError(w, 409, "invalid_request_error", "idempotency_key_in_use", "A request with this key is in flight.")
		}},
		{"429 json", func(w http.ResponseWriter) {
			writeAPIError(w, 429, "rate_limit_error", "rate_limit", "Slow down.")
		}},
		{"500 json", func(w http.ResponseWriter) { writeAPIError(w, 500, "api_error", "internal_error", "Oops.") }},
		{"500 empty", func(w http.ResponseWriter) { w.WriteHeader(500) }},
		{"502 html", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		}},
		{"503 json", func(w http.ResponseWriter) {
			writeAPIError(w, 503, "api_error", "maintenance", "Down for maintenance.")
		}},
		{"503 text", func(w http.ResponseWriter) { http.Error(w, "service unavailable", http.StatusServiceUnavailable) }},
		{"504 json", func(w http.ResponseWriter) { writeAPIError(w, 504, "api_error", "timeout", "Too slow.") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
				if attempt == 1 {
					tc.write(w)
					return
				}
				writeProspect(w, http.StatusCreated, "prs_ok")
			})
			p, err := fastClient(srv.URL).Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"})
			if err != nil {
				t.Fatalf("want success on the retry, got %v", err)
			}
			if p.ID != "prs_ok" || srv.count() != 2 {
				t.Fatalf("want prs_ok after 2 attempts, got %q after %d", p.ID, srv.count())
			}
			sameValues(t, "Idempotency-Key", srv.headers("Idempotency-Key"), 2)
		})
	}
}

func Test503Then200ForGet(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			writeAPIError(w, 503, "api_error", "storage_unavailable", "Storage is unreachable.")
			return
		}
		writeProspect(w, http.StatusOK, "prs_1")
	})
	var resp client.Response
	p, err := fastClient(srv.URL).Prospects.Get(context.Background(), "prs_1", client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "prs_1" || srv.count() != 2 || resp.Attempts != 2 {
		t.Fatalf("want prs_1 after 2 attempts, got %q after %d (response says %d)", p.ID, srv.count(), resp.Attempts)
	}
	if resp.RequestID != "req_ok_prs_1" || resp.StatusCode != 200 {
		t.Fatalf("Response should describe the successful answer, got %+v", resp)
	}
	for _, k := range srv.headers("Idempotency-Key") {
		if k != "" {
			t.Fatalf("a GET needs no Idempotency-Key, sent %q", k)
		}
	}
}

func Test429RetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			w.Header().Set("Retry-After", "1")
			writeAPIError(w, 429, "rate_limit_error", "rate_limit", "Slow down.")
			return
		}
		writeProspect(w, http.StatusOK, "prs_1")
	})
	start := time.Now()
	_, err := fastClient(srv.URL).Prospects.Get(context.Background(), "prs_1")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if srv.count() != 2 {
		t.Fatalf("want 2 attempts, got %d", srv.count())
	}
	if elapsed < 950*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("Retry-After: 1 should make the retry wait about 1s, it waited %v", elapsed)
	}
}

func TestRetryAfterIsCappedByMaxWait(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			w.Header().Set("Retry-After", "30")
			writeAPIError(w, 503, "api_error", "maintenance", "Down for maintenance.")
			return
		}
		writeProspect(w, http.StatusOK, "prs_1")
	})
	c := client.New("sk_test", client.WithBaseURL(srv.URL), client.WithBackoff(time.Millisecond, 50*time.Millisecond))
	start := time.Now()
	if _, err := c.Prospects.Get(context.Background(), "prs_1"); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second || srv.count() != 2 {
		t.Fatalf("want a second attempt after at most the 50ms cap, got %d attempts in %v", srv.count(), elapsed)
	}
}

func TestIdempotencyKeyInUseThenCreated(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			w.Header().Set("Retry-After", "1")
			writeAPIError(w, 409, "invalid_request_error", "idempotency_key_in_use", "A request with this key is in flight.")
			return
		}
		writeProspect(w, http.StatusCreated, "prs_1")
	})
	c := client.New("sk_test", client.WithBaseURL(srv.URL), client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	p, err := c.Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "prs_1" {
		t.Fatalf("got %q", p.ID)
	}
	sameValues(t, "Idempotency-Key", srv.headers("Idempotency-Key"), 2)
}

func TestCallersIdempotencyKeyIsKeptOnEveryRetry(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt < 3 {
			writeAPIError(w, 503, "api_error", "storage_unavailable", "Storage is unreachable.")
			return
		}
		writeProspect(w, http.StatusOK, "prs_1")
	})
	var resp client.Response
	_, err := fastClient(srv.URL).Prospects.Update(context.Background(), "prs_1",
		client.ProspectUpdateParams{FirstName: client.Set("Ada")},
		client.WithIdempotencyKey("order-42-update"), client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	keys := srv.headers("Idempotency-Key")
	sameValues(t, "Idempotency-Key", keys, 3)
	if keys[0] != "order-42-update" || resp.IdempotencyKey != "order-42-update" {
		t.Fatalf("the caller's key must be sent as is, sent %q", keys)
	}
}

func TestEachCallGetsItsOwnIdempotencyKey(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, http.StatusCreated, "prs_1")
	})
	c := fastClient(srv.URL)
	for range 2 {
		if _, err := c.Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	keys := srv.headers("Idempotency-Key")
	if keys[0] == "" || keys[0] == keys[1] {
		t.Fatalf("two calls must send two different keys, sent %q", keys)
	}
}

func TestHTML502BecomesAPIErrorAfterRetries(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Request-Id", "req_proxy")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>")
	})
	_, err := fastClient(srv.URL).Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"})
	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIError || e.StatusCode != 502 || e.Code != "" {
		t.Fatalf("want api_error 502 without a code, got %+v", e)
	}
	if e.Attempts != 3 || srv.count() != 3 {
		t.Fatalf("want 3 attempts, got %d (server saw %d)", e.Attempts, srv.count())
	}
	if e.RequestID != "req_proxy" || !strings.Contains(e.Message, "text/html") || !strings.Contains(e.Message, "502 Bad Gateway") {
		t.Fatalf("the error should describe the answer, got %q (request %q)", e.Message, e.RequestID)
	}
	if !errors.Is(err, client.ErrAPI) || !client.IsRetryable(err) {
		t.Fatal("an HTML 502 is an ErrAPI and retryable")
	}
	sameValues(t, "Idempotency-Key", srv.headers("Idempotency-Key"), 3)
}

func TestOtherClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status     int
		typ, code  string
		sentinel   error
		existingID string
	}{
		{400, "invalid_request_error", "parameter_invalid", client.ErrInvalidRequest, ""},
		{401, "authentication_error", "api_key_invalid", client.ErrAuthentication, ""},
		{402, "invalid_request_error", "plan_limit_reached", client.ErrPlanLimitReached, ""},
		{403, "invalid_request_error", "prospect_hidden", client.ErrProspectHidden, ""},
		{404, "invalid_request_error", "resource_missing", client.ErrNotFound, ""},
		{405, "invalid_request_error", "method_not_allowed", client.ErrInvalidRequest, ""},
		{406, "invalid_request_error", "not_acceptable", client.ErrInvalidRequest, ""},
		{409, "invalid_request_error", "prospect_exists", client.ErrProspectExists, "prs_existing"},
		{409, "invalid_request_error", "idempotency_key_reused", client.ErrIdempotencyKeyReused, ""},
		{410, "invalid_request_error", "resource_gone", client.ErrGone, ""},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
				detail := map[string]any{
					"type": tc.typ, "code": tc.code, "message": "What went wrong.", "param": "email",
					"request_id": "req_body", "doc_url": "http://127.0.0.1:8080/docs#error-" + tc.code,
				}
				if tc.existingID != "" {
					detail["existing_id"] = tc.existingID
				}
				w.Header().Set("Request-Id", "req_body")
				w.Header().Set("Retry-After", "1") // must not tempt the client into retrying
				writeJSON(w, tc.status, map[string]any{"error": detail})
			})
			_, err := fastClient(srv.URL).Prospects.Create(context.Background(), client.ProspectCreateParams{Email: "ada@example.com"})
			e := asError(t, err)
			if srv.count() != 1 || e.Attempts != 1 {
				t.Fatalf("a %d %s must not be retried, got %d attempts", tc.status, tc.code, srv.count())
			}
			want := client.Error{
				Type: client.ErrorType(tc.typ), Code: client.ErrorCode(tc.code), Param: "email", Message: "What went wrong.",
				StatusCode: tc.status, RequestID: "req_body", ExistingID: tc.existingID,
				DocURL: "http://127.0.0.1:8080/docs#error-" + tc.code,
			}
			if e.Type != want.Type || e.Code != want.Code || e.Param != want.Param || e.Message != want.Message ||
				e.StatusCode != want.StatusCode || e.RequestID != want.RequestID || e.ExistingID != want.ExistingID || e.DocURL != want.DocURL {
				t.Fatalf("got  %+v\nwant %+v", e, want)
			}
			if !errors.Is(err, tc.sentinel) || client.IsRetryable(err) {
				t.Fatalf("want errors.Is(err, %v) and not retryable", tc.sentinel)
			}
		})
	}
}

func TestCancelledContextStopsRetryingAtOnce(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Retry-After", "10")
		writeAPIError(w, 503, "api_error", "maintenance", "Down for maintenance.")
	})
	waiting := make(chan struct{}, 10) // told just before the client starts its 10 s wait
	c := client.New("sk_test", client.WithBaseURL(srv.URL), client.WithBackoff(time.Millisecond, 30*time.Second),
		client.WithRetryNotify(func(*client.Error, int, time.Duration) { waiting <- struct{}{} }))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-waiting
		cancel()
	}()
	start := time.Now()
	_, err := c.Prospects.Get(ctx, "prs_1")
	elapsed := time.Since(start)
	e := asError(t, err)
	if elapsed > 2*time.Second {
		t.Fatalf("cancelling should end the 10s wait at once, the call took %v", elapsed)
	}
	if srv.count() != 1 || e.StatusCode != 503 || e.Code != client.ErrorCodeMaintenance {
		t.Fatalf("want the 503 of the only attempt, got %+v after %d attempts", e, srv.count())
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("errors.Is(err, context.Canceled) should hold: %v", err)
	}
}

func TestContextAlreadyDoneSendsNothing(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		writeProspect(w, http.StatusOK, "prs_1")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fastClient(srv.URL).Prospects.Get(ctx, "prs_1")
	e := asError(t, err)
	if e.Type != client.ErrorTypeAPIConnectionError || !errors.Is(err, context.Canceled) || client.IsRetryable(err) {
		t.Fatalf("want a non-retryable api_connection_error wrapping context.Canceled, got %+v", e)
	}
	if srv.count() != 0 || e.Attempts != 0 {
		t.Fatalf("want no request reaching the server and no retry, got %d requests, %d attempts", srv.count(), e.Attempts)
	}
}

func TestDeadlineBeforeRetryAfterGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		w.Header().Set("Retry-After", "5")
		writeAPIError(w, 429, "rate_limit_error", "rate_limit", "Slow down.")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := fastClient(srv.URL).Prospects.Get(ctx, "prs_1")
	e := asError(t, err)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("waiting 5s cannot fit in a 2s deadline, so the call should return at once; it took %v", elapsed)
	}
	if srv.count() != 1 || e.StatusCode != 429 || e.RetryAfter != 5*time.Second {
		t.Fatalf("want the 429 (Retry-After 5s) of the only attempt, got %+v after %d attempts", e, srv.count())
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		writeProspect(w, http.StatusOK, "prs_1")
	})
	c := fastClient(srv.URL, client.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	p, err := c.Prospects.Get(context.Background(), "prs_1")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "prs_1" || srv.count() != 2 {
		t.Fatalf("want success on the second attempt, got %d attempts", srv.count())
	}

	_, err = fastClient(srv.URL, client.WithMaxRetries(0), client.WithHTTPClient(&http.Client{Timeout: time.Nanosecond})).
		Prospects.Get(context.Background(), "prs_1")
	var netErr net.Error
	if e := asError(t, err); e.Type != client.ErrorTypeAPIConnectionError || !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("a timeout is an api_connection_error whose cause is a net.Error timeout, got %+v", e)
	}
}

func TestUntrustedTLSCertificateIsNotRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	srv.Config.ErrorLog = discardLogger()
	defer srv.Close()
	tr := &countingTransport{next: &http.Transport{}}
	_, err := fastClient(srv.URL, client.WithHTTPClient(&http.Client{Transport: tr})).Account.Get(context.Background())
	e := asError(t, err)
	var verr *tls.CertificateVerificationError
	if e.Type != client.ErrorTypeAPIConnectionError || !errors.As(err, &verr) {
		t.Fatalf("want api_connection_error caused by the certificate, got %+v", e)
	}
	if tr.n.Load() != 1 || client.IsRetryable(err) {
		t.Fatalf("an untrusted certificate cannot become trusted: want 1 attempt, got %d", tr.n.Load())
	}
}

// failingTransport fails every request with err, as a resolver or a dialer would.
type failingTransport struct {
	n   atomic.Int32
	err error
}

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.n.Add(1)
	return nil, f.err
}

func TestDNSFailureIsConnectionError(t *testing.T) {
	t.Parallel()
	tr := &failingTransport{err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
		Err: "no such host", Name: "capture.invalid", IsNotFound: true,
	}}}
	c := fastClient("http://capture.invalid", client.WithHTTPClient(&http.Client{Transport: tr}))
	_, err := c.Account.Get(context.Background())
	e := asError(t, err)
	var dnsErr *net.DNSError
	if e.Type != client.ErrorTypeAPIConnectionError || !errors.As(err, &dnsErr) || dnsErr.Name != "capture.invalid" {
		t.Fatalf("want api_connection_error caused by the *net.DNSError, got %+v", e)
	}
	if tr.n.Load() != 3 || e.Attempts != 3 {
		t.Fatalf("want 3 attempts, got %d", tr.n.Load())
	}
	if !strings.Contains(e.Message, "no such host") || !strings.Contains(e.Message, "GET http://capture.invalid/v1/account") {
		t.Fatalf("the message should name the request and the failure: %q", e.Message)
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
