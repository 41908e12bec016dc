package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

func open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "capture.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func account(t *testing.T, db *sqlite.DB, name string, limit int64) *store.Account {
	t.Helper()
	a, err := db.CreateAccount(context.Background(), name, limit, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func insert(t *testing.T, db *sqlite.DB, accountID, email string) *store.Prospect {
	t.Helper()
	p := &store.Prospect{AccountID: accountID, Email: email}
	if err := db.CreateProspect(context.Background(), p); err != nil {
		t.Fatalf("insert %s: %v", email, err)
	}
	return p
}

func TestEmailUniqueAmongLiveProspects(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a := account(t, db, "acme", 100)
	first := insert(t, db, a.ID, "Ada@Example.com")

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
	acct, _ := db.Account(ctx, a.ID)
	if acct.ProspectCount != 1 {
		t.Errorf("live count = %d, want 1", acct.ProspectCount)
	}
}

func TestTombstones(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a := account(t, db, "acme", 100)
	name := "Ada"
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com", FirstName: &name, Tags: []string{"vip"}}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
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
	page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 10, IncludeHidden: true})
	if err != nil || len(page.Prospects) != 0 {
		t.Errorf("deleted prospect listed: %v %v", page, err)
	}
	if n := personalDataLeft(t, db, p.ID); n != 0 {
		t.Errorf("tombstone keeps %d personal fields", n)
	}
}

// personalDataLeft counts the personal fields a prospect row still holds, reading
// the file directly as an attacker with a copy of it would.
func personalDataLeft(t *testing.T, db *sqlite.DB, id string) int {
	t.Helper()
	var n int
	err := db.QueryRowForTest(context.Background(), `SELECT (email IS NOT NULL) + (first_name IS NOT NULL) + (tags != '[]')
		FROM prospects WHERE id = ?`, id).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPlanLimit(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a := account(t, db, "tiny", 3)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
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
	if created != 3 || limited != 7 {
		t.Errorf("created %d, limited %d; want 3 and 7", created, limited)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	ctx := context.Background()
	db := open(t)
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
	page, err := db.ListProspects(ctx, acme.ID, store.ListParams{Limit: 100, IncludeHidden: true})
	if err != nil || len(page.Prospects) != 0 {
		t.Errorf("acme lists globex's prospects: %+v %v", page, err)
	}
	if got, _ := db.Prospect(ctx, globex.ID, p.ID); got == nil || got.Status != "new" {
		t.Errorf("globex's prospect changed: %+v", got)
	}
}

// TestPaginationUnderInserts walks every page while other goroutines insert: no
// prospect that existed when the walk began is missed or seen twice.
func TestPaginationUnderInserts(t *testing.T) {
	ctx := context.Background()
	db := open(t)
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

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	db := open(t)
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
	for name, c := range map[string]struct {
		lp   store.ListParams
		want int
	}{
		"all visible":     {store.ListParams{}, 2},
		"all with hidden": {store.ListParams{IncludeHidden: true}, 3},
		"status":          {store.ListParams{Status: "qualified"}, 1},
		"tag":             {store.ListParams{Tag: "emea"}, 2},
		"tag vip":         {store.ListParams{Tag: "vip"}, 1},
		"email any case":  {store.ListParams{Email: "B@Example.com"}, 1},
		"hidden by email": {store.ListParams{Email: "c@example.com"}, 0},
	} {
		if got := count(c.lp); got != c.want {
			t.Errorf("%s: %d prospects, want %d", name, got, c.want)
		}
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a := account(t, db, "acme", 100)
	k, secret, err := db.CreateKey(ctx, a.ID, store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 3+32 || secret[:3] != "sk_" {
		t.Errorf("secret %q is not sk_ + 32 or more characters", secret)
	}
	got, err := db.KeyBySecret(ctx, secret)
	if err != nil || got.ID != k.ID || got.Role != store.RoleAdmin || got.Revoked {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := db.KeyBySecret(ctx, secret+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := db.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.KeyBySecret(ctx, secret); err != nil || !got.Revoked {
		t.Errorf("revoked key: %+v %v", got, err)
	}
	var stored int
	if err := db.QueryRowForTest(ctx, `SELECT count(*) FROM api_keys WHERE hash = ? OR CAST(hash AS TEXT) = ?`, secret, secret).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("the secret itself is stored (%d rows, %v)", stored, err)
	}
}
