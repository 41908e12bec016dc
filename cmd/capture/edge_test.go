package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/store"
)

// serveWithKey starts the binary on a new database with an account and a key
// of the role, and returns the server's address and the key.
func serveWithKey(t *testing.T, role store.Role) (addr, key string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "capture.db")
	key = seedKey(t, db, role)
	addr = freeAddr(t)
	startServer(t, db, addr)
	return addr, key
}

// TestSmugglingClosesTheConnection: a request with both Content-Length and
// Transfer-Encoding: chunked, or with Transfer-Encoding in HTTP/1.0, is answered
// 400 and its connection closed (RFC 9112 §6.1), so a request smuggled behind
// it on the same connection is never answered, whichever of the two lengths a
// proxy in front believed.
func TestSmugglingClosesTheConnection(t *testing.T) {
	t.Parallel()
	addr, key := serveWithKey(t, store.RoleAdmin)

	smuggled := "GET /v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n"
	// A create whose JSON body has no final newline, as most have: the next
	// request's line starts on the body's last line.
	body := `{"email": "first@example.com", "company": "Analytical Engines of London"}`
	create := fmt.Sprintf("POST /v1/prospects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", key, len(body), body)
	for name, tc := range map[string]struct{ before, target, head string }{
		// A front end that goes by Content-Length sends it all as one request's body.
		"content-length covers it": {head: fmt.Sprintf("HTTP/1.1\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n", len("0\r\n\r\n"+smuggled))},
		// One that goes by the chunks ends the body at the empty chunk.
		"chunks end before it": {head: "HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"},
		// HTTP/1.0 has no chunks: net/http goes by Content-Length, a proxy may not.
		"http/1.0 with chunks": {head: "HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"},
		// However long the request line.
		"a long target": {target: "/v1/prospects?" + strings.Repeat("padding", 20) + "=1", head: "HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"},
		// After a request on the same connection whose body ended without a newline.
		"after a body": {before: create, head: "HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			target := cmp.Or(tc.target, "/v1/prospects")
			br := bufio.NewReader(c)
			if tc.before != "" { // answered before the next request is sent
				if _, err := io.WriteString(c, tc.before); err != nil {
					t.Fatal(err)
				}
				first, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(first.Body)
				first.Body.Close()
				if first.StatusCode != 201 {
					t.Fatalf("the create before: %d %s", first.StatusCode, b)
				}
			}
			req := "POST " + target + " " + tc.head + "Host: x\r\nAuthorization: Bearer " + key + "\r\nContent-Type: application/json\r\n" +
				"\r\n0\r\n\r\n" + smuggled
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
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
	addr, key := serveWithKey(t, store.RoleStandard)
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

// startRedis runs a redis-server of the test's own on addr, keeping nothing on
// disk, until stop (or the test's end); skipped where there is no redis-server.
func startRedis(t *testing.T, addr string) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("needs redis-server on the PATH")
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	poll.Until(t, 10*time.Second, "redis-server to accept connections", func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	return stop
}

// TestRedisOutageLogsOneJSONLinePerChange: while the Redis that shares rate
// limits is down, the JSON log gets one line saying so and one when it is
// back, however many requests try it meanwhile, and no plain-text line from
// the Redis client.
func TestRedisOutageLogsOneJSONLinePerChange(t *testing.T) {
	t.Parallel()
	redisAddr := freeAddr(t)
	stopRedis := startRedis(t, redisAddr)
	db := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, db, store.RoleStandard)
	addr := freeAddr(t)
	cmd := command(t, nil, "serve", "--db", db, "--addr", addr, "--redis", "redis://"+redisAddr+"/0", "--log-format", "json")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	account := func() (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Status
	}
	poll.Until(t, 20*time.Second, "the server to answer with Redis up", func() (bool, string) {
		code, state := account()
		return code == 200, state
	})

	stopRedis()
	// Requests for a few seconds of outage: the server tries Redis again every
	// second, and the client dials it each time.
	outage := time.Now()
	poll.Until(t, 20*time.Second, "4 s of requests with Redis down", func() (bool, string) {
		code, state := account()
		if code != 200 {
			t.Fatalf("with Redis down: %s, want 200 (limited in the process)", state)
		}
		return time.Since(outage) > 4*time.Second, "still in the outage"
	})
	startRedis(t, redisAddr)
	poll.Until(t, 20*time.Second, "a log line saying the shared limiter is back", func() (bool, string) {
		account()
		return strings.Contains(logs.String(), "shared rate limiter is back"), "not yet"
	})

	var down, up int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("a log line that is not JSON: %q", line)
			continue
		}
		if entry.Msg == "request" || entry.Level == "DEBUG" {
			continue
		}
		switch {
		case strings.Contains(entry.Msg, "rate limiter unreachable"):
			down++
		case strings.Contains(entry.Msg, "rate limiter is back"):
			up++
		case strings.Contains(strings.ToLower(entry.Msg), "redis"):
			t.Errorf("a line about Redis besides the one per change: %s", line)
		}
	}
	if down != 1 || up != 1 {
		t.Errorf("%d lines say Redis is unreachable and %d that it is back, want 1 each:\n%s", down, up, logs.String())
	}
}
