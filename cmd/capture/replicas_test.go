package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// replicaSet is several `capture serve` processes on one PostgreSQL and one
// Redis, and a client that spreads requests over them round-robin.
type replicaSet struct {
	t      *testing.T
	dsn    string
	redis  string
	addrs  []string
	cmds   []*exec.Cmd
	next   atomic.Uint64
	client *http.Client
}

// startReplicas starts n replicas at once on a new, empty schema: they
// migrate it together, and exactly one of them makes the default account and
// prints its admin key.
func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	binary(t)
	redisURL := os.Getenv("CAPTURE_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("replica tests skipped: set CAPTURE_TEST_REDIS_URL (such as redis://127.0.0.1:6379/0) to run them")
	}
	rs := &replicaSet{t: t, dsn: pgtest.URL(t), redis: redisURL, client: &http.Client{Timeout: 30 * time.Second}}
	outs := make([]string, n)
	for i := range n {
		addr := freeAddr(t)
		outs[i] = filepath.Join(t.TempDir(), "stdout")
		out, err := os.Create(outs[i])
		if err != nil {
			t.Fatal(err)
		}
		cmd := command(t, nil, rs.serveArgs(addr)...)
		cmd.Stdout, cmd.Stderr = out, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out.Close()
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		rs.addrs, rs.cmds = append(rs.addrs, addr), append(rs.cmds, cmd)
	}
	for i, addr := range rs.addrs {
		poll.Until(t, 20*time.Second, fmt.Sprintf("replica %d to answer /healthz", i), func() (bool, string) {
			res, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				return false, err.Error()
			}
			res.Body.Close()
			return true, ""
		})
	}
	printed := 0
	for _, path := range outs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		printed += strings.Count(string(b), "Its secret is shown only this once")
	}
	if printed != 1 {
		t.Errorf("%d replicas started together printed the default account's admin key, want exactly 1", printed)
	}
	return rs
}

func (rs *replicaSet) serveArgs(addr string) []string {
	// A request timeout that a loaded test machine meets (a replica's pool
	// waits up to half of it for a connection), and short enough that a
	// killed replica's idempotency locks run out within a retry's patience.
	return []string{"serve", "--db", rs.dsn, "--addr", addr, "--redis", rs.redis, "--request-timeout", "4s",
		"--webhooks-allow-private"}
}

// seed makes an account with a standard key, through the database.
func (rs *replicaSet) seed(name string, rateLimit int) (secret, keyID string) {
	t := rs.t
	t.Helper()
	ctx := context.Background()
	db := pgtest.OpenURL(t, rs.dsn)
	a, err := db.CreateAccount(ctx, name, 1_000_000, rateLimit)
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := db.CreateKey(ctx, a.ID, store.RoleStandard)
	if err != nil {
		t.Fatal(err)
	}
	return secret, k.ID
}

// answer is a response with its body read and checked against openapi.yaml.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// code is the error code of an error answer.
func (a answer) code() string {
	var e struct{ Error struct{ Code string } }
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// send sends a request to replica i (any replica when i < 0, round-robin).
func (rs *replicaSet) send(i int, key, method, path, body, idem string) (answer, error) {
	if i < 0 {
		i = int(rs.next.Add(1) % uint64(len(rs.addrs)))
	}
	req, _ := http.NewRequest(method, "http://"+rs.addrs[i]+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	res, err := rs.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	if err := apitest.Check(rs.t, method, path, res, b); err != nil {
		rs.t.Errorf("%s %s on replica %d: the answer breaks openapi.yaml: %v", method, path, i, err)
	}
	return answer{res.StatusCode, res.Header, b}, nil
}

// must is send for requests that must get an answer, from the test's goroutine.
func (rs *replicaSet) must(i int, key, method, path, body, idem string) answer {
	rs.t.Helper()
	a, err := rs.send(i, key, method, path, body, idem)
	if err != nil {
		rs.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// countEmail counts the live prospects with the email.
func (rs *replicaSet) countEmail(key, email string) int {
	a := rs.must(-1, key, "GET", "/v1/prospects?email="+email, "", "")
	var page struct{ Data []json.RawMessage }
	if err := json.Unmarshal(a.body, &page); err != nil || a.status != 200 {
		rs.t.Fatalf("list by email: %d %s", a.status, a.body)
	}
	return len(page.Data)
}

// TestReplicas runs three real `capture serve` processes on one PostgreSQL
// schema and one Redis, requests spread round-robin over them: they behave as
// one service.
func TestReplicas(t *testing.T) {
	rs := startReplicas(t, 3)
	key, _ := rs.seed("acme", 1_000_000)

	t.Run("one Idempotency-Key from 40 clients makes one prospect", func(t *testing.T) {
		var wg sync.WaitGroup
		answers := make([]answer, 40)
		for i := range answers {
			wg.Go(func() {
				a, err := rs.send(i%3, key, "POST", "/v1/prospects", `{"email": "once@example.com"}`, "create-once")
				if err != nil {
					t.Error(err)
				}
				answers[i] = a
			})
		}
		wg.Wait()
		fresh := 0
		for _, a := range answers {
			switch {
			case a.status == 201 && a.header.Get("Idempotent-Replayed") == "":
				fresh++
			case a.status == 201, a.status == 409 && a.code() == "idempotency_key_in_use":
			default:
				t.Errorf("answer %d %s", a.status, a.body)
			}
		}
		if fresh != 1 {
			t.Errorf("%d first runs, want 1", fresh)
		}
		if n := rs.countEmail(key, "once@example.com"); n != 1 {
			t.Errorf("%d prospects stored, want 1", n)
		}
	})

	t.Run("one email from two replicas at once makes one prospect and one 409", func(t *testing.T) {
		for round := range 5 {
			email := fmt.Sprintf("race%d@example.com", round)
			var wg sync.WaitGroup
			answers := make([]answer, 2)
			for i := range answers {
				wg.Go(func() {
					a, err := rs.send(i, key, "POST", "/v1/prospects", fmt.Sprintf(`{"email": %q}`, email), "")
					if err != nil {
						t.Error(err)
					}
					answers[i] = a
				})
			}
			wg.Wait()
			created, exists := 0, 0
			for _, a := range answers {
				switch {
				case a.status == 201:
					created++
				case a.status == 409 && a.code() == "prospect_exists":
					exists++
				default:
					t.Errorf("answer %d %s", a.status, a.body)
				}
			}
			if created != 1 || exists != 1 || rs.countEmail(key, email) != 1 {
				t.Errorf("round %d: %d created, %d prospect_exists; want one of each and one prospect", round, created, exists)
			}
		}
	})

	t.Run("a key limited to 5/s gets its burst of 5 from all replicas together", func(t *testing.T) {
		noisy, _ := rs.seed("noisy", 5)
		// Requests go to the replicas in turn, as fast as they are answered: with
		// one shared limit the burst of 5 is spent after about 5 allowed (a token
		// comes back every 200 ms); with a limit per replica it would take 15.
		allowed := 0
		for range 40 {
			a := rs.must(-1, noisy, "GET", "/v1/account", "", "")
			if a.status == 429 {
				if a.header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After: %s", a.body)
				}
				break
			}
			if a.status != 200 {
				t.Fatalf("answer %d %s", a.status, a.body)
			}
			allowed++
		}
		t.Logf("%d allowed over 3 replicas before the first 429", allowed)
		if allowed < 5 || allowed > 8 {
			t.Errorf("%d requests allowed before the first 429, want the shared burst of 5 (plus a token or two refilled meanwhile)", allowed)
		}
	})

	t.Run("capture maintenance on reaches every replica within a second", func(t *testing.T) {
		if _, stderr, code := runPiped(t, nil, "maintenance", "on", "--retry-after", "7", "--db", rs.dsn); code != 0 {
			t.Fatalf("maintenance on: exit %d: %s", code, stderr)
		}
		poll.Until(t, time.Second, "every replica to answer 503 maintenance with Retry-After 7", func() (bool, string) {
			for i := range rs.addrs {
				a := rs.must(i, key, "GET", "/v1/prospects", "", "")
				if a.status != 503 || a.code() != "maintenance" || a.header.Get("Retry-After") != "7" {
					return false, fmt.Sprintf("replica %d answers %d %s", i, a.status, a.body)
				}
			}
			return true, ""
		})
		if _, stderr, code := runPiped(t, nil, "maintenance", "off", "--db", rs.dsn); code != 0 {
			t.Fatalf("maintenance off: exit %d: %s", code, stderr)
		}
		poll.Until(t, time.Second, "every replica to serve again after maintenance off", func() (bool, string) {
			for i := range rs.addrs {
				if a := rs.must(i, key, "GET", "/v1/prospects", "", ""); a.status != 200 {
					return false, fmt.Sprintf("replica %d answers %d %s", i, a.status, a.body)
				}
			}
			return true, ""
		})
	})

	t.Run("each event is delivered once, whichever replica made it", func(t *testing.T) {
		var mu sync.Mutex
		got := map[string]int{} // webhook-id: deliveries
		var wh *standardwebhooks.Webhook
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if err := wh.Verify(body, r.Header); err != nil {
				t.Errorf("a delivery's signature: %v", err)
			}
			got[r.Header.Get("webhook-id")]++
		}))
		defer rcv.Close()
		db := pgtest.OpenURL(t, rs.dsn)
		a, err := db.AccountByName(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		ep := &store.WebhookEndpoint{AccountID: a.ID, URL: rcv.URL, EnabledEvents: []string{"prospect.created"}}
		mu.Lock()
		err = db.CreateWebhookEndpoint(context.Background(), ep)
		if err == nil {
			wh, err = standardwebhooks.NewWebhook(ep.Secret)
		}
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		const n = 30
		for i := range n {
			if a := rs.must(-1, key, "POST", "/v1/prospects", fmt.Sprintf(`{"email": "hook%d@example.com"}`, i), ""); a.status != 201 {
				t.Fatalf("create: %d %s", a.status, a.body)
			}
		}
		poll.Until(t, 20*time.Second, fmt.Sprintf("all %d events delivered", n), func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == n, fmt.Sprintf("%d of %d events delivered", len(got), n)
		})
		mu.Lock()
		defer mu.Unlock()
		for id, times := range got {
			if times != 1 {
				t.Errorf("event %s delivered %d times, want once", id, times)
			}
		}
	})

	t.Run("kill -9 of one replica under creates loses no acknowledged create", func(t *testing.T) {
		type op struct {
			idempotentOp
			replica int
		}
		var mu sync.Mutex
		var ops []*op
		var done atomic.Int64
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					token := fmt.Sprintf("kill-w%di%d", w, i)
					o := &op{replica: (w + i) % 3}
					o.key, o.method, o.path, o.email = token, "POST", "/v1/prospects", token+"@example.com"
					o.body = fmt.Sprintf(`{"email": %q}`, o.email)
					mu.Lock()
					ops = append(ops, o)
					mu.Unlock()
					a, err := rs.send(o.replica, key, o.method, o.path, o.body, o.key)
					if err != nil {
						continue // the replica died under this request, or is dead
					}
					o.answered, o.status, o.answer = true, a.status, a.body
					done.Add(1)
				}
			})
		}
		defer stop.Store(true) // the workers stop also when a wait below fails
		answered := func(n int64) func() (bool, string) {
			return func() (bool, string) { return done.Load() >= n, fmt.Sprintf("%d answered", done.Load()) }
		}
		first := int64(60 + rand.IntN(60))
		poll.Until(t, 20*time.Second, fmt.Sprintf("%d creates answered", first), answered(first))
		rs.cmds[0].Process.Kill() // SIGKILL
		rs.cmds[0].Wait()
		more := done.Load() + 60 // the others go on serving
		poll.Until(t, 20*time.Second, fmt.Sprintf("%d creates answered after the kill", more), answered(more))
		stop.Store(true)
		wg.Wait()

		// Retries go to another replica than the one that took the request.
		survivor := func(method, path, body, idem string) (*http.Response, []byte, error) {
			a, err := rs.send(1+rand.IntN(2), key, method, path, body, idem)
			if err != nil {
				return nil, nil, err
			}
			return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body))}, a.body, nil
		}
		var checks sync.WaitGroup
		acknowledged, unknown := 0, 0
		for _, o := range ops {
			switch {
			case o.answered && o.status == 201:
				acknowledged++
				var p struct{ ID string }
				json.Unmarshal(o.answer, &p)
				checks.Go(func() {
					if a, err := rs.send(1, key, "GET", "/v1/prospects/"+p.ID, "", ""); err != nil || a.status != 200 {
						t.Errorf("acknowledged create %s (replica %d) is lost: %v %d %s", p.ID, o.replica, err, a.status, a.body)
					}
				})
			case o.answered:
				t.Errorf("%s %s on replica %d: %d %s", o.method, o.path, o.replica, o.status, o.answer)
			default:
				unknown++
				checks.Go(func() { checkRetry(t, survivor, &o.idempotentOp) })
			}
		}
		checks.Wait()
		t.Logf("%d creates acknowledged and found; %d unanswered by the killed replica, retried on the others", acknowledged, unknown)
		if unknown == 0 {
			t.Error("no request was in flight at the kill: the test proved nothing")
		}
	})
}
