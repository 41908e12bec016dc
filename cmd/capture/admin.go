package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// dbUsage is the help of the --db flag every database command shares.
const dbUsage = "the SQLite database file, or a postgres:// URL (the one capture serve uses)"

// dbFlag adds the --db flag every database command shares.
func dbFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("db", defaultDB, dbUsage)
}

// adminOptions are what every admin command shares: the database it works on,
// which must exist, and where it prints.
type adminOptions struct {
	DB      string // a SQLite file or a postgres:// URL
	DBGiven bool   // --db was typed, so there is no need to say which file was opened
	output
}

// newAdminOptions adds --db to an admin command.
func newAdminOptions(cmd *cobra.Command) *adminOptions {
	o := &adminOptions{}
	cmd.Flags().StringVar(&o.DB, "db", defaultDB, dbUsage)
	return o
}

// attach reads what the command line says beyond the flags' values, and
// points the output at the command's streams.
func (o *adminOptions) attach(cmd *cobra.Command) {
	o.output.attach(cmd)
	o.DBGiven = givenOnCommandLine(cmd, "db")
}

// database is a store that the commands can migrate.
type database interface {
	store.Store
	Migrate(ctx context.Context) (store.SchemaChange, error)
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
	db, err := openUnmigrated(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", displayDB(dsn), err)
	}
	return db, nil
}

// openUnmigrated opens the database dsn names, as openDB, without migrating it.
func openUnmigrated(ctx context.Context, dsn string) (database, error) {
	if postgres.IsURL(dsn) {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(dsn)
}

// open opens the database of an admin command, which must exist: a typo in
// --db, or a command run from another directory, must not make a new empty
// database whose keys the running server has never heard of. When the path
// did not come from the command line it says on stderr which file it opened.
func (o *adminOptions) open(ctx context.Context) (database, error) {
	if postgres.IsURL(o.DB) { // a server's database, which only its administrator creates
		db, err := openDB(ctx, o.DB)
		if err != nil {
			return nil, failure("%v", err)
		}
		return db, nil
	}
	abs, err := statDB(o.DB)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failure("no database at %s\n"+
			"Admin commands never create one. Pass --db (or set CAPTURE_DB) to the file capture serve uses,\n"+
			"or create a new one with 'capture migrate --db %s'.", abs, o.DB)
	} else if err != nil {
		return nil, failure("%v", err)
	}
	if !o.DBGiven {
		fmt.Fprintf(o.ErrOut, "using database %s\n", abs)
	}
	db, err := openDB(ctx, abs)
	if err != nil {
		return nil, failure("%v", err)
	}
	return db, nil
}

// withDB runs f on the command's database, then closes it.
func (o *adminOptions) withDB(ctx context.Context, f func(db database) error) error {
	db, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db)
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

// migrateOptions name the database capture migrate brings up to date.
type migrateOptions struct {
	DB  string // a SQLite file or a postgres:// URL
	Out io.Writer
}

func newMigrateCmd() *cobra.Command {
	opts := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the database, or bring its schema up to date",
		Long: `Creates the SQLite database file if it does not exist and applies the schema
migrations it lacks. capture serve does this too on start; admin commands never
create a database, so run this first to prepare one for them.

With --db postgres://… the database must exist (createdb); migrate creates the
tables in it. Replicas starting together migrate one after the other.

It says what it did: "created the schema (N migrations)" on a new database,
"applied N migrations" when some were missing, "up to date" otherwise.`,
		Example: `  capture migrate                       # ./capture.db
  capture migrate --db /var/lib/capture/capture.db
  capture migrate --db postgres://capture@db.internal:5432/capture`,
		Args: positional(0, ""),
	}
	dsn := dbFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.DB, opts.Out = *dsn, cmd.OutOrStdout()
		return migrateRun(cmd.Context(), opts)
	}
	return cmd
}

// migrateRun migrates the database and says what that applied.
func migrateRun(ctx context.Context, opts *migrateOptions) error {
	target := opts.DB
	if !postgres.IsURL(target) {
		abs, err := filepath.Abs(target)
		if err != nil {
			return failure("%v", err)
		}
		target = abs
	}
	db, err := openUnmigrated(ctx, target)
	if err != nil {
		return failure("%v", err)
	}
	defer db.Close()
	change, err := db.Migrate(ctx)
	if err != nil {
		return failure("migrate %s: %v", displayDB(target), err)
	}
	switch {
	case change.Applied > 0 && change.Applied == change.Total:
		fmt.Fprintf(opts.Out, "%s: created the schema (%d migrations)\n", displayDB(target), change.Total)
	case change.Applied == 1:
		fmt.Fprintf(opts.Out, "%s: applied 1 migration\n", displayDB(target))
	case change.Applied > 1:
		fmt.Fprintf(opts.Out, "%s: applied %d migrations\n", displayDB(target), change.Applied)
	default:
		fmt.Fprintf(opts.Out, "%s: up to date\n", displayDB(target))
	}
	return nil
}

// maintenanceOptions say whether capture maintenance turns maintenance on.
type maintenanceOptions struct {
	*adminOptions
	Maintenance store.Maintenance
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
	opts := &maintenanceOptions{adminOptions: newAdminOptions(cmd)}
	retryAfter := cmd.Flags().Int("retry-after", 60, "with on: the seconds clients are told to wait (Retry-After), at least 1")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *retryAfter < 1 {
			return usageError("--retry-after must be at least 1 second, not %d", *retryAfter)
		}
		opts.Maintenance = store.Maintenance{On: args[0] == "on", RetryAfter: *retryAfter}
		opts.attach(cmd)
		return maintenanceRun(cmd.Context(), opts)
	}
	return cmd
}

// maintenanceRun turns maintenance mode on or off.
func maintenanceRun(ctx context.Context, opts *maintenanceOptions) error {
	return opts.withDB(ctx, func(db database) error {
		m := opts.Maintenance
		if err := db.SetMaintenance(ctx, m); err != nil {
			return failure("%v", err)
		}
		if m.On {
			fmt.Fprintf(opts.Out, "maintenance on: /v1 answers 503 with Retry-After: %d\n", m.RetryAfter)
		} else {
			fmt.Fprintln(opts.Out, "maintenance off")
		}
		return nil
	})
}
