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
