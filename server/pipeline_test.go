package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
)

// raw sends request bytes as they are on a new connection and returns the
// answer, checked against openapi.yaml on the client's side (net/http's own
// answers never reach the handler's check).
func raw(t *testing.T, s *apitest.Server, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	method, rest, _ := strings.Cut(request, " ")
	target, _, _ := strings.Cut(rest, " ")
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: no HTTP answer: %v", request, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%q: reading the answer: %v", request, err)
	}
	if err := apitest.Check(t, method, target, res, body); err != nil {
		t.Errorf("%q -> %d: contract violation: %v\n%s", request, res.StatusCode, err, body)
	}
	return res, body
}

// TestEveryRequestShapeGetsTheContract goes through what net/http and its
// parsers do with odd requests, and the answer decided for each: the error
// object with a documented status, or a documented success; never a redirect,
// a plain-text answer, or a silently ignored part of the request.
func TestEveryRequestShapeGetsTheContract(t *testing.T) {
	s := apitest.New(t)
	auth := "Authorization: Bearer " + s.StandardKey + "\r\n"
	const host = "Host: capture.test\r\n"
	cases := []struct {
		name    string
		request string
		status  int
		code    gen.ErrorCode // "" for a success
		param   string
	}{
		// Paths: never cleaned and redirected (ServeMux's 301/307), never served as another path.
		{"dot segment", "GET /v1/prospects/../account HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"escaped dot segment", "GET /v1/prospects/%2e%2e/account HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"current-directory segment", "GET /v1/./account HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"empty segment", "GET /v1//account HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"dot segment to a page", "GET /docs/../metrics HTTP/1.1\r\n" + host + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"double slash to a page", "GET //metrics HTTP/1.1\r\n" + host + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"escaped slash in an id", "GET /v1/prospects/prs_a%2Fb HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeResourceMissing, "id"},
		// A fixed segment matches only as the spec spells it; an id is whatever it is.
		{"escaped letter in a fixed segment", "GET /v1/%61ccount HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"escaped letter where an id may be", "GET /v1/prospects/b%61tch HTTP/1.1\r\n" + host + auth + "\r\n", 404, gen.ErrorCodeResourceMissing, "id"},
		{"escaped letter, another method", "POST /v1/prospects/b%61tch HTTP/1.1\r\n" + host + auth + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 405, gen.ErrorCodeMethodNotAllowed, ""},
		{"absolute-form target", "GET http://elsewhere.test/v1/account HTTP/1.1\r\n" + host + auth + "\r\n", 200, "", ""},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 404, gen.ErrorCodeRouteNotFound, ""},
		{"OPTIONS on an operation", "OPTIONS /v1/prospects HTTP/1.1\r\n" + host + "\r\n", 405, gen.ErrorCodeMethodNotAllowed, ""},
		// Queries: a query the standard parser gives up on is refused whole, not dropped.
		{"semicolon in the query", "GET /v1/prospects?limit=5;status=new HTTP/1.1\r\n" + host + auth + "\r\n", 400, gen.ErrorCodeParameterInvalid, ""},
		{"bad escape in the query", "GET /v1/prospects?limit=%zz HTTP/1.1\r\n" + host + auth + "\r\n", 400, gen.ErrorCodeParameterInvalid, ""},
		{"bad escape in a page's query", "GET /docs?x=%zz HTTP/1.1\r\n" + host + "\r\n", 400, gen.ErrorCodeParameterInvalid, ""},
		{"parameter on a probe", "GET /healthz?verbose=1 HTTP/1.1\r\n" + host + "\r\n", 400, gen.ErrorCodeParameterUnknown, "verbose"},
		{"parameter on the readiness probe", "GET /readyz?x HTTP/1.1\r\n" + host + "\r\n", 400, gen.ErrorCodeParameterUnknown, "x"},
		{"probe by HEAD", "HEAD /readyz HTTP/1.1\r\n" + host + "\r\n", 200, "", ""},
		// Media types are case-insensitive: the same rules apply in any letter case.
		{"JSON media type in capitals", "POST /v1/prospects HTTP/1.1\r\n" + host + auth + "Content-Type: Application/JSON\r\nContent-Length: 25\r\n\r\n" + `{"email":"a@example.com"}`, 201, "", ""},
		{"trailing data under a capitalised media type", "POST /v1/prospects HTTP/1.1\r\n" + host + auth + "Content-Type: APPLICATION/JSON; Charset=UTF-8\r\nContent-Length: 30\r\n\r\n" + `{"email":"b@example.com"} junk`, 400, gen.ErrorCodeBodyInvalidJson, ""},
		{"Accept in capitals", "GET /v1/account HTTP/1.1\r\n" + host + auth + "Accept: APPLICATION/JSON\r\n\r\n", 200, "", ""},
		{"Accept that excludes JSON, in capitals", "GET /v1/account HTTP/1.1\r\n" + host + auth + "Accept: TEXT/HTML\r\n\r\n", 406, gen.ErrorCodeNotAcceptable, ""},
		{"not JSON", "POST /v1/prospects HTTP/1.1\r\n" + host + auth + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi", 400, gen.ErrorCodeContentTypeInvalid, ""},
		// What net/http answers before any handler runs: rewritten as the error object.
		{"malformed header line", "GET /v1/account HTTP/1.1\r\n" + host + "Not a header\r\n\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"no Host", "GET /v1/account HTTP/1.1\r\n\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"two Hosts", "GET /v1/account HTTP/1.1\r\n" + host + host + "\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"headers past the cap", "GET /v1/account HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"unsupported transfer encoding", "POST /v1/prospects HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"two different lengths", "POST /v1/prospects HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, gen.ErrorCodeRequestMalformed, ""},
		{"HTTP version 3.0 over TCP", "GET /v1/account HTTP/3.0\r\n" + host + "\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"an Expect it cannot meet", "GET /v1/account HTTP/1.1\r\n" + host + "Expect: teapot\r\n\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
		{"control byte in the target", "GET /v1/acc\x01ount HTTP/1.1\r\n" + host + "\r\n", 400, gen.ErrorCodeRequestMalformed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := raw(t, s, tc.request)
			if tc.code == "" {
				if res.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
				}
				return
			}
			wantError(t, res, body, tc.status, errorType(tc.status), tc.code, tc.param)
		})
	}
}

func errorType(status int) gen.ErrorType {
	if status >= 500 {
		return gen.ErrorTypeApiError
	}
	return gen.ErrorTypeInvalidRequestError
}

// TestEarlyAnswerClosesAnUnreadBody: a request that declares a body and never
// sends it gets its early answer at once, and its connection is closed rather
// than held while the server waits to drain the body.
func TestEarlyAnswerClosesAnUnreadBody(t *testing.T) {
	s := apitest.New(t)
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"no key", "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", 401},
		{"wrong key", "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_wrong\r\nContent-Length: 100\r\n\r\n", 401},
		{"unknown route", "POST /v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 404},
		{"wrong method", "PUT /v1/prospects HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 405},
		{"not acceptable", "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nContent-Length: 100\r\n\r\n", 406},
		{"chunked, no chunk ever", "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 401},
		{"a page", "GET /docs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Far below the request deadline (10 s): before the fix this read hung.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, tc.head)
			r := bufio.NewReader(conn)
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("no answer while the body is unsent: %v", err)
			}
			io.Copy(io.Discard, res.Body)
			if res.StatusCode != tc.status || !res.Close {
				t.Errorf("status %d (close %v), want %d with Connection: close", res.StatusCode, res.Close, tc.status)
			}
			if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("the connection stayed open after the answer: %d bytes, %v", n, err)
			}
		})
	}
}

// TestOverloadedIsAFast503: past the in-flight cap, an API request is refused
// at once with 503 overloaded and Retry-After; the probes still answer.
func TestOverloadedIsAFast503(t *testing.T) {
	s := apitest.New(t, func(c *server.Config) { c.MaxInFlight = 2 })
	// Two requests whose bodies are still arriving hold both slots.
	var holders []net.Conn
	var rests []string
	for i := range 2 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := fmt.Sprintf(`{"email": "held%d@example.com"}`, i)
		fmt.Fprintf(conn, "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", s.StandardKey, len(body), body[:9])
		rests = append(rests, body[9:])
		holders = append(holders, conn)
	}
	poll.Until(t, 5*time.Second, "the server to count both held requests in flight", func() (bool, string) {
		_, m := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
		return strings.Contains(string(m), "\ncapture_http_requests_in_flight 2\n"), "/metrics:\n" + string(m)
	})
	res, body := do(t, "GET", s.URL+"/v1/account", s.AdminKey, "", "")
	wantError(t, res, body, 503, gen.ErrorTypeApiError, gen.ErrorCodeOverloaded, "")
	if res.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", res.Header.Get("Retry-After"))
	}
	if res, _ := do(t, "GET", s.URL+"/readyz", "", "", ""); res.StatusCode != 200 {
		t.Errorf("/readyz under load: %d", res.StatusCode)
	}
	for i, conn := range holders { // the held requests finish, and give their slots back
		io.WriteString(conn, rests[i])
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("held request %d: %v %v", i, res, err)
		}
	}
	if res, b := do(t, "GET", s.URL+"/v1/account", s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Errorf("after the load: %d %s", res.StatusCode, b)
	}
}

// TestClientGoneIsNotAServerError: a client that hangs up mid-request is
// counted apart, never as a 5xx.
func TestClientGoneIsNotAServerError(t *testing.T) {
	s := apitest.New(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+s.StandardKey+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
	conn.Close()
	var metrics string
	poll.Until(t, 5*time.Second, "the disconnect to be counted", func() (bool, string) {
		_, b := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
		metrics = string(b)
		return strings.Contains(metrics, `capture_client_disconnects_total{route="/v1/prospects"} 1`), "/metrics:\n" + metrics
	})
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "capture_http_requests_total") && strings.Contains(line, `status="5`) {
			t.Errorf("a 5xx was counted: %s", line)
		}
		if strings.HasPrefix(line, "capture_errors_total") && strings.Contains(line, `api_error`) {
			t.Errorf("a server error was counted: %s", line)
		}
	}
}

// TestAnswersSplitAcrossWritesAreNeverRewritten: the listener that rewrites
// net/http's own plain-text refusals must leave the server's answers alone,
// even when a piece of a long answer written to the connection happens to begin
// with what looks like a status line.
func TestAnswersSplitAcrossWritesAreNeverRewritten(t *testing.T) {
	s := apitest.New(t)
	look := strings.Repeat("HTTP/1.1 4", 50) // 500 characters, the longest metadata value
	meta := map[string]string{}
	for i := range 20 {
		meta[fmt.Sprintf("k%02d", i)] = look
	}
	metaJSON, _ := json.Marshal(meta)
	for pad := range 10 { // every offset of the pattern against the writes' boundaries
		body := fmt.Sprintf(`{"email": "split%d@example.com", "first_name": %q, "metadata": %s}`, pad, strings.Repeat("x", pad+1), metaJSON)
		res, b := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", body)
		if res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, b)
		}
		var p struct {
			ID       string            `json:"id"`
			Metadata map[string]string `json:"metadata"`
		}
		json.Unmarshal(b, &p)
		res, b = do(t, "GET", s.URL+"/v1/prospects/"+p.ID, s.StandardKey, "", "")
		if err := json.Unmarshal(b, &p); res.StatusCode != 200 || err != nil || len(p.Metadata) != 20 || p.Metadata["k07"] != look {
			t.Fatalf("pad %d: the answer was altered: %d %v\n%.300s", pad, res.StatusCode, err, b)
		}
	}
	res, b := do(t, "GET", s.URL+"/v1/prospects?limit=10", s.StandardKey, "", "")
	var page struct{ Data []json.RawMessage }
	if err := json.Unmarshal(b, &page); res.StatusCode != 200 || err != nil || len(page.Data) != 10 {
		t.Fatalf("list: %d %v %.300s", res.StatusCode, err, b)
	}
}

// TestHalfClosedClientGetsItsAnswerOrNone: a client that sends its request and
// then closes its writing side is, to net/http, a client gone. It still gets a
// 4xx that does not depend on the work done; and it never gets an empty 200 in
// place of an answer.
func TestHalfClosedClientGetsItsAnswerOrNone(t *testing.T) {
	s := apitest.New(t)
	send := func(request string) (*http.Response, []byte, error) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, request)
		conn.(*net.TCPConn).CloseWrite()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	for range 5 {
		res, b, err := send("GET /v1/prospects?a=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.StandardKey + "\r\n\r\n")
		if err != nil {
			t.Fatalf("a bad query from a half-closed client got no answer: %v", err)
		}
		wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "")
	}
	for i := range 10 {
		body := fmt.Sprintf(`{"email": "half%d@example.com"}`, i)
		res, b, err := send(fmt.Sprintf("POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: half-%d\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", s.StandardKey, i, len(body), body))
		if err != nil {
			continue // closed without an answer: the request did not run, and its retry will
		}
		if res.StatusCode != 201 || len(b) == 0 {
			t.Errorf("half-closed create %d: %d %q; want its 201 or no answer", i, res.StatusCode, b)
		}
	}
}

// TestRefusedRequestsAreLoggedAndCounted: a request net/http refuses before
// any handler runs is answered, logged and counted as every other error is:
// its answer's Request-Id names one log line, with the attributes of any other
// request's line, and it counts in the requests by status.
func TestRefusedRequestsAreLoggedAndCounted(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	s := apitest.New(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	})
	const host = "Host: capture.test\r\n"
	refused, _ := raw(t, s, "GET /v1/account HTTP/1.1\r\n"+host+"X-Big: "+strings.Repeat("a", 70<<10)+"\r\n\r\n")
	other, _ := raw(t, s, "GET /nowhere HTTP/1.1\r\n"+host+"\r\n")

	mu.Lock()
	lines := map[string][]map[string]any{} // by request id
	for l := range strings.Lines(buf.String()) {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		id, _ := line["request_id"].(string)
		lines[id] = append(lines[id], line)
	}
	mu.Unlock()
	refusedLines, otherLines := lines[refused.Header.Get("Request-Id")], lines[other.Header.Get("Request-Id")]
	if len(refusedLines) != 1 || len(otherLines) != 1 {
		t.Fatalf("%d log lines for the refused request, %d for the other; want one each:\n%s", len(refusedLines), len(otherLines), buf.String())
	}
	got, want := refusedLines[0], otherLines[0]
	for field, value := range map[string]any{"msg": "request", "level": "INFO", "status": float64(400),
		"error_type": "invalid_request_error", "error_code": "request_malformed"} {
		if got[field] != value {
			t.Errorf("refused request's log %s = %v, want %v", field, got[field], value)
		}
	}
	if gotKeys, wantKeys := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("the refused request's log line has %v; any other's has %v", gotKeys, wantKeys)
	}

	_, body := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
	for series, want := range map[string]string{
		`capture_http_requests_total{method="OTHER",route="unmatched",status="400"}`:  "1",
		`capture_errors_total{code="request_malformed",type="invalid_request_error"}`: "1",
	} {
		if got := metricValue(t, string(body), series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
}
