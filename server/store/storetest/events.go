package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// eventsEngine is a store that keeps the events log and webhook endpoints
// beside the prospects, as both engines do.
type eventsEngine interface {
	store.Store
	store.EventStore
	store.WebhookStore
	SetSecretKey(key []byte) error
}

// openEvents opens the engine's store as an eventsEngine.
func openEvents(t *testing.T, e Engine) eventsEngine {
	t.Helper()
	db, ok := e.Open(t).(eventsEngine)
	if !ok {
		t.Fatal("the store keeps no events and webhooks")
	}
	return db
}

func allEvents(t *testing.T, db eventsEngine, accountID string) []store.Event {
	t.Helper()
	page, err := db.ListEvents(ctx, accountID, store.EventListParams{Limit: 100, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

// testEventsWithTheirChanges: each change records one event in its own
// transaction; a change that fails or is rolled back records none.
func testEventsWithTheirChanges(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	rctx := store.WithRequest(ctx, store.RequestInfo{ID: "req_1", IdempotencyKey: "signup"})
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
	if err := db.CreateProspect(rctx, p); err != nil {
		t.Fatal(err)
	}
	title := "CTO"
	status := "qualified"
	if _, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{Status: &status, Title: ptr(&title)}, nil); err != nil {
		t.Fatal(err)
	}
	veto := errors.New("veto")
	if _, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{Status: &status},
		func(*store.Prospect) error { return veto }); !errors.Is(err, veto) {
		t.Fatalf("vetoed update: %v", err)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	err := db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "ghost@example.com"}); err != nil {
			return err
		}
		return veto
	})
	if !errors.Is(err, veto) {
		t.Fatalf("Atomically: %v", err)
	}

	events := allEvents(t, db, a.ID)
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	if strings.Join(types, " ") != "prospect.deleted prospect.updated prospect.created" {
		t.Fatalf("events newest first: %v, want one per committed change", types)
	}
	deleted, updated, created := events[0], events[1], events[2]
	// The prospect is deleted: its earlier events keep its id, status and
	// created, and of an update's previous attributes the status alone.
	if created.Prospect.ID != p.ID || created.Prospect.Email != "" || created.Prospect.Status != "new" ||
		!created.Prospect.Created.Equal(p.Created) || created.Request != (store.RequestInfo{ID: "req_1", IdempotencyKey: "signup"}) ||
		created.PreviousAttributes != nil {
		t.Errorf("created event %+v", created)
	}
	prev := updated.PreviousAttributes
	if len(prev) != 1 || prev["status"] != "new" || updated.Prospect.Status != "qualified" || updated.Prospect.Title != nil {
		t.Errorf("updated event: previous %v, prospect %+v", prev, updated.Prospect)
	}
	if deleted.Prospect.ID != p.ID || deleted.Prospect.Email != "" || deleted.Prospect.AccountID != "" {
		t.Errorf("deleted event carries more than the id: %+v", deleted.Prospect)
	}
	got, err := db.Event(ctx, a.ID, updated.ID)
	if err != nil || got.ID != updated.ID || got.Type != store.EventProspectUpdated || !got.Created.Equal(updated.Created) {
		t.Errorf("Event(%s) = %+v, %v", updated.ID, got, err)
	}
	other := account(t, db, "globex", 10)
	if _, err := db.Event(ctx, other.ID, updated.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's event: %v, want ErrNotFound", err)
	}
	if n := len(allEvents(t, db, other.ID)); n != 0 {
		t.Errorf("another account lists %d events", n)
	}
}

// testHiddenEvents: a hidden prospect's events are listed only with IncludeHidden.
func testHiddenEvents(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	insert(t, db, a.ID, "ada@example.com")
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "vip@example.com", Hidden: true}); err != nil {
		t.Fatal(err)
	}
	page, err := db.ListEvents(ctx, a.ID, store.EventListParams{Limit: 10})
	if err != nil || len(page.Events) != 1 || page.Events[0].Prospect.Email != "ada@example.com" {
		t.Errorf("events without hidden ones: %+v, %v", page, err)
	}
	if n := len(allEvents(t, db, a.ID)); n != 2 {
		t.Errorf("%d events with hidden ones, want 2", n)
	}
}

// testWebhookEndpoints: endpoints by account, secrets shown at creation only,
// patches, deletion.
func testWebhookEndpoints(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	first := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://a.example.com", EnabledEvents: []string{"*"}}
	second := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://b.example.com", EnabledEvents: []string{store.EventProspectDeleted}}
	for _, ep := range []*store.WebhookEndpoint{first, second} {
		if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.ID, "we_") || !strings.HasPrefix(ep.Secret, "whsec_") || ep.Created.IsZero() {
			t.Errorf("created endpoint %+v", ep)
		}
	}
	list, err := db.ListWebhookEndpoints(ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("endpoints newest first: %+v, %v", list, err)
	}
	for _, ep := range list {
		if ep.Secret != "" {
			t.Errorf("listed endpoint %s has its secret", ep.ID)
		}
	}
	got, err := db.WebhookEndpoint(ctx, a.ID, first.ID)
	if err != nil || got.Secret != "" || got.URL != first.URL || len(got.EnabledEvents) != 1 || got.EnabledEvents[0] != "*" {
		t.Errorf("endpoint %+v, %v", got, err)
	}
	other := account(t, db, "globex", 10)
	if _, err := db.WebhookEndpoint(ctx, other.ID, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's endpoint: %v", err)
	}
	if err := db.DeleteWebhookEndpoint(ctx, other.ID, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account deletes the endpoint: %v", err)
	}

	desc, disabled := "CRM", true
	events := []string{store.EventProspectCreated, store.EventProspectUpdated}
	upd, err := db.UpdateWebhookEndpoint(ctx, a.ID, first.ID, store.WebhookEndpointPatch{Description: &desc, EnabledEvents: &events, Disabled: &disabled})
	if err != nil || upd.Description != "CRM" || !upd.Disabled || len(upd.EnabledEvents) != 2 || upd.URL != first.URL || upd.Secret != "" {
		t.Errorf("patched endpoint %+v, %v", upd, err)
	}
	if got, _ := db.WebhookEndpoint(ctx, a.ID, first.ID); got == nil || !got.Disabled || got.Description != "CRM" {
		t.Errorf("patch not kept: %+v", got)
	}
	if err := db.DeleteWebhookEndpoint(ctx, a.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WebhookEndpoint(ctx, a.ID, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted endpoint: %v", err)
	}
	if _, err := db.RecordWebhookAttempt(ctx, &store.WebhookAttempt{EndpointID: first.ID, EventID: "evt_x", Attempt: 1}, time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an attempt to a deleted endpoint: %v, want ErrNotFound", err)
	}
}

// testWebhookAttempts: attempts are kept newest first, and an endpoint failing
// for disableAfter without a success is disabled; enabling it starts afresh.
func testWebhookAttempts(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	ep := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://a.example.com", EnabledEvents: []string{"*"}}
	if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	record := func(at time.Time, ok bool) bool {
		t.Helper()
		disabled, err := db.RecordWebhookAttempt(ctx, &store.WebhookAttempt{EndpointID: ep.ID, EventID: "evt_x", Attempt: 1,
			Created: at, Succeeded: ok, StatusCode: 500, Duration: 1500 * time.Millisecond, Error: "boom"}, 72*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return disabled
	}
	if record(now.Add(-100*time.Hour), false) || record(now.Add(-50*time.Hour), true) || record(now.Add(-40*time.Hour), false) || record(now, false) {
		t.Fatal("disabled before failing for 72 hours")
	}
	got, _ := db.WebhookEndpoint(ctx, a.ID, ep.ID)
	if got == nil || got.FailingSince == nil || !got.FailingSince.Equal(now.Add(-40*time.Hour)) {
		t.Errorf("failing since %v, want the first failure after the success", got)
	}
	if !record(now.Add(33*time.Hour), false) {
		t.Fatal("not disabled after 73 hours of failures")
	}
	if record(now.Add(34*time.Hour), false) {
		t.Error("disabled twice")
	}
	attempts, err := db.WebhookAttempts(ctx, a.ID, ep.ID, 3)
	if err != nil || len(attempts) != 3 || !attempts[0].Created.Equal(now.Add(34*time.Hour)) || attempts[0].Duration != 1500*time.Millisecond ||
		attempts[0].StatusCode != 500 || attempts[0].Error != "boom" {
		t.Errorf("latest attempts %+v, %v", attempts, err)
	}
	enabled := false
	upd, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, store.WebhookEndpointPatch{Disabled: &enabled})
	if err != nil || upd.Disabled || upd.FailingSince != nil {
		t.Errorf("enabled again: %+v, %v", upd, err)
	}
}

// testDeliveriesWithTheirChanges: a change enqueues one delivery per enabled
// endpoint that wants its type, in its transaction.
func testDeliveriesWithTheirChanges(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	other := account(t, db, "globex", 100)
	for _, ep := range []*store.WebhookEndpoint{
		{AccountID: a.ID, URL: "https://all.example.com", EnabledEvents: []string{"*"}},
		{AccountID: a.ID, URL: "https://created.example.com", EnabledEvents: []string{store.EventProspectCreated}},
		{AccountID: a.ID, URL: "https://deleted.example.com", EnabledEvents: []string{store.EventProspectDeleted}},
		{AccountID: other.ID, URL: "https://other.example.com", EnabledEvents: []string{"*"}},
	} {
		if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() int64 {
		t.Helper()
		q, err := db.WebhookQueue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return q.Pending
	}
	p := insert(t, db, a.ID, "ada@example.com")
	if n := pending(); n != 2 {
		t.Errorf("%d deliveries after a create, want 2 (the * and the created endpoints)", n)
	}
	err := db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("Atomically committed")
	}
	if n := pending(); n != 2 {
		t.Errorf("%d deliveries after a rolled-back delete, want still 2", n)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 4 {
		t.Errorf("%d deliveries after a delete, want 4", n)
	}
	q, _ := db.WebhookQueue(ctx)
	if q.OldestPending.IsZero() || time.Since(q.OldestPending) > time.Minute {
		t.Errorf("oldest pending delivery %v", q.OldestPending)
	}
}

// testDeliveriesFollowEnabledEndpoints: a create enqueues deliveries exactly
// while its account has an enabled endpoint, however the endpoint came and
// went (created, disabled, enabled, disabled after failures, deleted, or
// created in a transaction rolled back): the store may keep a count of them,
// and it must follow every change.
func testDeliveriesFollowEnabledEndpoints(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "acme", 100)
	n := 0
	step := func(what string, want int64) {
		t.Helper()
		n++
		insert(t, db, a.ID, "p"+strings.Repeat("x", n)+"@example.com")
		q, err := db.WebhookQueue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if q.Pending != want {
			t.Errorf("after %s: %d deliveries, want %d", what, q.Pending, want)
		}
	}
	step("no endpoint", 0)
	ep := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://a.example.com", EnabledEvents: []string{"*"}}
	err := db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("Atomically committed")
	}
	step("an endpoint rolled back", 0)
	if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	step("an endpoint", 1)
	yes, no := true, false
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, store.WebhookEndpointPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	step("disabling it", 1)
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, store.WebhookEndpointPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	step("disabling it twice", 1)
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, store.WebhookEndpointPatch{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	step("enabling it", 2)
	now := store.Now()
	for _, at := range []time.Time{now.Add(-100 * time.Hour), now} {
		if _, err := db.RecordWebhookAttempt(ctx, &store.WebhookAttempt{EndpointID: ep.ID, EventID: "evt_x", Attempt: 1,
			Created: at, StatusCode: 500}, 72*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	step("its failures disabled it", 2)
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, ep.ID, store.WebhookEndpointPatch{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	step("enabling it again", 3)
	if err := db.DeleteWebhookEndpoint(ctx, a.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	step("deleting it", 3)
	disabled := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://b.example.com", EnabledEvents: []string{"*"}}
	if err := db.CreateWebhookEndpoint(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, disabled.ID, store.WebhookEndpointPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebhookEndpoint(ctx, a.ID, disabled.ID); err != nil {
		t.Fatal(err)
	}
	step("a disabled endpoint deleted", 3)
}

// testWebhookSecretsSealed: with a key, a signing secret is sealed at rest:
// the database does not hold it, deliveries get it back, and another key
// cannot open it.
func testWebhookSecretsSealed(t *testing.T, e Engine) {
	db := openEvents(t, e)
	if err := db.SetSecretKey([]byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	a := account(t, db, "acme", 10)
	ep := &store.WebhookEndpoint{AccountID: a.ID, URL: "https://x.example.com", EnabledEvents: []string{"*"}}
	if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if stored := e.StoredWebhookSecret(t, db, ep.ID); strings.Contains(stored, strings.TrimPrefix(ep.Secret, "whsec_")) {
		t.Errorf("the secret is stored as it is: %s", stored)
	}
	insert(t, db, a.ID, "ada@example.com")
	evID := allEvents(t, db, a.ID)[0].ID
	got, ev, err := db.WebhookDelivery(ctx, ep.ID, evID)
	if err != nil || got.Secret != ep.Secret || ev.ID != evID {
		t.Errorf("delivery: secret %v, event %v, %v; want %q", got, ev, err, ep.Secret)
	}
	if err := db.SetSecretKey([]byte("short")); err == nil {
		t.Error("a key of 5 bytes was taken")
	}
	if err := db.SetSecretKey([]byte("another key of thirty-two bytes!")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.WebhookDelivery(ctx, ep.ID, evID); err == nil {
		t.Error("another key opened the secret")
	}
}

// testWebhookEndpointLimit: an account has at most its WebhookEndpointLimit
// endpoints (16 unless set), disabled ones included, exactly so when many
// creates race; a deletion frees a place.
func testWebhookEndpointLimit(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a := account(t, db, "hooks", 100)
	if got, err := db.Account(ctx, a.ID); err != nil || got.WebhookEndpointLimit != store.DefaultWebhookEndpointLimit {
		t.Fatalf("a new account's endpoint limit: %+v, %v; want %d", got, err, store.DefaultWebhookEndpointLimit)
	}
	const limit, tries = 3, 24
	if err := db.SetWebhookEndpointLimit(ctx, a.ID, limit); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWebhookEndpointLimit(ctx, "acct_unknown", limit); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the limit of an unknown account: %v, want ErrNotFound", err)
	}
	other := account(t, db, "other", 100) // its endpoints count for itself only
	if err := db.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AccountID: other.ID, URL: "https://other.example.com",
		EnabledEvents: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	created, limited := race(t, tries, func(i int) error {
		return db.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AccountID: a.ID,
			URL: fmt.Sprintf("https://h%d.example.com", i), EnabledEvents: []string{"*"}})
	}, store.ErrEndpointLimit)
	list, err := db.ListWebhookEndpoints(ctx, a.ID)
	if err != nil || created != limit || limited != tries-limit || len(list) != limit {
		t.Fatalf("created %d, limited %d, %d listed (%v); want %d, %d, %d", created, limited, len(list), err, limit, tries-limit, limit)
	}
	// A disabled endpoint still counts; a deleted one frees its place.
	disabled := true
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, list[0].ID, store.WebhookEndpointPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	over := func() error {
		return db.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AccountID: a.ID, URL: "https://over.example.com", EnabledEvents: []string{"*"}})
	}
	if err := over(); !errors.Is(err, store.ErrEndpointLimit) {
		t.Errorf("create with a disabled endpoint at the limit: %v, want ErrEndpointLimit", err)
	}
	if err := db.DeleteWebhookEndpoint(ctx, a.ID, list[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := over(); err != nil {
		t.Errorf("create after a deletion: %v", err)
	}
	if err := over(); !errors.Is(err, store.ErrEndpointLimit) {
		t.Errorf("create past the limit again: %v, want ErrEndpointLimit", err)
	}
}

// ResendEvent enqueues the event again for the enabled endpoints that want its
// type, all of them or the one named, and for no other account's.
func testResendEvent(t *testing.T, e Engine) {
	db := openEvents(t, e)
	a, b := account(t, db, "acme", 100), account(t, db, "globex", 100)
	insert(t, db, a.ID, "ada@example.com")
	evt := allEvents(t, db, a.ID)[0] // prospect.created
	endpoint := func(accountID string, events ...string) string {
		t.Helper()
		ep := &store.WebhookEndpoint{AccountID: accountID, URL: "https://a.example.com", EnabledEvents: events}
		if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		return ep.ID
	}
	all, created, deleted, off := endpoint(a.ID, "*"), endpoint(a.ID, "prospect.created"), endpoint(a.ID, "prospect.deleted"), endpoint(a.ID, "*")
	endpoint(b.ID, "*")
	yes := true
	if _, err := db.UpdateWebhookEndpoint(ctx, a.ID, off, store.WebhookEndpointPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	pending := func() int64 {
		t.Helper()
		q, err := db.WebhookQueue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return q.Pending
	}
	before := pending()
	want := []string{all, created}
	slices.Sort(want)
	for _, c := range []struct {
		endpoint string
		want     []string
	}{{"", want}, {created, []string{created}}, {deleted, nil}, {off, nil}, {"we_nope", nil}} {
		ids, err := db.ResendEvent(ctx, a.ID, evt.ID, c.endpoint)
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("resend to %q: %v %v, want %v", c.endpoint, ids, err, c.want)
		}
	}
	if got := pending() - before; got != 3 {
		t.Errorf("%d deliveries enqueued, want 3", got)
	}
	if _, err := db.ResendEvent(ctx, b.ID, evt.ID, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's event: %v, want ErrNotFound", err)
	}
	if _, err := db.ResendEvent(ctx, a.ID, "evt_nope", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown event: %v, want ErrNotFound", err)
	}
}
