package main

import (
	"context"
	"fmt"
	"iter"

	"github.com/spf13/cobra"
)

// defaultListLimit is how many items a list shows on a terminal unless --limit
// or --all says otherwise: a screenful, as gh does.
const defaultListLimit = 30

// listLimit is how many items a list command prints.
type listLimit struct {
	Limit int  // at most this many; 0: the default
	All   bool // every page
	max   int  // --max, the former name of --limit (0 meant all)
}

// register adds --limit, --all and the deprecated --max to a list command.
func (l *listLimit) register(cmd *cobra.Command, what string) {
	fs := cmd.Flags()
	fs.IntVar(&l.Limit, "limit", 0, fmt.Sprintf("show at most N %s (default %d on a terminal, all when piped or with --json)", what, defaultListLimit))
	fs.BoolVar(&l.All, "all", false, "show every "+what[:len(what)-1]+", fetching every page")
	fs.IntVar(&l.max, "max", 0, "stop after N "+what+" (0: all)")
	_ = fs.MarkHidden("max") // not pflag's MarkDeprecated, whose notice cobra prints on stdout, into the JSON
	noEnv(fs, "limit", "all", "max")
}

// check reads the flags, once parsed: a usage error for a wrong combination.
func (l *listLimit) check(cmd *cobra.Command) error {
	set := cmd.Flags().Changed
	if set("max") {
		if l.max < 0 {
			return usageError("--max must be 0 or more")
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "--max is deprecated: use --limit N, or --all")
		if !set("limit") {
			l.Limit, l.All = l.max, l.max == 0
		}
	}
	switch {
	case set("limit") && l.Limit < 1:
		return usageError("--limit must be at least 1, not %d", l.Limit)
	case set("limit") && l.All:
		return usageError("--limit and --all cannot be used together")
	}
	return nil
}

// most is how many items to print, 0 for all of them: what --limit or --all
// says, else a screenful for people at a terminal and everything for programs.
func (l listLimit) most(o *apiOptions) int {
	switch {
	case l.All:
		return 0
	case l.Limit > 0:
		return l.Limit
	case o.wantJSON():
		return 0
	default:
		return defaultListLimit
	}
}

// pageSize is how many items to ask for a page: enough to fill the list and
// to see whether one more exists, up to the API's 100.
func pageSize(most int) int {
	if most == 0 {
		return 100
	}
	return min(most+1, 100)
}

// listPrinter prints a list's items as they arrive: one JSON object per line,
// or, for people, a table once all have arrived.
type listPrinter[T any] struct {
	what   string   // "prospects", for "no prospects"
	header []string // the table's columns
	json   func(T) ([]byte, error)
	row    func(T) ([]string, error)
}

// print prints at most most items (0: all) and says on stderr, under a table,
// when there were more.
func (p listPrinter[T]) print(ctx context.Context, o *apiOptions, items iter.Seq2[T, error], most int) error {
	asJSON := o.wantJSON()
	var rows [][]string
	n, more := 0, false
	for it, err := range items {
		if err != nil {
			if rows != nil {
				_ = writeTable(o.Out, p.header, rows) // what arrived before the failure
			}
			return o.fail(ctx, err)
		}
		if most > 0 && n == most {
			more = true
			break
		}
		n++
		if asJSON {
			line, err := p.json(it)
			if err != nil {
				return failure("%v", err)
			}
			if _, err := o.Out.Write(append(line, '\n')); err != nil {
				return failure("%v", err)
			}
			continue
		}
		r, err := p.row(it)
		if err != nil {
			return failure("%v", err)
		}
		rows = append(rows, r)
	}
	if asJSON {
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintln(o.ErrOut, "no "+p.what)
		return nil
	}
	if err := writeTable(o.Out, p.header, rows); err != nil {
		return failure("%v", err)
	}
	if more {
		fmt.Fprintf(o.ErrOut, "Showing the first %d %s: --limit N shows more, --all shows every one.\n", n, p.what)
	}
	return nil
}
