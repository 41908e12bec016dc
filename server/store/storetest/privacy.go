package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// privacyEngine is a store that keeps the privacy records, as both engines do.
type privacyEngine interface {
	eventsEngine
	store.PrivacyStore
}

func openPrivacy(t *testing.T, e Engine) privacyEngine {
	t.Helper()
	db, ok := e.Open(t).(privacyEngine)
	if !ok {
		t.Fatal("the store keeps no privacy records")
	}
	return db
}

// testRetentionSweep: the sweep deletes exactly the live prospects, not
// converted, of accounts with a retention, last updated longer ago than it,
// each with its prospect.deleted event.
func testRetentionSweep(t *testing.T, e Engine) {
	db := openPrivacy(t, e)
	month, twoMonths := 30, 60
	short, long, forever := account(t, db, "short", 100), account(t, db, "long", 100), account(t, db, "forever", 100)
	if err := db.SetRetentionDays(ctx, short.ID, &month); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRetentionDays(ctx, long.ID, &twoMonths); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRetentionDays(ctx, "acct_nope", &month); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retention of an unknown account: %v", err)
	}
	if a, err := db.Account(ctx, short.ID); err != nil || a.RetentionDays == nil || *a.RetentionDays != 30 {
		t.Fatalf("account with retention: %+v, %v", a, err)
	}
	stale := insert(t, db, short.ID, "stale@example.com")
	converted := insert(t, db, short.ID, "won@example.com")
	status := "converted"
	if _, err := db.UpdateProspect(ctx, short.ID, converted.ID, store.ProspectPatch{Status: &status}, nil); err != nil {
		t.Fatal(err)
	}
	gone := insert(t, db, short.ID, "gone@example.com")
	if err := db.DeleteProspect(ctx, short.ID, gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	kept := insert(t, db, long.ID, "kept@example.com")
	insert(t, db, forever.ID, "forever@example.com")

	now := time.Now()
	if n, err := db.SweepRetention(ctx, now.Add(29*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep within every retention: %d, %v", n, err)
	}
	if n, err := db.SweepRetention(ctx, now.Add(45*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep past the short retention: deleted %d, %v; want 1", n, err)
	}
	if _, err := db.Prospect(ctx, short.ID, stale.ID); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("the stale prospect: %v, want deleted", err)
	}
	if got := listed(t, db, short.ID); !slices.Equal(got, []string{converted.ID}) {
		t.Errorf("short's live prospects %v, want the converted one only", got)
	}
	if got := listed(t, db, long.ID); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("long's live prospects %v", got)
	}
	if n := liveCount(t, db, short.ID); n != 1 {
		t.Errorf("short counts %d live prospects", n)
	}
	if events := allEvents(t, db, short.ID); len(events) == 0 || events[0].Type != store.EventProspectDeleted || events[0].Prospect.ID != stale.ID {
		t.Errorf("the sweep's deletion recorded no prospect.deleted event: %+v", events)
	}
	if got := e.PersonalFields(t, db, stale.ID); got != 0 {
		t.Errorf("the swept prospect's row keeps %d personal fields", got)
	}
	if n, err := db.SweepRetention(ctx, now.Add(61*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep past the long retention: deleted %d, %v; want 1", n, err)
	}
	if err := db.SetRetentionDays(ctx, long.ID, nil); err != nil {
		t.Fatal(err)
	}
	if a, err := db.Account(ctx, long.ID); err != nil || a.RetentionDays != nil {
		t.Errorf("retention cleared: %+v, %v", a, err)
	}
}

// testErasureSuppresses: an erasure deletes the prospect and suppresses its
// email against a create and a batch item, under a per-account key sealed
// with the webhook secret key, until the suppression is lifted; another
// account is not affected.
func testErasureSuppresses(t *testing.T, e Engine) {
	db := openPrivacy(t, e)
	if err := db.SetSecretKey([]byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	a, other := account(t, db, "acme", 10), account(t, db, "globex", 10)
	if key := e.StoredSuppressionKey(t, db, a.ID); key != "" {
		t.Errorf("a new account has a suppression key: %q", key)
	}
	p := insert(t, db, a.ID, "ada@example.com")
	if err := db.EraseProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prospect(ctx, a.ID, p.ID); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("erased prospect: %v, want deleted", err)
	}
	if err := db.EraseProspect(ctx, a.ID, p.ID, nil); !errors.Is(err, store.ErrDeleted) {
		t.Errorf("erased again: %v, want ErrDeleted", err)
	}
	if key := e.StoredSuppressionKey(t, db, a.ID); !strings.HasPrefix(key, "sealed:") {
		t.Errorf("the suppression key is stored unsealed: %q", key)
	}
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: " ADA@example.com"}); !errors.Is(err, store.ErrSuppressed) {
		t.Errorf("create with the erased email: %v, want ErrSuppressed", err)
	}
	out, err := createMany(db, []*store.Prospect{{AccountID: a.ID, Email: "grace@example.com"},
		{AccountID: a.ID, Email: "ada@example.com"}})
	if err != nil || len(out) != 2 || out[0] != nil || !errors.Is(out[1], store.ErrSuppressed) {
		t.Errorf("batch with the erased email: %v, %v", out, err)
	}
	insert(t, db, other.ID, "ada@example.com") // another account's list is its own
	if lifted, err := db.LiftSuppression(ctx, a.ID, "Ada@Example.com"); err != nil || !lifted {
		t.Fatalf("lift: %v, %v", lifted, err)
	}
	if lifted, err := db.LiftSuppression(ctx, a.ID, "ada@example.com"); err != nil || lifted {
		t.Errorf("lift again: %v, %v", lifted, err)
	}
	if lifted, err := db.LiftSuppression(ctx, other.ID, "ada@example.com"); err != nil || lifted {
		t.Errorf("lift in an account that erased nothing: %v, %v", lifted, err)
	}
	insert(t, db, a.ID, "ada@example.com")
}
