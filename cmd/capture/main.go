// Command capture is the Capture API in one binary: the server (serve), the admin
// commands that talk to its database directly (migrate, accounts, keys,
// maintenance), and a command-line client over HTTP (prospects).
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError ends a command with an exit status. Its message, if any, is printed
// on stderr after the command's name; a nil err means the command has said
// everything already.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a wrong command line: exit status 64 and a pointer to --help.
func usageError(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// failure is a command that could not do its work: exit status 1.
func failure(format string, args ...any) error {
	return &exitError{exitRequest, fmt.Errorf(format, args...)}
}

// run runs a command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil {
		cmd = root
	}
	code, msg := exitUsage, err
	var ee *exitError
	if errors.As(err, &ee) {
		code, msg = ee.code, ee.err
	}
	if msg != nil {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), strings.TrimRight(msg.Error(), "\n"))
		if code == exitUsage {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}

const rootLong = `capture is the Capture API in one binary:

  - the server (capture serve), with its embedded SQLite database;
  - the admin commands, which talk to that database directly (migrate, accounts,
    keys, maintenance) and never create one: only serve and migrate do;
  - a command-line client over HTTP (prospects, events, webhooks, forms, trigger),
    which reads CAPTURE_API_KEY and CAPTURE_URL.

Settings flags can also be set with an environment variable, shown in each
command's help: --db is CAPTURE_DB, --api-key is CAPTURE_API_KEY. A flag on the
command line wins over its variable.

Exit status: 0 success, 1 refused or failed, 64 wrong usage; capture prospects
also uses 2 (server error) and 3 (server unreachable), 130 when interrupted.`

func newRootCmd() *cobra.Command {
	root := group(&cobra.Command{
		Use:   "capture",
		Short: "The Capture API server, its admin commands and a command-line client",
		Long:  rootLong,
		Example: `  capture serve                                   # API on http://127.0.0.1:8080, database ./capture.db
  capture keys create --account default --role standard
  capture prospects list --status qualified
  capture completion bash > /etc/bash_completion.d/capture`,
		Version:           versionString(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: applyEnv,
	})
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newServeCmd(), newMigrateCmd(), newAccountsCmd(), newKeysCmd(), newMaintenanceCmd(),
		newProspectsCmd(), newEventsCmd(), newWebhooksCmd(), newFormsCmd(), newVersionCmd(), newCompletionCmd(),
		newSuppressionsCmd(), newTriggerCmd(nil))
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  capture help keys create"
		}
	}
	bindEnv(root)
	return root
}

// group makes a command that only holds subcommands: run alone it prints its
// help on stderr and exits 64, and an unknown subcommand is named with suggestions.
func group(c *cobra.Command) *cobra.Command {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		cmd.SuggestionsMinimumDistance = cmp.Or(cmd.SuggestionsMinimumDistance, 2)
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return usageError("%s", msg)
	}
	// Runnable only to report a missing subcommand: its usage shows just "capture keys [command]".
	c.SetUsageTemplate(strings.Replace(c.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Help()
		return &exitError{code: exitUsage}
	}
	return c
}

// Flag annotations: the environment variable a flag reads, whether its value
// came from there, and the flags that deliberately have none.
const (
	annotEnv     = "capture_env"
	annotFromEnv = "capture_from_env"
	annotNoEnv   = "capture_no_env"
)

// noEnv marks flags that carry a record's data (a prospect's email, a filter)
// rather than a setting: an environment variable would silently fill them in.
func noEnv(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, annotNoEnv, []string{"true"}); err != nil {
			panic(err)
		}
	}
}

// envName is the environment variable for a flag: --request-timeout is CAPTURE_REQUEST_TIMEOUT.
func envName(flagName string) string {
	return "CAPTURE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// bindEnv gives every settings flag of the tree its CAPTURE_* variable and says
// so in its help line.
func bindEnv(c *cobra.Command) {
	mark := func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "version" || f.Annotations[annotNoEnv] != nil || f.Annotations[annotEnv] != nil {
			return
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[annotEnv] = []string{envName(f.Name)}
		f.Usage += " [$" + envName(f.Name) + "]"
	}
	c.PersistentFlags().VisitAll(mark)
	c.LocalNonPersistentFlags().VisitAll(mark)
	for _, sub := range c.Commands() {
		bindEnv(sub)
	}
}

// applyEnv sets each settings flag not given on the command line from its
// environment variable. It runs after parsing, so that --help never shows a
// secret from the environment.
func applyEnv(cmd *cobra.Command, _ []string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		env := f.Annotations[annotEnv]
		if err != nil || f.Changed || env == nil {
			return
		}
		v, ok := os.LookupEnv(env[0])
		if !ok {
			return
		}
		if e := cmd.Flags().Set(f.Name, v); e != nil {
			err = usageError("%s=%q: %v", env[0], v, e)
			return
		}
		f.Annotations[annotFromEnv] = []string{"true"}
	})
	return err
}

// givenOnCommandLine reports whether the flag was typed, rather than defaulted
// or taken from the environment.
func givenOnCommandLine(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	return f != nil && f.Changed && f.Annotations[annotFromEnv] == nil
}

// flagError turns pflag's parse errors into usage errors that say what a value
// should look like.
func flagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		want := ""
		switch t := iv.GetFlag().Value.Type(); {
		case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
			want = "a whole number"
		case t == "duration":
			want = "a duration such as 10s, 1m30s or 2h"
		case t == "bool":
			want = "true or false"
		}
		if want != "" {
			return usageError("invalid value %q for --%s: want %s", iv.GetValue(), iv.GetFlag().Name, want)
		}
		return usageError("invalid value %q for --%s: %v", iv.GetValue(), iv.GetFlag().Name, errors.Unwrap(iv))
	}
	return usageError("%v", err)
}

// positional checks the number of positional arguments: what names the missing ones.
func positional(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageError("missing %s", what)
		case len(args) > n:
			return usageError("unexpected argument %q", args[n])
		}
		return nil
	}
}
