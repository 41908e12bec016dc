// Package storetest is the conformance suite of the store interfaces (package
// store): every engine (SQLite, PostgreSQL) runs the same tests, so that the
// server behaves the same on each, concurrency included. Run is the entry
// point; the tests live in one file per resource (accounts.go, prospects.go,
// lists.go, idempotency.go, events.go, search.go, …).
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

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
	// StoredSuppressionKey reads the suppression_key column of an account as
	// it is stored ("" for NULL).
	StoredSuppressionKey func(t testing.TB, s store.Store, accountID string) string
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
		{"AtomicallyFirstStepFailureUndoesOnlyItself", testAtomicallyFirstStepFails},
		{"Maintenance", testMaintenance},
		{"Ping", testPing},
		{"EventsWithTheirChanges", testEventsWithTheirChanges},
		{"HiddenEvents", testHiddenEvents},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookEndpointLimitFromManyGoroutines", testWebhookEndpointLimit},
		{"WebhookAttempts", testWebhookAttempts},
		{"DeliveriesWithTheirChanges", testDeliveriesWithTheirChanges},
		{"DeliveriesFollowEnabledEndpoints", testDeliveriesFollowEnabledEndpoints},
		{"DeliverySlots", testDeliverySlots},
		{"ResendEvent", testResendEvent},
		{"CreateProspects", testCreateProspects},
		{"CreateProspectsFromManyGoroutines", testCreateProspectsConcurrent},
		{"UpsertProspects", testUpsertProspects},
		{"WebhookSecretsSealed", testWebhookSecretsSealed},
		{"SearchQueries", testSearchQueries},
		{"SearchReadsItsWrites", testSearchReadsItsWrites},
		{"RetentionSweep", testRetentionSweep},
		{"ErasureSuppresses", testErasureSuppresses},
		{"Forms", testForms},
		{"Attribution", testAttribution},
		{"PersonsSubmissions", testPersonsSubmissions},
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

// race runs create(0) … create(tries-1) at once and counts the calls that
// succeeded and those refused with the error refused; any other error fails
// the test.
func race(t *testing.T, tries int, create func(i int) error, refused error) (created, limited int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, tries)
	for i := range tries {
		wg.Go(func() { errs <- create(i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, refused):
			limited++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	return created, limited
}
