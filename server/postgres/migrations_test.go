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

// An upgrade keeps every event about a prospect findable: the events written
// before events had an object_id column are found through it after, and the
// migration goes back down and up again.
func TestEventsObjectIDMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.URL(t)
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, raw, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
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
