package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// TestRetentionSweepOnStart: the queue sweeps when it starts (and daily):
// the prospect past its account's retention is deleted, the converted one
// kept, and the metric counts it.
func TestRetentionSweepOnStart(t *testing.T) { onEachEngine(t, testRetentionSweepOnStart) }

func testRetentionSweepOnStart(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	day := 1
	if err := s.Store.SetRetentionDays(ctx, a.ID, &day); err != nil {
		t.Fatal(err)
	}
	res, body := do(t, "GET", s.URL+"/v1/account", s.StandardKey, "", "")
	if res.StatusCode != 200 || !strings.Contains(string(body), `"retention_days":1`) {
		t.Fatalf("account: %d %s", res.StatusCode, body)
	}
	var ids []string
	for _, b := range []string{`{"email":"old@example.com"}`, `{"email":"won@example.com","status":"converted"}`} {
		res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", b)
		if res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		var p struct{ ID string }
		json.Unmarshal(body, &p)
		ids = append(ids, p.ID)
	}

	cfg := server.DeliveryConfig(server.DeliveryOptions{Webhooks: s.Store.(store.WebhookStore), PollInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	later := time.Now().Add(2 * 24 * time.Hour)
	server.AddRetention(cfg, server.RetentionOptions{Store: s.Store.(store.PrivacyStore), Now: func() time.Time { return later },
		Logger: slog.New(slog.DiscardHandler), Metrics: s.Handler.Metrics()})
	startQueue(t, s.Store, cfg)
	poll.Until(t, 10*time.Second, "the sweep deletes the stale prospect", func() (bool, string) {
		res, _ := do(t, "GET", s.URL+"/v1/prospects/"+ids[0], s.StandardKey, "", "")
		return res.StatusCode == 410, fmt.Sprintf("status %d", res.StatusCode)
	})
	if res, body := do(t, "GET", s.URL+"/v1/prospects/"+ids[1], s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Errorf("the converted prospect: %d %s", res.StatusCode, body)
	}
	// The worker counts after its transaction commits, so the 410 can be
	// seen a moment before the count.
	poll.Until(t, 10*time.Second, "the metric counts the sweep's deletion", func() (bool, string) {
		_, metrics := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
		for _, line := range strings.Split(string(metrics), "\n") {
			if strings.HasPrefix(line, "capture_retention_deleted_total ") {
				return line == "capture_retention_deleted_total 1", line
			}
		}
		return false, "no capture_retention_deleted_total line"
	})
}

// startQueue starts the queue of the store's engine with cfg until the test ends.
func startQueue(t *testing.T, db store.Store, cfg *river.Config) {
	t.Helper()
	var c queue
	var err error
	switch db := db.(type) {
	case *sqlite.DB:
		c, err = db.StartQueue(context.Background(), cfg)
	case *postgres.DB:
		c, err = db.StartQueue(context.Background(), cfg)
	default:
		t.Fatalf("%T keeps no queue", db)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Stop(ctx)
	})
}

// TestRetentionSweepOneReplica: two replicas on one PostgreSQL both run the
// queue with the sweep; River's leader, elected in the database, alone
// enqueues it, so it runs once and the stale prospect is deleted once.
func TestRetentionSweepOneReplica(t *testing.T) {
	s := apitest.NewPostgres(t)
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	day := 1
	if err := s.Store.SetRetentionDays(ctx, a.ID, &day); err != nil {
		t.Fatal(err)
	}
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"old@example.com"}`)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)

	later := time.Now().Add(2 * 24 * time.Hour)
	for _, db := range []store.Store{s.Store, pgtest.OpenURL(t, s.PostgresURL)} {
		cfg := server.DeliveryConfig(server.DeliveryOptions{Webhooks: db.(store.WebhookStore), PollInterval: 10 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		server.AddRetention(cfg, server.RetentionOptions{Store: db.(store.PrivacyStore), Now: func() time.Time { return later },
			Logger: slog.New(slog.DiscardHandler)})
		startQueue(t, db, cfg)
	}
	var sweeps int
	poll.Until(t, 20*time.Second, "a sweep completes", func() (bool, string) {
		pgtest.QueryRow(t, s.PostgresURL, `SELECT count(*) FROM river_job WHERE kind = 'retention_sweep' AND state = 'completed'`,
			nil, &sweeps)
		return sweeps > 0, fmt.Sprintf("%d completed", sweeps)
	})
	if res, _ := do(t, "GET", s.URL+"/v1/prospects/"+p.ID, s.StandardKey, "", ""); res.StatusCode != 410 {
		t.Errorf("the stale prospect: %d, want 410", res.StatusCode)
	}
	var all, deleted int
	pgtest.QueryRow(t, s.PostgresURL, `SELECT count(*) FROM river_job WHERE kind = 'retention_sweep'`, nil, &all)
	pgtest.QueryRow(t, s.PostgresURL, `SELECT count(*) FROM events WHERE type = 'prospect.deleted'`, nil, &deleted)
	if all != 1 || deleted != 1 {
		t.Errorf("%d sweeps enqueued and %d deletions recorded by two replicas, want 1 and 1", all, deleted)
	}
}
