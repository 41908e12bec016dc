package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// defaultProspectLimit is a new account's plan limit unless --prospect-limit says otherwise.
const defaultProspectLimit = 100000

// defaultDB is the database file every command uses unless --db says otherwise.
const defaultDB = "capture.db"

// dbFlag adds the --db flag every database command shares.
func dbFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("db", defaultDB, "the SQLite database file, or a postgres:// URL (the one capture serve uses)")
}

// database is a store that the commands can migrate.
type database interface {
	store.Store
	Migrate(ctx context.Context) error
}

// displayDB names a database for people: a file's absolute path, or a URL
// without its password.
func displayDB(dsn string) string {
	if postgres.IsURL(dsn) {
		return postgres.Redact(dsn)
	}
	if abs, err := filepath.Abs(dsn); err == nil {
		return abs
	}
	return dsn
}

// openDB opens the database a command names (a SQLite file, created if
// needed, or a postgres:// URL of a database that exists), and migrates it;
// only serve and migrate call it directly.
func openDB(ctx context.Context, dsn string) (database, error) {
	var db database
	var err error
	if postgres.IsURL(dsn) {
		db, err = postgres.Open(ctx, dsn)
	} else {
		db, err = sqlite.Open(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", displayDB(dsn), err)
	}
	return db, nil
}

// openExistingDB opens the database of an admin command, which must exist: a
// typo in --db, or a command run from another directory, must not make a new
// empty database whose keys the running server has never heard of. When the
// path did not come from the command line it says on stderr which file it opened.
func openExistingDB(cmd *cobra.Command, path string) (database, error) {
	if postgres.IsURL(path) { // a server's database, which only its administrator creates
		db, err := openDB(cmd.Context(), path)
		if err != nil {
			return nil, failure("%v", err)
		}
		return db, nil
	}
	abs, err := statDB(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failure("no database at %s\n"+
			"Admin commands never create one. Pass --db (or set CAPTURE_DB) to the file capture serve uses,\n"+
			"or create a new one with 'capture migrate --db %s'.", abs, path)
	} else if err != nil {
		return nil, failure("%v", err)
	}
	if !givenOnCommandLine(cmd, "db") {
		fmt.Fprintf(cmd.ErrOrStderr(), "using database %s\n", abs)
	}
	db, err := openDB(cmd.Context(), abs)
	if err != nil {
		return nil, failure("%v", err)
	}
	return db, nil
}

// statDB returns the absolute path of a database file, and an error wrapping
// fs.ErrNotExist if there is none.
func statDB(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path, err
	}
	_, err = os.Stat(abs)
	return abs, err
}

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the database, or bring its schema up to date",
		Long: `Creates the SQLite database file if it does not exist and applies the schema
migrations it lacks. capture serve does this too on start; admin commands never
create a database, so run this first to prepare one for them.

With --db postgres://… the database must exist (createdb); migrate creates the
tables in it. Replicas starting together migrate one after the other.`,
		Example: `  capture migrate                       # ./capture.db
  capture migrate --db /var/lib/capture/capture.db
  capture migrate --db postgres://capture@db.internal:5432/capture`,
		Args: positional(0, ""),
	}
	dsn := dbFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		target := *dsn
		if !postgres.IsURL(target) {
			abs, err := filepath.Abs(target)
			if err != nil {
				return failure("%v", err)
			}
			target = abs
		}
		db, err := openDB(cmd.Context(), target)
		if err != nil {
			return failure("%v", err)
		}
		defer db.Close()
		fmt.Fprintf(cmd.OutOrStdout(), "schema of %s is up to date\n", displayDB(target))
		return nil
	}
	return cmd
}

func newMaintenanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance on|off",
		Short: "Turn maintenance mode on or off for every server on the database",
		Long: `In maintenance mode every server on the database answers /v1 requests with
503 maintenance and a Retry-After header, within a second; /healthz, /readyz,
/metrics and /docs keep answering.`,
		Example: `  capture maintenance on --retry-after 120
  capture maintenance off`,
		ValidArgs: []string{"on", "off"},
		Args: func(cmd *cobra.Command, args []string) error {
			if err := positional(1, "on or off")(cmd, args); err != nil {
				return err
			}
			if args[0] != "on" && args[0] != "off" {
				return usageError("want on or off, not %q", args[0])
			}
			return nil
		},
	}
	dsn := dbFlag(cmd)
	retryAfter := cmd.Flags().Int("retry-after", 60, "with on: the seconds clients are told to wait (Retry-After), at least 1")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *retryAfter < 1 {
			return usageError("--retry-after must be at least 1 second, not %d", *retryAfter)
		}
		db, err := openExistingDB(cmd, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		m := store.Maintenance{On: args[0] == "on", RetryAfter: *retryAfter}
		if err := db.SetMaintenance(cmd.Context(), m); err != nil {
			return failure("%v", err)
		}
		if m.On {
			fmt.Fprintf(cmd.OutOrStdout(), "maintenance on: /v1 answers 503 with Retry-After: %d\n", m.RetryAfter)
		} else {
			fmt.Fprintln(cmd.OutOrStdout(), "maintenance off")
		}
		return nil
	}
	return cmd
}
