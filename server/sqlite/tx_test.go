package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// holdWriter runs a write inside Atomically that stays in the writer until
// release is closed, and reports on running once it is in.
func holdWriter(db *sqlite.DB, accountID, email string, running chan<- struct{}, release <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- db.Atomically(context.Background(), func(ctx context.Context) error {
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: accountID, Email: email}); err != nil {
				return err
			}
			running <- struct{}{}
			<-release
			return nil
		})
	}()
	return done
}

// openWithAccount opens a database with one account in it.
func openWithAccount(t *testing.T) (*sqlite.DB, *store.Account) {
	t.Helper()
	db := open(t)
	acct, err := db.CreateAccount(context.Background(), "acme", 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	return db, acct
}

// waitForWriter returns once n requests wait for the writer.
func waitForWriter(t *testing.T, db *sqlite.DB, n int64) {
	t.Helper()
	for db.WaitingForWriter() != n {
		select {
		case <-t.Context().Done():
			t.Fatalf("%d requests wait for the writer, want %d", db.WaitingForWriter(), n)
		default:
		}
	}
}

func visible(t *testing.T, db *sqlite.DB, email string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowForTest(context.Background(), `SELECT count(*) FROM prospects WHERE email = ?`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestGroupCommitAnswersAfterCommit: requests that share a commit return only
// once it is done, and nothing they wrote is visible before.
func TestGroupCommitAnswersAfterCommit(t *testing.T) {
	db, acct := openWithAccount(t)
	running, releaseFirst, releaseLast := make(chan struct{}), make(chan struct{}), make(chan struct{})
	first := holdWriter(db, acct.ID, "first@example.com", running, releaseFirst)
	<-running
	// Behind it: a plain create, and another request that will hold the writer.
	plain := make(chan error, 1)
	go func() {
		plain <- db.CreateProspect(context.Background(), &store.Prospect{AccountID: acct.ID, Email: "plain@example.com"})
	}()
	last := holdWriter(db, acct.ID, "last@example.com", running, releaseLast)
	waitForWriter(t, db, 2)
	close(releaseFirst)
	<-running // the last holder runs: the first has finished its work, and is in its group
	select {
	case err := <-first:
		t.Fatalf("the first request returned (%v) before its group committed", err)
	default:
	}
	if visible(t, db, "first@example.com") {
		t.Fatal("a write is visible before its group committed")
	}
	close(releaseLast)
	for name, done := range map[string]<-chan error{"first": first, "plain": plain, "last": last} {
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, email := range []string{"first@example.com", "plain@example.com", "last@example.com"} {
		if !visible(t, db, email) {
			t.Errorf("%s is not stored", email)
		}
	}
}

// TestGroupCommitIsolatesFailures: in one group, a request that fails or
// panics loses its own writes and nothing else.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db, acct := openWithAccount(t)
	running, release := make(chan struct{}), make(chan struct{})
	held := holdWriter(db, acct.ID, "held@example.com", running, release)
	<-running
	create := func(ctx context.Context, email string) error {
		return db.CreateProspect(ctx, &store.Prospect{AccountID: acct.ID, Email: email})
	}
	errFailed := errors.New("failed")
	results := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { // fails after writing
		results[0] = db.Atomically(context.Background(), func(ctx context.Context) error {
			if err := create(ctx, "failed@example.com"); err != nil {
				return err
			}
			return errFailed
		})
	})
	wg.Go(func() { // panics after writing
		defer func() {
			if p := recover(); p != nil {
				results[1] = fmt.Errorf("panic: %v", p)
			}
		}()
		db.Atomically(context.Background(), func(ctx context.Context) error {
			if err := create(ctx, "panicked@example.com"); err != nil {
				return err
			}
			panic("boom")
		})
	})
	wg.Go(func() { results[2] = create(context.Background(), "fine@example.com") })
	waitForWriter(t, db, 3)
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(results[0], errFailed) || results[1] == nil || results[1].Error() != "panic: boom" || results[2] != nil {
		t.Fatalf("results: %v", results)
	}
	for email, want := range map[string]bool{"held@example.com": true, "fine@example.com": true,
		"failed@example.com": false, "panicked@example.com": false} {
		if got := visible(t, db, email); got != want {
			t.Errorf("%s stored: %v, want %v", email, got, want)
		}
	}
	// The writer is free and the file consistent: a later write commits.
	if err := create(context.Background(), "after@example.com"); err != nil || !visible(t, db, "after@example.com") {
		t.Fatalf("a write after the group: %v", err)
	}
}

// TestGroupCommitConcurrentDuplicates: of many concurrent creates of the same
// emails, exactly one per email is stored, and the others get ExistsError.
func TestGroupCommitConcurrentDuplicates(t *testing.T) {
	db, acct := openWithAccount(t)
	const emails, copies = 20, 5
	var created, exists sync.Map
	var wg sync.WaitGroup
	for i := range emails * copies {
		wg.Go(func() {
			email := fmt.Sprintf("p%d@example.com", i%emails)
			err := db.CreateProspect(context.Background(), &store.Prospect{AccountID: acct.ID, Email: email})
			var ee *store.ExistsError
			switch {
			case err == nil:
				if _, dup := created.LoadOrStore(email, true); dup {
					t.Errorf("%s created twice", email)
				}
			case errors.As(err, &ee):
				exists.Store(i, true)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	created.Range(func(_, _ any) bool { n++; return true })
	if n != emails {
		t.Errorf("%d emails created, want %d", n, emails)
	}
	a, err := db.Account(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.ProspectCount != emails {
		t.Errorf("live prospects %d, want %d", a.ProspectCount, emails)
	}
}

// TestWriterServesAccountsInTurn: requests waiting for the writer are served
// one account after the other, not in the order they came: an account with
// many waiting requests does not hold back another's one.
func TestWriterServesAccountsInTurn(t *testing.T) {
	db, acct := openWithAccount(t)
	running, release := make(chan struct{}), make(chan struct{})
	held := holdWriter(db, acct.ID, "held@example.com", running, release)
	<-running
	var order []string // appended to by whoever holds the writer
	var wg sync.WaitGroup
	queue := func(account, name string, waiting int64) {
		wg.Go(func() {
			ctx := store.WithRequest(context.Background(), store.RequestInfo{AccountID: account})
			if err := db.Atomically(ctx, func(context.Context) error {
				order = append(order, name)
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
		waitForWriter(t, db, waiting) // in line before the next one comes
	}
	queue("acct_a", "a1", 1)
	queue("acct_a", "a2", 2)
	queue("acct_a", "a3", 3)
	queue("acct_b", "b1", 4)
	queue("acct_a", "a4", 5)
	queue("acct_b", "b2", 6)
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, " "), "a1 b1 a2 b2 a3 a4"; got != want {
		t.Errorf("the writer served %s, want %s", got, want)
	}
}
