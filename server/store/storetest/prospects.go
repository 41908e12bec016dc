package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/store"
)

func testEmailUnique(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	first := insert(t, db, a.ID, "Ada@Example.com")
	if first.Email != "ada@example.com" || first.Status != "new" || first.ID == "" {
		t.Errorf("created %+v, want the email lower-cased, status new and an id", first)
	}

	err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "ada@example.COM"})
	var exists *store.ExistsError
	if !errors.As(err, &exists) || exists.ID != first.ID {
		t.Fatalf("duplicate insert: %v, want ExistsError{%s}", err, first.ID)
	}
	// Another account may use the same email.
	insert(t, db, account(t, db, "globex", 100).ID, "ada@example.com")

	if err := db.DeleteProspect(ctx, a.ID, first.ID, nil); err != nil {
		t.Fatal(err)
	}
	second := insert(t, db, a.ID, "ada@example.com")
	if second.ID == first.ID {
		t.Fatal("re-created prospect reused the deleted id")
	}
	if n := liveCount(t, db, a.ID); n != 1 {
		t.Errorf("live count = %d, want 1", n)
	}
}

func testSameEmailConcurrent(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 1000)
	const n = 20
	var wg sync.WaitGroup
	ids := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
			if err := db.CreateProspect(ctx, p); err != nil {
				errs <- err
				return
			}
			ids <- p.ID
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	var created []string
	for id := range ids {
		created = append(created, id)
	}
	if len(created) != 1 {
		t.Fatalf("%d goroutines created the same email, want exactly 1", len(created))
	}
	for err := range errs {
		var exists *store.ExistsError
		if !errors.As(err, &exists) || exists.ID != created[0] {
			t.Errorf("a losing create got %v, want ExistsError{%s}", err, created[0])
		}
	}
	if got := listed(t, db, a.ID); len(got) != 1 || liveCount(t, db, a.ID) != 1 {
		t.Errorf("listed %v, live count %d; want one prospect", got, liveCount(t, db, a.ID))
	}
}

func testTombstones(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	name := "Ada"
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com", FirstName: &name, Tags: []string{"vip"}}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := e.PersonalFields(t, db, p.ID); n != 3 {
		t.Fatalf("a live prospect holds %d of the personal fields checked, want 3", n)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prospect(ctx, a.ID, p.ID); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("get deleted: %v, want ErrDeleted", err)
	}
	if _, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{}, nil); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("update deleted: %v, want ErrDeleted", err)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("delete twice: %v, want ErrDeleted", err)
	}
	if _, err := db.Prospect(ctx, a.ID, "prs_unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: %v, want ErrNotFound", err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 0 {
		t.Errorf("deleted prospect listed: %v", ids)
	}
	if n := e.PersonalFields(t, db, p.ID); n != 0 {
		t.Errorf("tombstone keeps %d personal fields", n)
	}
	if n := liveCount(t, db, a.ID); n != 0 {
		t.Errorf("live count = %d after the delete, want 0", n)
	}
}

func testPlanLimit(t *testing.T, e Engine) {
	db := e.Open(t)
	const limit, tries = 7, 40
	a := account(t, db, "tiny", limit)
	created, limited := race(t, tries, func(i int) error {
		return db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i)})
	}, store.ErrPlanLimit)
	if created != limit || limited != tries-limit {
		t.Errorf("created %d, limited %d; want %d and %d", created, limited, limit, tries-limit)
	}
	if n, ids := liveCount(t, db, a.ID), listed(t, db, a.ID); n != limit || len(ids) != limit {
		t.Errorf("live count %d, %d listed; want %d", n, len(ids), limit)
	}
	// A delete frees a place.
	if err := db.DeleteProspect(ctx, a.ID, listed(t, db, a.ID)[0], nil); err != nil {
		t.Fatal(err)
	}
	insert(t, db, a.ID, "again@example.com")
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "over@example.com"}); !errors.Is(err, store.ErrPlanLimit) {
		t.Errorf("create past the limit after a delete and a create: %v, want ErrPlanLimit", err)
	}
}

func testUpdateProspect(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	ada := insert(t, db, a.ID, "ada@example.com")
	bob := insert(t, db, a.ID, "bob@example.com")

	name, company := "Ada", "Analytical"
	consent := true
	tags := []string{"vip"}
	p, err := db.UpdateProspect(ctx, a.ID, ada.ID, store.ProspectPatch{
		FirstName: ptr(&name), Company: ptr(&company), Tags: &tags, MarketingConsent: &consent,
		Metadata: map[string]string{"plan": "pro"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Prospect(ctx, a.ID, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*store.Prospect{p, got} {
		if g.FirstName == nil || *g.FirstName != "Ada" || g.Company == nil || *g.Company != "Analytical" ||
			len(g.Tags) != 1 || g.Tags[0] != "vip" || g.Metadata["plan"] != "pro" || !g.MarketingConsent || g.ConsentAt == nil {
			t.Errorf("after the patch: %+v", g)
		}
	}
	// Clearing a field, removing a metadata key.
	var none *string
	p, err = db.UpdateProspect(ctx, a.ID, ada.ID, store.ProspectPatch{Company: &none, Metadata: map[string]string{"plan": ""}}, nil)
	if err != nil || p.Company != nil || len(p.Metadata) != 0 || p.FirstName == nil {
		t.Errorf("clear company and metadata: %+v %v", p, err)
	}

	// Another live prospect's email is refused, naming it.
	email := "BOB@example.com"
	_, err = db.UpdateProspect(ctx, a.ID, ada.ID, store.ProspectPatch{Email: &email}, nil)
	var exists *store.ExistsError
	if !errors.As(err, &exists) || exists.ID != bob.ID {
		t.Errorf("update to bob's email: %v, want ExistsError{%s}", err, bob.ID)
	}
	// A veto leaves the prospect as it was.
	veto := errors.New("vetoed")
	status := "lost"
	if _, err := db.UpdateProspect(ctx, a.ID, ada.ID, store.ProspectPatch{Status: &status}, func(*store.Prospect) error { return veto }); !errors.Is(err, veto) {
		t.Errorf("vetoed update: %v", err)
	}
	if err := db.DeleteProspect(ctx, a.ID, bob.ID, func(*store.Prospect) error { return veto }); !errors.Is(err, veto) {
		t.Errorf("vetoed delete: %v", err)
	}
	if got, _ := db.Prospect(ctx, a.ID, ada.ID); got == nil || got.Status != "new" || got.Email != "ada@example.com" {
		t.Errorf("after refused updates: %+v", got)
	}
	if _, err := db.Prospect(ctx, a.ID, bob.ID); err != nil {
		t.Errorf("bob after a vetoed delete: %v", err)
	}
	// Once bob is deleted, his email is free.
	if err := db.DeleteProspect(ctx, a.ID, bob.ID, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := db.UpdateProspect(ctx, a.ID, ada.ID, store.ProspectPatch{Email: &email}, nil); err != nil || p.Email != "bob@example.com" {
		t.Errorf("update to a deleted prospect's email: %+v %v", p, err)
	}
}

func ptr(s *string) **string { return &s }
