// Command capture is the Capture API in one binary: the server (serve), the admin
// commands that talk to its database directly (migrate, accounts, keys,
// maintenance), and a command-line client over HTTP (prospects).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `capture — the Capture API server, its admin commands and a command-line client.

Usage:
  capture serve [flags]                          run the API server
  capture migrate [--db DSN]                     bring the database schema up to date
  capture accounts create NAME [--prospect-limit N] [--rate-limit N] [--db DSN]
  capture keys create --account NAME --role admin|standard [--db DSN]
  capture keys revoke ID [--db DSN]
  capture maintenance on [--retry-after SECONDS] | off [--db DSN]

Every flag can also be set with an environment variable: --db is CAPTURE_DB,
--addr is CAPTURE_ADDR, and so on. Run "capture COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "accounts":
		return runAccounts(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "maintenance":
		return runMaintenance(ctx, rest, stdout, stderr)
	case "prospects":
		return runProspects(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "capture: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
