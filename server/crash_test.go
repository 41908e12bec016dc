package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

// answerLost is the real store, except that keeping an idempotent answer fails
// while lose is set: what a crash between a request's effect and its answer did
// before the two were one transaction.
type answerLost struct {
	store.Store
	lose atomic.Bool
}

func (s *answerLost) FinishIdempotent(ctx context.Context, accountID, key, requestID string, status int, body []byte) error {
	if s.lose.Load() {
		return store.ErrUnavailable
	}
	return s.Store.FinishIdempotent(ctx, accountID, key, requestID, status, body)
}

// ClaimsInTransaction claims keys in the request's transaction, as the real store does.
func (s *answerLost) ClaimsInTransaction() bool {
	tc, ok := s.Store.(store.TransactionalClaims)
	return ok && tc.ClaimsInTransaction()
}

// TestIdempotentEffectCommitsWithItsAnswer: when the answer of an idempotent
// request cannot be kept, its effect is not kept either, so the retry with the
// same key is a first run, never a conflict with itself.
func TestIdempotentEffectCommitsWithItsAnswer(t *testing.T) {
	onEachEngine(t, testIdempotentEffectCommitsWithItsAnswer)
}

func testIdempotentEffectCommitsWithItsAnswer(t *testing.T, newServer apitest.NewFunc) {
	var st *answerLost
	s := newServer(t, func(c *server.Config) { st = &answerLost{Store: c.Store}; c.Store = st })
	c := s.Client(t, s.StandardKey)
	target := create(t, c, gen.ProspectCreate{Email: "target@example.com"})

	st.lose.Store(true)
	res, b := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "once@example.com"}`, "Idempotency-Key", "create-1")
	wantError(t, res, b, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	res, b = do(t, "PATCH", s.URL+"/v1/prospects/"+target.Id, s.StandardKey, "application/json", `{"status": "converted"}`, "Idempotency-Key", "patch-1")
	wantError(t, res, b, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if got, _ := c.ListProspectsWithResponse(context.Background(), &gen.ListProspectsParams{Email: ptr("once@example.com")}); len(got.JSON200.Data) != 0 {
		t.Fatalf("the create's effect was kept without its answer: %s", got.Body)
	}
	if got, _ := c.GetProspectWithResponse(context.Background(), target.Id); got.JSON200.Status != gen.ProspectStatusNew {
		t.Fatalf("the patch's effect was kept without its answer: status %s", got.JSON200.Status)
	}

	st.lose.Store(false)
	for _, r := range []struct{ method, path, body, key string }{
		{"POST", "/v1/prospects", `{"email": "once@example.com"}`, "create-1"},
		{"PATCH", "/v1/prospects/" + target.Id, `{"status": "converted"}`, "patch-1"},
	} {
		first, fb := do(t, r.method, s.URL+r.path, s.StandardKey, "application/json", r.body, "Idempotency-Key", r.key)
		if first.StatusCode >= 300 || first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%s retry: %d replayed=%q %s; want a first run", r.method, first.StatusCode, first.Header.Get("Idempotent-Replayed"), fb)
		}
		again, ab := do(t, r.method, s.URL+r.path, s.StandardKey, "application/json", r.body, "Idempotency-Key", r.key)
		if again.StatusCode != first.StatusCode || again.Header.Get("Idempotent-Replayed") != "true" || string(ab) != string(fb) {
			t.Errorf("%s replay: %d %s; want the first run's answer", r.method, again.StatusCode, ab)
		}
	}
	if n := countProspects(t, s, s.StandardKey); n != 2 {
		t.Errorf("%d prospects, want 2 (the target and one create)", n)
	}
}

// TestVanishedDatabase: a database file deleted or replaced under a running
// server makes it unready and its writes fail; it never makes a new one.
func TestVanishedDatabase(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			s := apitest.New(t)
			if res, b := do(t, "GET", s.URL+"/readyz", "", "", ""); res.StatusCode != 200 {
				t.Fatalf("/readyz before: %d %s", res.StatusCode, b)
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(s.DBPath + suffix)
			}
			if how == "replaced" {
				if err := os.WriteFile(s.DBPath, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// /readyz may repeat its last answer for up to a quarter of a second.
			var res *http.Response
			var b []byte
			poll.Until(t, 2*time.Second, "/readyz to notice the database is gone", func() (bool, string) {
				res, b = do(t, "GET", s.URL+"/readyz", "", "", "")
				return res.StatusCode != 200, fmt.Sprintf("/readyz answers %d %s", res.StatusCode, b)
			})
			wantError(t, res, b, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
			res, b = do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email": "lost@example.com"}`)
			wantError(t, res, b, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
			if res.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			entries, _ := os.ReadDir(filepath.Dir(s.DBPath))
			if how == "deleted" && len(entries) != 0 {
				t.Errorf("a new database appeared in place of the deleted one: %v", entries)
			}
		})
	}
}
