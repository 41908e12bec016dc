package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// openFiles counts the file descriptors a process holds.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count file descriptors here: %v", err)
	}
	return len(entries)
}

// TestSlowBodyAttack: 500 connections that declare a body and never send it,
// with no key, while normal traffic runs. Each gets its 401 at once and is
// closed well within the request deadline; normal requests keep succeeding; the
// server's file descriptors come back down.
func TestSlowBodyAttack(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "capture.db")
	key := seedKey(t, db, store.RoleStandard)
	addr := freeAddr(t)
	const deadline = 2 * time.Second
	cmd := startServer(t, db, addr, "--request-timeout", deadline.String())
	before := openFiles(t, cmd.Process.Pid)

	const attackers = 500
	conns := make([]net.Conn, attackers)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/prospects HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", addr)
		conns[i] = c
	}

	// Normal traffic while the attack runs.
	var normalOK, normalFailed atomic.Int64
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	traffic.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", "http://"+addr+"/v1/account", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			if err == nil && res.StatusCode == 200 {
				normalOK.Add(1)
			} else {
				normalFailed.Add(1)
			}
		}
	})

	// Every attacker is answered 401 and closed before the deadline has passed twice.
	var wg sync.WaitGroup
	var answered, closed atomic.Int64
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(start.Add(2 * deadline))
			r := bufio.NewReader(c)
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Errorf("attacker %d got no answer: %v", i, err)
				return
			}
			io.Copy(io.Discard, res.Body)
			if res.StatusCode == 401 && res.Header.Get("Request-Id") != "" {
				answered.Add(1)
			}
			if _, err := r.ReadByte(); err == io.EOF {
				closed.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	traffic.Wait()
	t.Logf("%d of %d attackers answered 401, %d closed by the server within %v; normal requests: %d ok, %d failed",
		answered.Load(), attackers, closed.Load(), 2*deadline, normalOK.Load(), normalFailed.Load())
	if answered.Load() != attackers || closed.Load() != attackers {
		t.Errorf("answered %d, closed %d; want all %d", answered.Load(), closed.Load(), attackers)
	}
	if normalOK.Load() == 0 || normalFailed.Load() > 0 {
		t.Errorf("normal requests during the attack: %d ok, %d failed", normalOK.Load(), normalFailed.Load())
	}
	// The server lets go of the attackers' descriptors as it finishes each connection.
	poll.Until(t, 5*time.Second, fmt.Sprintf("the server to hold at most %d file descriptors, as before the attack", before+10), func() (bool, string) {
		n := openFiles(t, cmd.Process.Pid)
		return n <= before+10, fmt.Sprintf("%d file descriptors (%d before the attack)", n, before)
	})
}

// idempotentOp is one create or patch made with its own Idempotency-Key.
type idempotentOp struct {
	method, path, body, key string
	email, token, target    string // what shows that the effect happened
	answered                bool   // an answer came back before the kill
	status                  int
	answer                  []byte
}

// TestKillDuringIdempotentWrites kills the real binary with SIGKILL while
// idempotent creates and patches are in flight, restarts it, and retries every
// request with its key. Whatever the instant of the kill, a request whose
// effect is visible has its answer kept (the retry is a replay of it), and one
// whose effect is not visible runs once more: never a second effect, never a
// prospect_exists for the request's own prospect. On PostgreSQL the killed
// process's connections end with it, and with them its open transactions:
// their keys' claims included.
func TestKillDuringIdempotentWrites(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "capture.db")
		testKillDuringIdempotentWrites(t, db, seedKey(t, db, store.RoleStandard))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.URL(t)
		testKillDuringIdempotentWrites(t, dsn, seedPostgresKey(t, dsn, store.RoleStandard))
	})
}

func testKillDuringIdempotentWrites(t *testing.T, db, key string) {
	addr := freeAddr(t)
	base := "http://" + addr
	flags := []string{"--request-timeout", "1s"}
	cmd := startServer(t, db, addr, flags...)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(method, path, body, idem string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}

	const workers = 16
	targets := make([]string, workers)
	for w := range workers {
		res, b, err := send("POST", "/v1/prospects", fmt.Sprintf(`{"email": "target%d@example.com"}`, w), "")
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("seed: %v %s", err, b)
		}
		var p struct{ ID string }
		json.Unmarshal(b, &p)
		targets[w] = p.ID
	}

	var unknown, checked int
	for round := range 3 {
		var mu sync.Mutex
		var ops []*idempotentOp
		var done atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; ; i++ {
					token := fmt.Sprintf("r%dw%di%d", round, w, i)
					op := &idempotentOp{key: token}
					if i%2 == 0 {
						op.method, op.path, op.email = "POST", "/v1/prospects", token+"@example.com"
						op.body = fmt.Sprintf(`{"email": %q}`, op.email)
					} else {
						op.method, op.path, op.target, op.token = "PATCH", "/v1/prospects/"+targets[w], targets[w], token
						op.body = fmt.Sprintf(`{"metadata": {"token": %q}}`, token)
					}
					mu.Lock()
					ops = append(ops, op)
					mu.Unlock()
					res, b, err := send(op.method, op.path, op.body, op.key)
					if err != nil {
						return // the server died under this request
					}
					op.answered, op.status, op.answer = true, res.StatusCode, b
					done.Add(1)
				}
			})
		}
		// Kill at a random instant once writes are flowing.
		kill := int64(20 + rand.IntN(60))
		poll.Until(t, 20*time.Second, fmt.Sprintf("%d writes answered", kill), func() (bool, string) {
			return done.Load() >= kill, fmt.Sprintf("%d answered", done.Load())
		})
		cmd.Process.Kill()
		cmd.Wait()
		wg.Wait()
		cmd = startServer(t, db, addr, flags...)

		var retries sync.WaitGroup
		for _, op := range ops {
			if op.answered {
				if op.status >= 500 {
					t.Errorf("%s %s answered %d before the kill: %s", op.method, op.path, op.status, op.answer)
				}
				continue
			}
			unknown++
			retries.Go(func() { checkRetry(t, send, op) })
		}
		// Every create answered before the kill is stored: an answer is sent
		// only once its commit is done.
		for _, op := range ops {
			if op.answered && op.status == 201 {
				retries.Go(func() {
					var p struct{ ID string }
					json.Unmarshal(op.answer, &p)
					res, b, err := send("GET", "/v1/prospects/"+p.ID, "", "")
					if err != nil {
						t.Error(err)
					} else if res.StatusCode != 200 {
						t.Errorf("%s answered 201 before the kill, then GET %d: %s", p.ID, res.StatusCode, b)
					}
				})
			}
		}
		// A sample of answered requests: their retries replay their answers.
		for i, op := range ops {
			if op.answered && i%25 == 0 {
				retries.Go(func() {
					res, b, err := send(op.method, op.path, op.body, op.key)
					if err != nil || res.StatusCode != op.status || string(b) != string(op.answer) || res.Header.Get("Idempotent-Replayed") != "true" {
						t.Errorf("%s %s retry of an answered request: %v %v %s; want the replay of %d %s", op.method, op.path, err, res, b, op.status, op.answer)
					}
				})
				checked++
			}
		}
		retries.Wait()
	}
	// The account's count of live prospects is the number there are.
	listed, cursor := 0, ""
	for {
		res, b, err := send("GET", "/v1/prospects?limit=100"+cursor, "", "")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("list: %v %v %s", err, res, b)
		}
		var page struct {
			Data    []struct{ ID string }
			HasMore bool `json:"has_more"`
		}
		json.Unmarshal(b, &page)
		listed += len(page.Data)
		if !page.HasMore {
			break
		}
		cursor = "&starting_after=" + page.Data[len(page.Data)-1].ID
	}
	res, b, err := send("GET", "/v1/account", "", "")
	var account struct {
		ProspectCount int `json:"prospect_count"`
	}
	if err != nil || res.StatusCode != 200 || json.Unmarshal(b, &account) != nil || account.ProspectCount != listed {
		t.Errorf("the account counts %d live prospects, %d are listed: %v %s", account.ProspectCount, listed, err, b)
	}
	t.Logf("%d requests were in flight at the kills and retried; %d answered ones replayed", unknown, checked)
	if unknown == 0 {
		t.Fatal("no request was in flight at any kill: the test proved nothing")
	}
}

// checkRetry looks at whether an interrupted request's effect is visible, then
// retries it with its key (waiting out the lock of a request that died before
// it committed) and checks the retry against what it saw.
func checkRetry(t *testing.T, send func(method, path, body, idem string) (*http.Response, []byte, error), op *idempotentOp) {
	visible := func() (bool, string) {
		if op.method == "POST" {
			_, b, err := send("GET", "/v1/prospects?email="+op.email, "", "")
			if err != nil {
				t.Errorf("list: %v", err)
				return false, ""
			}
			var page struct{ Data []struct{ ID string } }
			json.Unmarshal(b, &page)
			if len(page.Data) > 1 {
				t.Errorf("%d prospects with %s", len(page.Data), op.email)
			}
			if len(page.Data) == 1 {
				return true, page.Data[0].ID
			}
			return false, ""
		}
		_, b, err := send("GET", "/v1/prospects/"+op.target, "", "")
		if err != nil {
			t.Errorf("get: %v", err)
			return false, ""
		}
		var p struct{ Metadata map[string]string }
		json.Unmarshal(b, &p)
		return p.Metadata["token"] == op.token, op.target
	}
	happened, id := visible()
	var res *http.Response
	var b []byte
	for wait := time.Now().Add(20 * time.Second); ; {
		var err error
		res, b, err = send(op.method, op.path, op.body, op.key)
		if err != nil {
			t.Errorf("%s retry: %v", op.key, err)
			return
		}
		if res.StatusCode != 409 || !strings.Contains(string(b), "idempotency_key_in_use") || time.Now().After(wait) {
			break
		}
		time.Sleep(time.Second) // the answer's Retry-After: the dead request's lock runs out
	}
	replayed := res.Header.Get("Idempotent-Replayed") == "true"
	var p struct{ ID string }
	json.Unmarshal(b, &p)
	switch {
	case res.StatusCode >= 300:
		t.Errorf("%s %s (key %s) retried: %d %s", op.method, op.path, op.key, res.StatusCode, b)
	case happened && !replayed:
		t.Errorf("%s (key %s): its effect was stored, yet the retry ran it again: %s", op.method, op.key, b)
	case !happened && replayed:
		t.Errorf("%s (key %s): a replay of an answer whose effect is not stored: %s", op.method, op.key, b)
	case happened && p.ID != id:
		t.Errorf("%s (key %s): the replay names %s, the stored effect %s", op.method, op.key, p.ID, id)
	}
	if now, _ := visible(); !now {
		t.Errorf("%s (key %s): no effect after a successful retry", op.method, op.key)
	}
}
