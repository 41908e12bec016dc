package main

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// prospectsSearchOptions are the query of capture prospects search and what it prints.
type prospectsSearchOptions struct {
	*apiOptions
	Query string // in the API's search language
	listLimit
	Fields []string
}

func newProspectsSearchCmd(api *apiOptions, runF runner[prospectsSearchOptions]) *cobra.Command {
	opts := &prospectsSearchOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Find prospects by a query, newest first",
		Long: `Finds the prospects a query selects, newest first, fetching pages as it goes.

A query is clauses joined by AND or by OR (not both), each a field, a
comparison and a value in double quotes: field:"value" is exact (email in any
case), field~"text" finds the text inside email, first_name, last_name,
company, title or website (at least 3 characters, in any case); status:"new",
tag:"vip", metadata["plan"]:"pro", created>1767225600 (also <, >=, <=); a -
before a clause negates it. Quote the whole query for the shell, and write --
before a query that starts with a negated clause, or the - reads as a flag:
capture prospects search -- '-tag:"vip"'.

On a terminal: a table of the first ` + strconv.Itoa(defaultListLimit) + ` prospects found (columns id, email,
first_name, last_name, company, status, created unless --fields says
otherwise); --limit N shows N, --all shows every one. Piped, or with --json:
one JSON object per line, for every prospect found unless --limit says
otherwise.`,
		Example: `  capture prospects search 'company~"acme" AND status:"new"'
  capture prospects search 'email:"ada@example.com"' --fields id,email,status
  capture prospects search 'tag:"vip" OR metadata["plan"]:"pro"' --all
  capture prospects search 'email~"@example.com"' --json | jq -r .id
  capture prospects search --all -- '-tag:"vip" AND company~"acme"'`,
		Args: positional(1, "the query, such as 'company~\"acme\"'"),
	}
	cmd.SetFlagErrorFunc(searchFlagError)
	opts.listLimit.register(cmd, "prospects")
	fields := fieldsFlag(cmd, "default "+strings.Join(listColumns, ","))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := opts.listLimit.check(cmd); err != nil {
			return err
		}
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		opts.Query, opts.Fields = args[0], *fields
		opts.attach(cmd)
		return runF.or(prospectsSearchRun)(cmd.Context(), opts)
	}
	return cmd
}

// searchFlagError is flagError, but says how to send a query that starts
// with a negated clause, which the shell passes on as an argument beginning
// with - and so as flags: after --.
func searchFlagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if _, arg, ok := strings.Cut(msg, " in -"); ok && strings.HasPrefix(msg, "unknown shorthand flag") && strings.ContainsAny(arg, `:~<>"`) {
		return usageError("%s: a query that starts with a negated clause goes after --, as in capture prospects search -- '-%s'", msg, arg)
	}
	return flagError(cmd, err)
}

// prospectsSearchRun prints the prospects the query finds, up to the limit.
func prospectsSearchRun(ctx context.Context, opts *prospectsSearchOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	columns := opts.Fields
	if len(columns) == 0 && !opts.wantJSON() {
		columns = listColumns
	}
	fields := func(p client.Prospect) ([]field, error) {
		obj, err := objectFields(p)
		return selectFields(obj, columns), err
	}
	printer := listPrinter[client.Prospect]{what: "prospects", header: slices.Clone(columns),
		json: func(p client.Prospect) ([]byte, error) {
			obj, err := fields(p)
			return encodeObject(obj), err
		},
		row: func(p client.Prospect) ([]string, error) {
			obj, err := fields(p)
			return cells(obj), err
		},
	}
	return printer.print(ctx, opts.apiOptions, c.Prospects.Search(ctx, opts.Query), opts.most(opts.apiOptions))
}
