package storetest

import (
	"errors"
	"testing"

	"github.com/captureapi/capture/server/store"
)

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
