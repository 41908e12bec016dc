package sqlite_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
	b.Run("ListProspects-100", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEventCost sets a create that records its event (for an account
// without webhook endpoints) against the same create without it, one of each
// in turn so that both see the same machine; it reports what the event adds
// to a create, in µs and as a share of the create without it, from the median
// of each kind (a machine shared with other work stalls a few of them).
func BenchmarkEventCost(b *testing.B) {
	ctx := context.Background()
	db := open(b)
	a, err := db.CreateAccount(ctx, "bench", 1<<40, 0)
	if err != nil {
		b.Fatal(err)
	}
	var with, without []time.Duration
	create := func(i int, event bool) time.Duration {
		db.SetNoEventsForTest(!event)
		p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i), Tags: []string{"a"}}
		start := time.Now()
		if err := db.CreateProspect(ctx, p); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	i := 0
	for b.Loop() {
		i += 2
		without = append(without, create(i, false))
		with = append(with, create(i+1, true))
	}
	base, event := median(without), median(with)
	b.ReportMetric(base, "create-µs")
	b.ReportMetric(event-base, "event-µs")
	b.ReportMetric(100*(event-base)/base, "event-%")
}

// median is the median of ds in µs.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds()) / 1e3
}
