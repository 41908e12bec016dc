package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose
	"github.com/pressly/goose/v3"

	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// migratedTo opens the test's database as goose sees it and migrates it up
// to version, for a test of the migrations after it.
func migratedTo(t *testing.T, dsn string, version int64) (*sql.DB, *goose.Provider) {
	t.Helper()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, raw, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return raw, p
}

// An upgrade keeps every event about a prospect findable: the events written
// before events had an object_id column are found through it after, and the
// migration goes back down and up again.
func TestEventsObjectIDMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.URL(t)
	raw, p := migratedTo(t, dsn, 13)
	for _, q := range []string{
		`INSERT INTO accounts (id, name, prospect_limit, created) VALUES ('acct_old', 'old', 10, now())`,
		`INSERT INTO events (id, account_id, type, prospect, created) VALUES
			('evt_01', 'acct_old', 'prospect.created', '{"ID":"prs_old","Email":"ada@example.com"}', now()),
			('evt_02', 'acct_old', 'prospect.updated', '{"ID":"prs_old","Email":"ada@example.com"}', now()),
			('evt_03', 'acct_old', 'form_submission.created', '{"ID":"fsub_old"}', now()),
			('evt_04', 'acct_old', 'prospect.created', '{"ID":"prs_other"}', now())`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 13); err != nil {
		t.Fatalf("down: %v", err)
	}
	raw.Close()

	db := pgtest.OpenURL(t, dsn) // migrates up again
	page, err := db.ProspectEvents(ctx, "acct_old", "prs_old", store.Keyset{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	if len(ids) != 2 || ids[0] != "evt_02" || ids[1] != "evt_01" {
		t.Errorf("events about prs_old after the upgrade: %v, want [evt_02 evt_01]", ids)
	}
}

// An upgrade keeps the plan's limit exact for an account whose count was
// spread unevenly over its slots (deletions take from a slot, which may go
// below zero): the slots get their caps from the room the plan leaves, not
// from each slot's count alone. A changed limit shares the room again.
func TestProspectCountCapsMigration(t *testing.T) {
	ctx := context.Background()
	raw, p := migratedTo(t, pgtest.URL(t), 16)
	// 9 live of 10: 39 in slot 0, and two fewer in each other slot.
	for _, q := range []string{
		`INSERT INTO accounts (id, name, prospect_limit, created) VALUES ('acct_old', 'old', 10, now())`,
		`UPDATE prospect_counts SET live = CASE WHEN slot = 0 THEN 39 ELSE -2 END WHERE account_id = 'acct_old'`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// Each count on a new connection, whose process id picks another slot.
	raw.SetMaxIdleConns(0)
	countIn := func(tries int) (counted int) {
		t.Helper()
		for range tries {
			var ok bool
			if err := raw.QueryRowContext(ctx, `SELECT count_prospects_in('acct_old', 1)`).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if ok {
				counted++
			}
		}
		return counted
	}
	if n := countIn(20); n != 1 {
		t.Errorf("counted in %d of 20 with room for 1 after the upgrade", n)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE accounts SET prospect_limit = 13 WHERE id = 'acct_old'`); err != nil {
		t.Fatal(err)
	}
	if n := countIn(20); n != 3 {
		t.Errorf("counted in %d of 20 with room for 3 after the limit grew", n)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE accounts SET prospect_limit = 5 WHERE id = 'acct_old'`); err != nil {
		t.Fatal(err)
	}
	if n := countIn(20); n != 0 {
		t.Errorf("counted in %d of 20 over a lowered limit", n)
	}
	var live int64
	if err := raw.QueryRowContext(ctx, `SELECT live_prospects('acct_old')`).Scan(&live); err != nil || live != 13 {
		t.Errorf("live prospects %d (%v), want 13", live, err)
	}
}
