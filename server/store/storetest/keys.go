package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/captureapi/capture/server/store"
)

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
