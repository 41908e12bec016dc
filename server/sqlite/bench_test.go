package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// that both see the same machine; it reports what the event adds to a create,
// in µs and as a share of the create without it, from the median of each kind
// (a machine shared with other work stalls a few of them).
//
// serial: one create at a time, each its own commit. concurrent: rounds of
// one create from each of 32 goroutines, as the 32 connections of make bench's
// create row send them, so that group commit shares commits between them; a
// round's time over its creates is one sample.
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
	report := func(b *testing.B, without, with []time.Duration) {
		base, event := median(without), median(with)
		b.ReportMetric(base, "create-µs")
		b.ReportMetric(event-base, "event-µs")
		b.ReportMetric(100*(event-base)/base, "event-%")
	}
	var n atomic.Int64
	create := func(b *testing.B, db *sqlite.DB, accountID string) {
		p := &store.Prospect{AccountID: accountID, Email: fmt.Sprintf("p%d@example.com", n.Add(1)), Tags: []string{"a"}}
		if err := db.CreateProspect(ctx, p); err != nil {
			b.Error(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		db, accountID := setup(b)
		var with, without []time.Duration
		timed := func(event bool) time.Duration {
			db.SetNoEventsForTest(!event)
			start := time.Now()
			create(b, db, accountID)
			return time.Since(start)
		}
		for b.Loop() {
			without = append(without, timed(false))
			with = append(with, timed(true))
		}
		report(b, without, with)
	})
	b.Run("concurrent", func(b *testing.B) {
		const workers, round = 32, 32
		db, accountID := setup(b)
		var with, without []time.Duration
		timed := func(event bool) time.Duration {
			db.SetNoEventsForTest(!event) // between rounds: no create runs
			start := time.Now()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range round / workers {
						create(b, db, accountID)
					}
				})
			}
			wg.Wait()
			return time.Since(start) / round
		}
		for b.Loop() {
			without = append(without, timed(false))
			with = append(with, timed(true))
		}
		report(b, without, with)
	})
}

// median is the median of ds in µs.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds()) / 1e3
}
