package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// defaultProspectLimit is a new account's plan limit unless --prospect-limit says otherwise.
const defaultProspectLimit = 100000

// openDB opens and migrates the database a command names.
func openDB(ctx context.Context, dsn string) (*sqlite.DB, error) {
	db, err := sqlite.Open(dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", dsn, err)
	}
	return db, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture migrate", stderr)
	dsn := dbFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return exitUsage
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(stderr, "capture migrate:", err)
		return 1
	}
	defer db.Close()
	fmt.Fprintln(stdout, "schema is up to date")
	return 0
}

func runAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture accounts create", stderr)
	dsn := dbFlag(fs)
	limit := fs.Int64("prospect-limit", defaultProspectLimit, "live prospects the account's plan allows")
	rate := fs.Int("rate-limit", 0, "requests per second for each of the account's keys (0: the server's default)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 2 || pos[0] != "create" {
		fmt.Fprintln(stderr, "usage: capture accounts create NAME [--prospect-limit N] [--rate-limit N] [--db DSN]")
		return exitUsage
	}
	if *limit < 0 || *rate < 0 {
		fmt.Fprintln(stderr, "capture accounts create: --prospect-limit and --rate-limit must not be negative")
		return exitUsage
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(stderr, "capture accounts create:", err)
		return 1
	}
	defer db.Close()
	a, err := db.CreateAccount(ctx, pos[1], *limit, *rate)
	if err != nil {
		fmt.Fprintln(stderr, "capture accounts create:", err)
		return 1
	}
	fmt.Fprintln(stdout, a.ID)
	return 0
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture keys", stderr)
	dsn := dbFlag(fs)
	account := fs.String("account", "", "create: the account's name (created if missing)")
	role := fs.String("role", "standard", "create: admin or standard")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) == 1 && pos[0] == "create":
		if *account == "" || !store.Role(*role).Valid() {
			fmt.Fprintln(stderr, "usage: capture keys create --account NAME --role admin|standard [--db DSN]")
			return exitUsage
		}
	case len(pos) == 2 && pos[0] == "revoke":
	default:
		fmt.Fprintln(stderr, "usage: capture keys create --account NAME --role admin|standard | capture keys revoke ID [--db DSN]")
		return exitUsage
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(stderr, "capture keys:", err)
		return 1
	}
	defer db.Close()
	if pos[0] == "revoke" {
		if err := db.RevokeKey(ctx, pos[1]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("no active key with id %s", pos[1])
			}
			fmt.Fprintln(stderr, "capture keys revoke:", err)
			return 1
		}
		fmt.Fprintln(stderr, "revoked", pos[1])
		return 0
	}
	secret, keyID, err := createKey(ctx, db, *account, store.Role(*role))
	if err != nil {
		fmt.Fprintln(stderr, "capture keys create:", err)
		return 1
	}
	fmt.Fprintf(stderr, "created %s key %s for account %s; the secret is shown once:\n", *role, keyID, *account)
	fmt.Fprintln(stdout, secret)
	return 0
}

// createKey makes a key for the named account, creating the account if missing.
func createKey(ctx context.Context, db store.Store, accountName string, role store.Role) (secret, keyID string, err error) {
	a, err := db.AccountByName(ctx, accountName)
	if errors.Is(err, store.ErrNotFound) {
		a, err = db.CreateAccount(ctx, accountName, defaultProspectLimit, 0)
	}
	if err != nil {
		return "", "", err
	}
	k, secret, err := db.CreateKey(ctx, a.ID, role)
	if err != nil {
		return "", "", err
	}
	return secret, k.ID, nil
}

func runMaintenance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture maintenance", stderr)
	dsn := dbFlag(fs)
	retryAfter := fs.Int("retry-after", 60, "on: seconds clients are told to wait (Retry-After)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || (pos[0] != "on" && pos[0] != "off") || *retryAfter < 1 {
		fmt.Fprintln(stderr, "usage: capture maintenance on [--retry-after SECONDS] | off [--db DSN]")
		return exitUsage
	}
	db, err := openDB(ctx, *dsn)
	if err != nil {
		fmt.Fprintln(stderr, "capture maintenance:", err)
		return 1
	}
	defer db.Close()
	m := store.Maintenance{On: pos[0] == "on", RetryAfter: *retryAfter}
	if err := db.SetMaintenance(ctx, m); err != nil {
		fmt.Fprintln(stderr, "capture maintenance:", err)
		return 1
	}
	if m.On {
		fmt.Fprintf(stdout, "maintenance on: /v1 answers 503 with Retry-After: %d\n", m.RetryAfter)
	} else {
		fmt.Fprintln(stdout, "maintenance off")
	}
	return 0
}
