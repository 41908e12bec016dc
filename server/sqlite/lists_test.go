package sqlite_test

import (
	"context"
	"testing"

	"github.com/captureapi/capture/server/store"
)

func TestListAccountsAndKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t)
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
