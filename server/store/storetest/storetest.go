// Package storetest is the conformance suite of store.Store, with the events log
// and webhook endpoints (store.EventStore, store.WebhookStore): every engine (SQLite,
// PostgreSQL) runs the same tests, so that the server behaves the same on each,
// concurrency included.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// Engine is a store implementation under test.
type Engine struct {
	// Open returns a fresh, migrated, empty store of the test's own, closed
	// when the test ends.
	Open func(t testing.TB) store.Store
	// PersonalFields counts the personal fields (email, first name, tags) the
	// stored row of a prospect still holds, read from the database directly as
	// someone with a copy of it would.
	PersonalFields func(t testing.TB, s store.Store, id string) int
	// SecretStored reports whether any stored key holds the secret itself.
	SecretStored func(t testing.TB, s store.Store, secret string) bool
	// StoredWebhookSecret reads the secret column of a webhook endpoint as it
	// is stored.
	StoredWebhookSecret func(t testing.TB, s store.Store, endpointID string) string
}

// Run runs every conformance test against the engine.
func Run(t *testing.T, e Engine) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Engine)
	}{
		{"EmailUniqueAmongLiveProspects", testEmailUnique},
		{"SameEmailFromManyGoroutines", testSameEmailConcurrent},
		{"Tombstones", testTombstones},
		{"PlanLimitFromManyGoroutines", testPlanLimit},
		{"AccountsAreIsolated", testAccountsAreIsolated},
		{"UpdateProspect", testUpdateProspect},
		{"PaginationUnderInserts", testPaginationUnderInserts},
		{"ListFilters", testListFilters},
		{"ListedAsRead", testListedAsRead},
		{"Keys", testKeys},
		{"RevokeOnce", testRevokeOnce},
		{"ListAccountsAndKeys", testListAccountsAndKeys},
		{"Idempotency", testIdempotency},
		{"IdempotencyLockRunsOut", testIdempotencyLockRunsOut},
		{"SameIdempotencyKeyFromManyGoroutines", testIdempotencyConcurrent},
		{"AtomicallyCommitsTogether", testAtomicallyCommits},
		{"AtomicallyRollsBackTogether", testAtomicallyRollsBack},
		{"AtomicallyStepFailureUndoesOnlyItself", testAtomicallySavepoint},
		{"Maintenance", testMaintenance},
		{"Ping", testPing},
		{"EventsWithTheirChanges", testEventsWithTheirChanges},
		{"HiddenEvents", testHiddenEvents},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookAttempts", testWebhookAttempts},
		{"DeliveriesWithTheirChanges", testDeliveriesWithTheirChanges},
		{"DeliveriesFollowEnabledEndpoints", testDeliveriesFollowEnabledEndpoints},
		{"CreateProspects", testCreateProspects},
		{"CreateProspectsFromManyGoroutines", testCreateProspectsConcurrent},
		{"WebhookSecretsSealed", testWebhookSecretsSealed},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, e) })
	}
}

var ctx = context.Background()

func account(t *testing.T, s store.Store, name string, limit int64) *store.Account {
	t.Helper()
	a, err := s.CreateAccount(ctx, name, limit, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func insert(t *testing.T, s store.Store, accountID, email string) *store.Prospect {
	t.Helper()
	p := &store.Prospect{AccountID: accountID, Email: email}
	if err := s.CreateProspect(ctx, p); err != nil {
		t.Fatalf("insert %s: %v", email, err)
	}
	return p
}

func liveCount(t *testing.T, s store.Store, accountID string) int64 {
	t.Helper()
	a, err := s.Account(ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	return a.ProspectCount
}

// listed returns the ids of every live prospect of the account, hidden ones included.
func listed(t *testing.T, s store.Store, accountID string) []string {
	t.Helper()
	page, err := s.ListProspects(ctx, accountID, store.ListParams{Limit: 1000, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range page.Prospects {
		ids = append(ids, p.ID)
	}
	return ids
}

// testListedAsRead holds a page of prospects, every optional field set on some
// and empty on others, to the same prospects read one by one: a list reads its
// rows through one set of scan targets, and no row may show another's values.
func testListedAsRead(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	text := func(i, every int, s string) *string {
		if i%every != 0 {
			return nil
		}
		s = fmt.Sprintf("%s %d", s, i)
		return &s
	}
	for i := range 12 {
		p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i),
			FirstName: text(i, 2, "First"), LastName: text(i, 3, "Last"), Company: text(i, 4, "Company"),
			Title: text(i, 5, "Title"), Phone: text(i+1, 2, "+44 20 7946"), Website: text(i+1, 3, "https://example.com/"),
			Source: text(i+2, 3, "source"), MarketingConsent: i%2 == 1, Hidden: i%5 == 4}
		if i%3 == 0 {
			p.Tags = []string{fmt.Sprint("tag", i), "shared"}
			p.Metadata = map[string]string{"n": fmt.Sprint(i)}
		}
		if err := db.CreateProspect(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 100, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Prospects) != 12 {
		t.Fatalf("listed %d prospects, want 12", len(page.Prospects))
	}
	for _, listed := range page.Prospects {
		read, err := db.Prospect(ctx, a.ID, listed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&listed, read) {
			t.Errorf("listed %+v\nread   %+v", listed, *read)
		}
	}
}

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
	var wg sync.WaitGroup
	errs := make(chan error, tries)
	for i := range tries {
		wg.Go(func() {
			errs <- db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("p%d@example.com", i)})
		})
	}
	wg.Wait()
	close(errs)
	created, limited := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, store.ErrPlanLimit):
			limited++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
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

func testAccountsAreIsolated(t *testing.T, e Engine) {
	db := e.Open(t)
	acme, globex := account(t, db, "acme", 100), account(t, db, "globex", 100)
	p := insert(t, db, globex.ID, "hank@globex.com")

	if _, err := db.Prospect(ctx, acme.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get across accounts: %v, want ErrNotFound", err)
	}
	status := "contacted"
	if _, err := db.UpdateProspect(ctx, acme.ID, p.ID, store.ProspectPatch{Status: &status}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update across accounts: %v, want ErrNotFound", err)
	}
	if err := db.DeleteProspect(ctx, acme.ID, p.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete across accounts: %v, want ErrNotFound", err)
	}
	if ids := listed(t, db, acme.ID); len(ids) != 0 {
		t.Errorf("acme lists globex's prospects: %v", ids)
	}
	if got, _ := db.Prospect(ctx, globex.ID, p.ID); got == nil || got.Status != "new" {
		t.Errorf("globex's prospect changed: %+v", got)
	}
	if _, err := db.AccountByName(ctx, "initech"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
	if _, err := db.CreateAccount(ctx, "acme", 5, 0); err == nil {
		t.Error("a second account named acme was created")
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

// testPaginationUnderInserts walks every page while another goroutine inserts: no
// prospect that existed when the walk began is missed or seen twice.
func testPaginationUnderInserts(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 10000)
	before := map[string]bool{}
	for i := range 250 {
		before[insert(t, db, a.ID, fmt.Sprintf("old%d@example.com", i)).ID] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("new%d@example.com", i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 7, StartingAfter: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, p := range page.Prospects {
			if seen[p.ID] {
				t.Fatalf("page %d repeats %s", pages, p.ID)
			}
			if i > 0 && p.ID >= page.Prospects[i-1].ID {
				t.Fatalf("page %d not newest first", pages)
			}
			seen[p.ID] = true
		}
		if !page.HasMore {
			break
		}
		cursor = page.Prospects[len(page.Prospects)-1].ID
	}
	close(stop)
	wg.Wait()
	for id := range before {
		if !seen[id] {
			t.Errorf("walk missed %s", id)
		}
	}
	if pages < 250/7 {
		t.Errorf("only %d pages", pages)
	}

	// ending_before walks back towards the newest, answering newest first.
	first, _ := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5})
	second, _ := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5, StartingAfter: first.Prospects[4].ID})
	back, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 5, EndingBefore: second.Prospects[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.Prospects {
		if back.Prospects[i].ID != first.Prospects[i].ID {
			t.Fatalf("ending_before page %d = %s, want %s", i, back.Prospects[i].ID, first.Prospects[i].ID)
		}
	}
	if back.HasMore {
		t.Error("ending_before from the second page says there is more before the first")
	}
}

func testListFilters(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	mk := func(email, status string, tags []string, hidden bool) {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email, Status: status, Tags: tags, Hidden: hidden}); err != nil {
			t.Fatal(err)
		}
	}
	mk("a@example.com", "new", []string{"vip", "emea"}, false)
	mk("b@example.com", "qualified", []string{"emea"}, false)
	mk("c@example.com", "qualified", nil, true)
	count := func(lp store.ListParams) int {
		lp.Limit = 100
		page, err := db.ListProspects(ctx, a.ID, lp)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Prospects)
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for name, c := range map[string]struct {
		lp   store.ListParams
		want int
	}{
		"all visible":       {store.ListParams{}, 2},
		"all with hidden":   {store.ListParams{IncludeHidden: true}, 3},
		"status":            {store.ListParams{Status: "qualified"}, 1},
		"tag":               {store.ListParams{Tag: "emea"}, 2},
		"tag vip":           {store.ListParams{Tag: "vip"}, 1},
		"email any case":    {store.ListParams{Email: "B@Example.com"}, 1},
		"hidden by email":   {store.ListParams{Email: "c@example.com"}, 0},
		"created since":     {store.ListParams{CreatedGTE: &past}, 2},
		"created in future": {store.ListParams{CreatedGTE: &future}, 0},
		"created until":     {store.ListParams{CreatedLTE: &past}, 0},
	} {
		if got := count(c.lp); got != c.want {
			t.Errorf("%s: %d prospects, want %d", name, got, c.want)
		}
	}
}

func testKeys(t *testing.T, e Engine) {
	db := e.Open(t)
	a, err := db.CreateAccount(ctx, "acme", 100, 7)
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := db.CreateKey(ctx, a.ID, store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 3+32 || secret[:3] != "sk_" {
		t.Errorf("secret %q is not sk_ + 32 or more characters", secret)
	}
	got, err := db.KeyBySecret(ctx, secret)
	if err != nil || got.ID != k.ID || got.AccountID != a.ID || got.Role != store.RoleAdmin || got.Revoked || got.RateLimit != 7 {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := db.KeyBySecret(ctx, secret+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, _, err := db.CreateKey(ctx, a.ID, store.Role("owner")); err == nil {
		t.Error("a key with an unknown role was created")
	}
	if err := db.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.KeyBySecret(ctx, secret); err != nil || !got.Revoked {
		t.Errorf("revoked key: %+v %v", got, err)
	}
	if err := db.RevokeKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: %v, want ErrNotFound", err)
	}
	if err := db.RevokeKey(ctx, "key_unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
	if e.SecretStored(t, db, secret) {
		t.Error("the secret itself is stored")
	}
}

// testRevokeOnce revokes one key from many goroutines: the database decides
// which one did it.
func testRevokeOnce(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	k, _, err := db.CreateKey(ctx, a.ID, store.RoleStandard)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- db.RevokeKey(ctx, k.ID) })
	}
	wg.Wait()
	close(errs)
	revoked := 0
	for err := range errs {
		switch {
		case err == nil:
			revoked++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("revoke: %v", err)
		}
	}
	if revoked != 1 {
		t.Errorf("%d revocations succeeded, want 1", revoked)
	}
}

func testListAccountsAndKeys(t *testing.T, e Engine) {
	db := e.Open(t)
	acme := account(t, db, "acme", 100)
	globex := account(t, db, "globex", 7)
	insert(t, db, globex.ID, "ada@example.com")

	accounts, err := db.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].Name != "acme" || accounts[1].Name != "globex" ||
		accounts[1].ProspectLimit != 7 || accounts[1].ProspectCount != 1 {
		t.Fatalf("ListAccounts = %+v, want acme then globex (limit 7, 1 prospect)", accounts)
	}
	if n, err := db.CountAccounts(ctx); err != nil || n != 2 {
		t.Errorf("CountAccounts = %d, %v; want 2", n, err)
	}

	k1, _, err := db.CreateKey(ctx, acme.ID, store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := db.CreateKey(ctx, globex.ID, store.RoleStandard)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeKey(ctx, k1.ID); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != k1.ID || !all[0].Revoked || all[0].RevokedAt.IsZero() || all[0].Role != store.RoleAdmin ||
		all[1].ID != k2.ID || all[1].Revoked || !all[1].RevokedAt.IsZero() || all[1].AccountID != globex.ID {
		t.Fatalf("ListKeys(all) = %+v, want %s (admin, revoked) then %s (standard, globex)", all, k1.ID, k2.ID)
	}
	only, err := db.ListKeys(ctx, globex.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(only) != 1 || only[0].ID != k2.ID {
		t.Fatalf("ListKeys(globex) = %+v, want only %s", only, k2.ID)
	}
}

var (
	fpA = []byte("fingerprint of request A........")
	fpB = []byte("fingerprint of request B........")
)

func testIdempotency(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	other := account(t, db, "globex", 100)
	begin := func(accountID string, fp []byte, req string) *store.IdempotencyRecord {
		t.Helper()
		rec, err := db.BeginIdempotent(ctx, accountID, "k1", fp, req, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := begin(a.ID, fpA, "req_1"); rec != nil {
		t.Fatalf("a new key is held by %+v", rec)
	}
	// While it runs: the same request and another request both see the holder.
	if rec := begin(a.ID, fpA, "req_2"); rec == nil || rec.Status != 0 || rec.RequestID != "req_1" {
		t.Errorf("key in flight: %+v, want req_1 running", rec)
	}
	if rec := begin(a.ID, fpB, "req_3"); rec == nil || string(rec.Fingerprint) != string(fpA) {
		t.Errorf("key in flight, other request: %+v, want req_1's fingerprint", rec)
	}
	// Keys are scoped to the account.
	if rec := begin(other.ID, fpA, "req_4"); rec != nil {
		t.Errorf("another account's key k1 is held by %+v", rec)
	}
	// Only the holder keeps an answer.
	if err := db.FinishIdempotent(ctx, a.ID, "k1", "req_2", 500, []byte("no")); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishIdempotent(ctx, a.ID, "k1", "req_1", 201, []byte(`{"id":"prs_1"}`)); err != nil {
		t.Fatal(err)
	}
	rec := begin(a.ID, fpA, "req_5")
	if rec == nil || rec.Status != 201 || string(rec.Body) != `{"id":"prs_1"}` || rec.RequestID != "req_1" {
		t.Fatalf("finished key: %+v, want req_1's 201 and body", rec)
	}
	// A release by a request that does not hold it, or of a finished key, changes nothing.
	if err := db.ReleaseIdempotent(ctx, a.ID, "k1", "req_1"); err != nil {
		t.Fatal(err)
	}
	if rec := begin(a.ID, fpA, "req_6"); rec == nil || rec.Status != 201 {
		t.Errorf("finished key after a release: %+v, want the kept answer", rec)
	}

	// A released key is free again.
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k2", fpA, "req_7", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim k2: %+v %v", rec, err)
	}
	if err := db.ReleaseIdempotent(ctx, a.ID, "k2", "req_7"); err != nil {
		t.Fatal(err)
	}
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k2", fpB, "req_8", time.Minute); err != nil || rec != nil {
		t.Errorf("claim a released key: %+v %v, want it claimed", rec, err)
	}

	// Purge deletes what was created before the time.
	if n, err := db.PurgeIdempotency(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purge of old records: %d %v, want 0", n, err)
	}
	if n, err := db.PurgeIdempotency(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Errorf("purge of every record: %d %v, want 3", n, err)
	}
	if rec := begin(a.ID, fpB, "req_9"); rec != nil {
		t.Errorf("a purged key is held by %+v", rec)
	}
}

// testIdempotencyLockRunsOut: the key of a request whose process died is free
// again for the same request once its lock runs out, and never for another.
func testIdempotencyLockRunsOut(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_dead", 100*time.Millisecond); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_retry", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			break // claimed by the retry
		}
		if rec.RequestID != "req_dead" || rec.Status != 0 {
			t.Fatalf("while locked: %+v", rec)
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead request's lock never ran out")
		}
		time.Sleep(20 * time.Millisecond) // polling the store's clock, bounded by the deadline
	}
	// The retry holds it now; the dead request can no longer keep an answer.
	if err := db.FinishIdempotent(ctx, a.ID, "k", "req_dead", 201, []byte("late")); err != nil {
		t.Fatal(err)
	}
	rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpB, "req_other", time.Minute)
	if err != nil || rec == nil || rec.RequestID != "req_retry" || rec.Status != 0 {
		t.Errorf("after the retry claimed it: %+v %v, want req_retry running", rec, err)
	}
}

// testIdempotencyConcurrent runs one idempotent create from many goroutines, as
// the server does: claim, then the effect and the answer in one Atomically.
func testIdempotencyConcurrent(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 1000)
	const n = 40
	var wg sync.WaitGroup
	type result struct {
		rec *store.IdempotencyRecord
		ran bool
		err error
	}
	results := make(chan result, n)
	for i := range n {
		wg.Go(func() {
			req := fmt.Sprintf("req_%d", i)
			rec, err := db.BeginIdempotent(ctx, a.ID, "same", fpA, req, time.Minute)
			if err != nil || rec != nil {
				results <- result{rec: rec, err: err}
				return
			}
			err = db.Atomically(ctx, func(ctx context.Context) error {
				p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}
				if err := db.CreateProspect(ctx, p); err != nil {
					return err
				}
				return db.FinishIdempotent(ctx, a.ID, "same", req, 201, []byte(p.ID))
			})
			results <- result{ran: true, err: err}
		})
	}
	wg.Wait()
	close(results)
	ran := 0
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("goroutine: %v", r.err)
		case r.ran:
			ran++
		case r.rec.RequestID == "" || string(r.rec.Fingerprint) != string(fpA):
			t.Errorf("a losing claim got %+v", r.rec)
		}
	}
	ids := listed(t, db, a.ID)
	if ran != 1 || len(ids) != 1 {
		t.Fatalf("%d goroutines ran, %d prospects; want 1 and 1", ran, len(ids))
	}
	rec, err := db.BeginIdempotent(ctx, a.ID, "same", fpA, "req_late", time.Minute)
	if err != nil || rec == nil || rec.Status != 201 || string(rec.Body) != ids[0] {
		t.Errorf("replay after the run: %+v %v, want 201 with %s", rec, err, ids[0])
	}
}

func testAtomicallyCommits(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_1", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	err := db.Atomically(ctx, func(ctx context.Context) error {
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email}); err != nil {
				return err
			}
		}
		return db.FinishIdempotent(ctx, a.ID, "k", "req_1", 201, []byte("both"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 2 || liveCount(t, db, a.ID) != 2 {
		t.Errorf("after commit: %v listed, live count %d; want 2", ids, liveCount(t, db, a.ID))
	}
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_2", time.Minute); err != nil || rec == nil || rec.Status != 201 {
		t.Errorf("the answer kept with the effect: %+v %v", rec, err)
	}
}

func testAtomicallyRollsBack(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_1", time.Minute); err != nil || rec != nil {
		t.Fatalf("claim: %+v %v", rec, err)
	}
	crash := errors.New("crash before commit")
	err := db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "ada@example.com"}); err != nil {
			return err
		}
		if err := db.SetMaintenance(ctx, store.Maintenance{On: true, RetryAfter: 5}); err != nil {
			return err
		}
		if err := db.FinishIdempotent(ctx, a.ID, "k", "req_1", 201, []byte("kept?")); err != nil {
			return err
		}
		return crash
	})
	if !errors.Is(err, crash) {
		t.Fatalf("Atomically: %v, want fn's error", err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 0 || liveCount(t, db, a.ID) != 0 {
		t.Errorf("after rollback: %v listed, live count %d; want none", ids, liveCount(t, db, a.ID))
	}
	if m, err := db.Maintenance(ctx); err != nil || m.On {
		t.Errorf("maintenance after rollback: %+v %v, want off", m, err)
	}
	// The key is still in flight, its answer not kept: only the same request may
	// take it over once its lock runs out, as after a crash.
	if rec, err := db.BeginIdempotent(ctx, a.ID, "k", fpA, "req_2", time.Minute); err != nil || rec == nil || rec.Status != 0 {
		t.Errorf("key after rollback: %+v %v, want still in flight", rec, err)
	}

	// A panic rolls back too, and the store stays usable.
	func() {
		defer func() { recover() }()
		db.Atomically(ctx, func(ctx context.Context) error {
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "panic@example.com"}); err != nil {
				return err
			}
			panic("handler panics")
		})
	}()
	if ids := listed(t, db, a.ID); len(ids) != 0 {
		t.Errorf("after a panic: %v listed, want none", ids)
	}
	insert(t, db, a.ID, "after@example.com")
}

// testAtomicallySavepoint: a store call that fails inside Atomically undoes its
// own writes only; the transaction goes on and commits the rest.
func testAtomicallySavepoint(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 2)
	err := db.Atomically(ctx, func(ctx context.Context) error {
		insertIn := func(email string) error {
			return db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: email})
		}
		if err := insertIn("ada@example.com"); err != nil {
			return err
		}
		var exists *store.ExistsError
		if err := insertIn("ada@example.com"); !errors.As(err, &exists) {
			return fmt.Errorf("duplicate in the transaction: %v, want ExistsError", err)
		}
		if err := insertIn("bob@example.com"); err != nil {
			return err
		}
		if err := insertIn("cy@example.com"); !errors.Is(err, store.ErrPlanLimit) {
			return fmt.Errorf("third create on a plan of 2: %v, want ErrPlanLimit", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed(t, db, a.ID); len(ids) != 2 || liveCount(t, db, a.ID) != 2 {
		t.Errorf("committed %v, live count %d; want ada and bob", ids, liveCount(t, db, a.ID))
	}
}

func testMaintenance(t *testing.T, e Engine) {
	db := e.Open(t)
	if m, err := db.Maintenance(ctx); err != nil || m.On {
		t.Fatalf("a new database: %+v %v, want maintenance off", m, err)
	}
	for _, want := range []store.Maintenance{{On: true, RetryAfter: 60}, {On: true, RetryAfter: 5}, {}} {
		if err := db.SetMaintenance(ctx, want); err != nil {
			t.Fatal(err)
		}
		if m, err := db.Maintenance(ctx); err != nil || m != want {
			t.Errorf("set %+v, read %+v %v", want, m, err)
		}
	}
}

func testPing(t *testing.T, e Engine) {
	db := e.Open(t)
	if err := db.Ping(ctx); err != nil {
		t.Errorf("ping a working database: %v", err)
	}
}
