package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// The fuzz targets send what the fuzzer makes as raw bytes over a real
// connection, through the same listener and http.Server limits as capture
// serve, and hold every answer to the same three rules: an answer comes, it is
// never a 5xx, and it is a documented success or the error object, as
// openapi.yaml says (apitest.Check).

// fuzzServer is a server for one fuzz target, its answers checked by the target.
func fuzzServer(f *testing.F) *apitest.Server {
	s := apitest.New(f, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
	s.CheckOnClientSide()
	return s
}

// exchange sends one raw request and holds its answer to the rules. Requests
// whose framing promises bytes that never come (a second Content-Length or a
// Transfer-Encoding smuggled in through a fuzzed value) are left out: their
// answer is a 504 at the deadline, and TestEveryRequestShapeGetsTheContract
// and TestSlowBodyMeetsTheDeadline decide those cases.
func exchange(t *testing.T, s *apitest.Server, method, target, request string) {
	head, _, _ := strings.Cut(strings.ToLower(request), "\r\n\r\n")
	if strings.Count(head, "content-length:") > 1 || strings.Contains(head, "transfer-encoding:") ||
		strings.Count(head, "content-length:") == 1 && !strings.HasPrefix(request, "POST /v1/prospects ") && !strings.HasPrefix(request, "PATCH /v1/prospects/") {
		t.Skip("framing that promises bytes never sent")
	}
	pipelined := false
	if strings.ContainsAny(method+target, "\r\n") {
		// A line break in the method or target ends the request line early: the
		// server answers the request net/http reads first, and is held to that.
		in := bufio.NewReader(strings.NewReader(request))
		if req, err := http.ReadRequest(in); err == nil {
			method, target = req.Method, req.RequestURI
			io.Copy(io.Discard, req.Body)
			pipelined = in.Buffered() > 0
		}
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetLinger(0) // no TIME_WAIT pile-up over thousands of runs
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		return // the server refused the rest of a request it had answered already
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, &http.Request{Method: method})
	for err == nil && res.StatusCode == http.StatusContinue { // Expect: 100-continue
		res, err = http.ReadResponse(r, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatalf("no answer to %q: %v", request, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("answer to %q cut short: %v", request, err)
	}
	if res.StatusCode >= 500 {
		t.Fatalf("%q -> %d: %s", request, res.StatusCode, body)
	}
	if err := apitest.Check(t, method, target, res, body); err != nil {
		t.Fatalf("%q -> %d breaks the contract: %v\n%s", request, res.StatusCode, err, body)
	}
	if pipelined && !res.Close {
		t.Skip("a second request follows the first on a connection kept open; only the first answer is read")
	}
}

func FuzzBody(f *testing.F) {
	s := fuzzServer(f)
	target := create(f, s.Client(f, s.StandardKey), gen.ProspectCreate{Email: "fuzz-target@example.com"})
	f.Add(false, "application/json", []byte(`{"email": "ada@example.com", "tags": ["a"], "metadata": {"k": "v"}}`))
	f.Add(true, "application/json", []byte(`{"first_name": null, "metadata": {"k": ""}, "status": "qualified"}`))
	f.Add(false, "Application/JSON; charset=utf-8", []byte(`{"email": "a@b.co"} x`))
	f.Add(true, "text/plain", []byte(`hello`))
	f.Add(false, "application/json", []byte(`{"email": "\u0000@x.com", "tags": [1]}`))
	f.Add(true, "application/json", []byte(`[]`))
	f.Fuzz(func(t *testing.T, patch bool, contentType string, body []byte) {
		method, path := "POST", "/v1/prospects"
		if patch {
			method, path = "PATCH", "/v1/prospects/"+target.Id
		}
		exchange(t, s, method, path, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			method, path, s.StandardKey, contentType, len(body), body))
	})
}

func FuzzQuery(f *testing.F) {
	s := fuzzServer(f)
	for _, q := range []string{"limit=5", "limit=5&limit=6", "limit=%zz", "a;b", "status=new&tag=x&created_gte=1", "starting_after=prs_x&ending_before=prs_y", "email=%40", "limit=101", "limt=1"} {
		f.Add("/v1/prospects", q)
	}
	f.Add("/healthz", "x=1")
	f.Add("/docs", "%")
	f.Fuzz(func(t *testing.T, path, query string) {
		if path != "/v1/prospects" && path != "/healthz" && path != "/docs" && path != "/v1/account" {
			path = "/v1/prospects"
		}
		target := path + "?" + query
		exchange(t, s, "GET", target, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", target, s.StandardKey))
	})
}

func FuzzPath(f *testing.F) {
	s := fuzzServer(f)
	for _, p := range []string{"/v1/prospects", "/v1/prospects/prs_x", "/v1/prospects/../account", "//v1/account", "/v1/prospects/%2F", "*", "/docs/./", "/v1/prospects/prs_%00", "http://h/v1/account", "/healthz/"} {
		f.Add("GET", p)
	}
	f.Add("DELETE", "/v1/prospects/prs_x")
	f.Add("BREW", "/v1/account")
	f.Add("OPTIONS", "*")
	f.Fuzz(func(t *testing.T, method, target string) {
		exchange(t, s, method, target, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", method, target, s.StandardKey))
	})
}

func FuzzHeaders(f *testing.F) {
	s := fuzzServer(f)
	f.Add("Accept", "application/json;q=0, */*")
	f.Add("Accept", "TEXT/*;q=0.5")
	f.Add("Authorization", "Basic !!!")
	f.Add("Authorization", "Bearer sk_")
	f.Add("Idempotency-Key", "\x7f")
	f.Add("Content-Length", "-1")
	f.Add("Transfer-Encoding", "chunked")
	f.Add("Expect", "100-continue")
	f.Add("Host", "")
	f.Fuzz(func(t *testing.T, name, value string) {
		auth := "Authorization: Bearer " + s.StandardKey + "\r\n"
		if strings.EqualFold(name, "Authorization") {
			auth = ""
		}
		body := `{"email": "h@example.com"}`
		exchange(t, s, "POST", "/v1/prospects", fmt.Sprintf("POST /v1/prospects HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s",
			auth, name, value, len(body), body))
	})
}
