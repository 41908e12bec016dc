package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/postgres/pgtest"
)

// migrationsDir is where an engine's schema migrations are, from this package.
func migrationsDir(engine string) string {
	return filepath.Join("..", "..", "server", engine, "migrations")
}

// migrationCount is how many schema migrations an engine ("sqlite", "postgres") has.
func migrationCount(t *testing.T, engine string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsDir(engine), "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations for %s: %v", engine, err)
	}
	return len(files)
}

// rollBack undoes the last n schema migrations of a migrated database, as an
// older capture would have left it.
func rollBack(t *testing.T, engine, driver, dsn string, dialect goose.Dialect, n int) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(dialect, db, os.DirFS(migrationsDir(engine)))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := p.Down(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// testMigrateSays runs capture migrate on an empty database, a database that
// lacks its last two migrations, its last one, and none, and checks what it says.
func testMigrateSays(t *testing.T, engine, dsn, shown string, rollBack func(n int)) {
	t.Helper()
	steps := []struct {
		rollBack int
		want     string
	}{
		{0, fmt.Sprintf("created the schema (%d migrations)", migrationCount(t, engine))},
		{0, "up to date"},
		{2, "applied 2 migrations"},
		{1, "applied 1 migration"},
		{0, "up to date"},
	}
	for _, step := range steps {
		if step.rollBack > 0 {
			rollBack(step.rollBack)
		}
		out, errOut, code := runPiped(t, nil, "migrate", "--db", dsn)
		if want := shown + ": " + step.want + "\n"; code != 0 || out != want {
			t.Fatalf("migrate after rolling back %d: want exit 0 and %q, got exit %d, stdout %q, stderr %q",
				step.rollBack, want, code, out, errOut)
		}
	}
}

func TestMigrateSaysWhatItAppliedOnSQLite(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "migrate.db")
	testMigrateSays(t, "sqlite", db, db, func(n int) { rollBack(t, "sqlite", "sqlite", db, goose.DialectSQLite3, n) })
}

func TestMigrateSaysWhatItAppliedOnPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn := pgtest.URL(t)
	testMigrateSays(t, "postgres", dsn, postgres.Redact(dsn), func(n int) { rollBack(t, "postgres", "pgx", dsn, goose.DialectPostgres, n) })
}
