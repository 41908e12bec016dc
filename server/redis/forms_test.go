package redis_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres/pgtest"
)

// TestSubmissionLimitIsShared: two replicas on one database and one Redis
// count a client address's submissions to a form together.
func TestSubmissionLimitIsShared(t *testing.T) {
	shared := redisURL(t)
	dsn := pgtest.URL(t)
	a := apitest.NewOnPostgres(t, dsn, func(c *server.Config) { c.Limiter = open(t, shared) })
	b := apitest.NewOnPostgres(t, dsn, func(c *server.Config) { c.Limiter = open(t, shared) })
	req, _ := http.NewRequest("POST", a.URL+"/v1/forms", strings.NewReader(`{"name": "shared", "allowed_origins": []}`))
	req.Header.Set("Authorization", "Bearer "+a.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create form: %v %v", res, err)
	}
	defer res.Body.Close()
	var form struct {
		SubmitURL string `json:"submit_url"`
	}
	if err := json.NewDecoder(res.Body).Decode(&form); err != nil {
		t.Fatal(err)
	}
	submit := func(s *apitest.Server) int {
		res, err := http.Post(s.URL+form.SubmitURL, "application/json", strings.NewReader(`{"email": "ada@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range server.DefaultSubmissionsPerMinute {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		if got := submit(replica); got != http.StatusCreated {
			t.Fatalf("submission %d: %d", i+1, got)
		}
	}
	for name, replica := range map[string]*apitest.Server{"a": a, "b": b} {
		if got := submit(replica); got != http.StatusTooManyRequests {
			t.Errorf("replica %s after %d submissions across both: %d, want 429", name, server.DefaultSubmissionsPerMinute, got)
		}
	}
}
