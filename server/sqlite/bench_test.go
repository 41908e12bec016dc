package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/cputime"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	db := open(b)
	a, err := db.CreateAccount(ctx, "bench", 1<<40, 0)
	if err != nil {
		b.Fatal(err)
	}
	_, secret, _ := db.CreateKey(ctx, a.ID, store.RoleStandard)
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
	if err := db.CreateProspect(ctx, p); err != nil {
		b.Fatal(err)
	}

	b.Run("KeyBySecret", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.KeyBySecret(ctx, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Prospect", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Prospect(ctx, a.ID, p.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateProspect", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same with a webhook endpoint: each create also enqueues a delivery.
	b.Run("CreateProspect-webhook", func(b *testing.B) {
		hooked, err := db.CreateAccount(ctx, "hooked", 1<<40, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AccountID: hooked.ID, URL: "https://x.example.com",
			EnabledEvents: []string{"*"}}); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: hooked.ID, Email: fmt.Sprintf("p%d@example.com", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A batch's writes: 500 prospects and their events in one call and one
	// commit, as POST /v1/prospects/batch makes them. The single writer spends
	// this time on every batch, so it caps batch throughput on one database.
	batched := 0 // emails stay unique when -count runs this again on the same database
	b.Run("UpsertProspects-500", func(b *testing.B) {
		start := batched
		for b.Loop() {
			ps := make([]*store.Prospect, 500)
			for k := range ps {
				batched++
				ps[k] = &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("batch%d@example.com", batched), FirstName: new("Grace"),
					LastName: new("Hopper"), Company: new("Compilers Inc"), Source: new("import"), Tags: []string{"bench", "load"},
					Metadata: map[string]string{"campaign": "spring"}, MarketingConsent: true}
			}
			out, err := db.UpsertProspects(ctx, ps, func(int, *store.Prospect) (*store.ProspectPatch, error) {
				return nil, errors.New("an email of the batch exists")
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range out {
				if o.Err != nil {
					b.Fatal(o.Err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(batched-start), "µs/prospect")
	})
	b.Run("ListProspects-100", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEventCost sets a create that records its event (for an account
// without webhook endpoints) against the same create without it, in turn so
// that both see the same machine, and reports what the event adds to a
// create: in CPU time of this process (the target's measure: other processes
// on the machine do not count), summed over every create of each kind, and
// in wall time, from the median of each kind (a machine shared with other
// work stalls a few of them).
//
// serial: one create at a time, each its own commit. concurrent: rounds of
// one create from each of 32 goroutines, as the 32 connections of make bench's
// create row send them, so that group commit shares commits between them; a
// round's time over its creates is one sample. http and http-concurrent: the
// same through the whole handler in-process (POST /v1/prospects, as
// BenchmarkCreateProspect sends it), so that the share is of what a create
// request costs.
func BenchmarkEventCost(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B) (*sqlite.DB, string) {
		db := open(b)
		a, err := db.CreateAccount(ctx, "bench", 1<<40, 0)
		if err != nil {
			b.Fatal(err)
		}
		return db, a.ID
	}
	var n atomic.Int64
	create := func(b *testing.B, db *sqlite.DB, accountID string) {
		p := &store.Prospect{AccountID: accountID, Email: fmt.Sprintf("p%d@example.com", n.Add(1)), Tags: []string{"a"}}
		if err := db.CreateProspect(ctx, p); err != nil {
			b.Error(err)
		}
	}
	// measure runs creates (which makes perRun creates) with events on or
	// off, and adds its wall time per create to the kind's samples and its
	// CPU time to the kind's total.
	type kind struct {
		wall    []time.Duration
		cpu     time.Duration
		creates int
	}
	measure := func(b *testing.B, db *sqlite.DB, k *kind, event bool, perRun int, creates func()) {
		db.SetNoEventsForTest(!event) // between runs: no create runs
		cpu0, start := cputime.Process(), time.Now()
		creates()
		k.wall = append(k.wall, time.Since(start)/time.Duration(perRun))
		k.cpu += cputime.Process() - cpu0
		k.creates += perRun
	}
	report := func(b *testing.B, without, with *kind) {
		base, event := median(without.wall), median(with.wall)
		b.ReportMetric(base, "create-µs")
		b.ReportMetric(100*(event-base)/base, "event-wall-%")
		cpuBase := float64(without.cpu.Microseconds()) / float64(without.creates)
		cpuEvent := float64(with.cpu.Microseconds())/float64(with.creates) - cpuBase
		b.ReportMetric(cpuBase, "create-cpu-µs")
		b.ReportMetric(cpuEvent, "event-cpu-µs")
		b.ReportMetric(100*cpuEvent/cpuBase, "event-cpu-%")
	}
	// viaHTTP is a create through the whole handler, on a server of its own.
	viaHTTP := func(b *testing.B) (*sqlite.DB, func()) {
		s := apitest.New(b, func(c *server.Config) { c.DefaultRateLimit = 1 << 30 })
		s.DB.CreateAccount(ctx, "bench", 1<<40, 0)
		key := s.NewAccountKey(b, "bench", "standard", 0)
		return s.DB, func() {
			body := fmt.Sprintf(`{"email": "p%d@example.com", "tags": ["a"]}`, n.Add(1))
			req := httptest.NewRequest("POST", "/v1/prospects", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler.ServeHTTP(rec, req)
			if rec.Code != 201 {
				b.Errorf("create: %d %s", rec.Code, rec.Body)
			}
		}
	}
	inStore := func(b *testing.B) (*sqlite.DB, func()) {
		db, accountID := setup(b)
		return db, func() { create(b, db, accountID) }
	}
	for _, bc := range []struct {
		name    string
		workers int
		start   func(*testing.B) (*sqlite.DB, func())
	}{
		{"serial", 1, inStore},
		{"concurrent", 32, inStore},
		{"http", 1, viaHTTP},
		{"http-concurrent", 32, viaHTTP},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, one := bc.start(b)
			var with, without kind
			round := func() {
				var wg sync.WaitGroup
				for range bc.workers {
					wg.Go(one)
				}
				wg.Wait()
			}
			for b.Loop() {
				measure(b, db, &without, false, bc.workers, round)
				measure(b, db, &with, true, bc.workers, round)
			}
			report(b, &without, &with)
		})
	}
}

// median is the median of ds in µs.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds()) / 1e3
}
