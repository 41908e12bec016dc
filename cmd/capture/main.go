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

// Exit statuses of every capture command; for `capture prospects` they let scripts
// tell a request to fix from a server to wait for and a network to check.
const (
	exitOK          = 0
	exitRequest     = 1   // the API refused the request (4xx), or the client refused to send it
	exitServer      = 2   // the server failed (5xx) or answered something unreadable
	exitConnection  = 3   // no answer: refused, reset, DNS, TLS, timeout
	exitUsage       = 64  // wrong command line
	exitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

const usage = `capture — the Capture API server, its admin commands and a command-line client.

Usage:
  capture serve [flags]                          run the API server
  capture migrate [--db DSN]                     bring the database schema up to date
  capture accounts create NAME [--prospect-limit N] [--rate-limit N] [--db DSN]
  capture keys create --account NAME --role admin|standard [--db DSN]
  capture keys revoke ID [--db DSN]
  capture maintenance on [--retry-after SECONDS] | off [--db DSN]
  capture prospects create|get|update|delete|list [flags]   the API over HTTP (CAPTURE_API_KEY, CAPTURE_URL)

Every flag can also be set with an environment variable: --db is CAPTURE_DB,
--addr is CAPTURE_ADDR, and so on. Run "capture COMMAND -h" for a command's flags.
Exit status: 0 success, 1 refused or failed, 64 wrong usage (prospects: 2 server
error, 3 server unreachable).
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
		return exitUsage
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
		return exitUsage
	}
}
