package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server/store"
)

// TestSmugglingCloseTheConnection: a request with both Content-Length and
// Transfer-Encoding: chunked is answered 400 and its connection closed (RFC
// 9112 §6.1), so a request smuggled behind it on the same connection is never
// answered, whichever of the two lengths a proxy in front believed.
func TestSmugglingClosesTheConnection(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, db, store.RoleAdmin)
	addr := freeAddr(t)
	startServer(t, db, addr)

	smuggled := "GET /v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n"
	for name, head := range map[string]string{
		// A front end that goes by Content-Length sends it all as one request's body.
		"content-length covers it": fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n", len("0\r\n\r\n"+smuggled)),
		// One that goes by the chunks ends the body at the empty chunk.
		"chunks end before it": "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			req := "POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nContent-Type: application/json\r\n" +
				head + "\r\n0\r\n\r\n" + smuggled
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if err := apitest.Check(t, "POST", "/v1/prospects", res, body); err != nil {
				t.Error(err)
			}
			if res.StatusCode != 400 || !strings.Contains(string(body), `"request_malformed"`) || !res.Close {
				t.Errorf("want 400 request_malformed with Connection: close, got %d (close %v) %s", res.StatusCode, res.Close, body)
			}
			// The connection ends there: no answer to the smuggled request.
			if next, err := http.ReadResponse(br, nil); err == nil {
				b, _ := io.ReadAll(next.Body)
				t.Fatalf("the smuggled request was answered: %d %s", next.StatusCode, b)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				t.Fatalf("after the 400: %v, want the connection closed", err)
			}
		})
	}
}

// isReset reports whether err is the peer resetting the connection.
func isReset(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && strings.Contains(se.Error(), "reset")
}

// TestStandardKeyGetsForbiddenWhateverTheRequest: on admin-only operations a
// standard key is refused for its role, 403 admin_key_required, before its body
// or query is looked at: an invalid one does not turn the answer into a 400.
func TestStandardKeyGetsForbiddenWhateverTheRequest(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, db, store.RoleStandard)
	addr := freeAddr(t)
	startServer(t, db, addr)
	base := "http://" + addr
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/webhook_endpoints", `{"url": "https://hooks.example.com/c"}`},
		{"POST", "/v1/webhook_endpoints", `{"url": 7, "nonsense": true}`},
		{"POST", "/v1/webhook_endpoints", `not json`},
		{"GET", "/v1/webhook_endpoints?limit=0&bogus=1", ""},
		{"GET", "/v1/webhook_endpoints/we_abc", ""},
		{"PATCH", "/v1/webhook_endpoints/we_abc", `{"url": []}`},
		{"DELETE", "/v1/webhook_endpoints/we_abc?x=1", ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+key)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if err := apitest.Check(t, tc.method, tc.path, res, body); err != nil {
			t.Error(err)
		}
		if res.StatusCode != 403 || !strings.Contains(string(body), `"admin_key_required"`) {
			t.Errorf("%s %s %s with a standard key: %d %s, want 403 admin_key_required", tc.method, tc.path, tc.body, res.StatusCode, body)
		}
	}
}
