package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet makes a FlagSet whose errors go to stderr and do not exit.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is the environment variable for a flag: --request-timeout is CAPTURE_REQUEST_TIMEOUT.
func envName(flagName string) string {
	return "CAPTURE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse sets each flag from its CAPTURE_* environment variable, then from the
// command line (which wins); flags may come before or after positional arguments
// (capture accounts create NAME --prospect-limit 5). It returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += fmt.Sprintf(" (env %s)", envName(f.Name))
		if v, ok := os.LookupEnv(envName(f.Name)); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return nil, err
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// dbFlag is the --db flag every database command shares.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "capture.db", "database: a SQLite file path")
}
