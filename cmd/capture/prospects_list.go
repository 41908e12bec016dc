package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/captureapi/capture/client"
)

// listColumns are the fields a list shows on a terminal unless --fields says otherwise.
var listColumns = []string{"id", "email", "first_name", "last_name", "company", "status", "created"}

// prospectsListOptions are the filters of capture prospects list and what it prints.
type prospectsListOptions struct {
	*apiOptions
	Params client.ProspectListParams // the filters; the page size is chosen from the limit
	listLimit
	Fields []string
}

func newProspectsListCmd(api *apiOptions, runF runner[prospectsListOptions]) *cobra.Command {
	opts := &prospectsListOptions{apiOptions: api}
	var created createdRange
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List prospects, newest first",
		Long: `Lists prospects, newest first, fetching pages as it goes.

On a terminal: a table of the first ` + strconv.Itoa(defaultListLimit) + ` prospects (columns id, email,
first_name, last_name, company, status, created unless --fields says
otherwise); --limit N shows N, --all shows every one. Piped, or with --json:
one JSON object per line, for every prospect unless --limit says otherwise, so
that scripts get the whole list.

Filters combine: --status qualified --tag webinar lists the qualified prospects
tagged webinar. --created-gte and --created-lte take a Unix timestamp
(1767225600), an RFC 3339 time (2026-01-01T09:00:00Z) or a date (2026-01-01, in
UTC; with --created-lte the whole day is included).`,
		Example: `  capture prospects list                          # the newest 30
  capture prospects list --all --status qualified --tag webinar
  capture prospects list --limit 100 --created-gte 2026-01-01 --fields id,email,created
  capture prospects list --json | jq -r .email     # every prospect`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	opts.listLimit.register(cmd, "prospects")
	status := fs.String("status", "", "only prospects with this status: "+orList(prospectStatuses))
	email := fs.String("email", "", "only the prospect with this email")
	tag := fs.String("tag", "", "only prospects with this tag")
	created.register(cmd, "prospects")
	after := fs.String("starting-after", "", "start after this prospect ID (older ones follow)")
	before := fs.String("ending-before", "", "list the prospects newer than this prospect ID, oldest first")
	noEnv(fs, "status", "email", "tag", "starting-after", "ending-before")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(prospectStatuses, cobra.ShellCompDirectiveNoFileComp))
	fields := fieldsFlag(cmd, "default "+strings.Join(listColumns, ","))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := opts.listLimit.check(cmd); err != nil {
			return err
		}
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		opts.Params = client.ProspectListParams{Status: client.ProspectStatus(*status), Email: *email, Tag: *tag,
			StartingAfter: *after, EndingBefore: *before, CreatedGTE: created.gte.unix, CreatedLTE: created.lte.unix}
		opts.Fields = *fields
		opts.attach(cmd)
		return runF.or(prospectsListRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsListRun prints the prospects the filters select, up to the limit.
func prospectsListRun(ctx context.Context, opts *prospectsListOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	columns := opts.Fields
	if len(columns) == 0 && !opts.wantJSON() {
		columns = listColumns
	}
	most := opts.most(opts.apiOptions)
	params := opts.Params
	params.Limit = pageSize(most)
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
	return printer.print(ctx, opts.apiOptions, c.Prospects.List(ctx, params), most)
}

// createdRange is the --created-gte and --created-lte of a list; a bound not
// given is 0, which the API takes as none.
type createdRange struct{ gte, lte timeFlag }

func (r *createdRange) register(cmd *cobra.Command, what string) {
	r.lte.endOfDay = true
	fs := cmd.Flags()
	fs.Var(&r.gte, "created-gte", "only "+what+" created at or after this time")
	fs.Var(&r.lte, "created-lte", "only "+what+" created at or before this time")
	noEnv(fs, "created-gte", "created-lte")
}

// timeFlag is a time given as a Unix timestamp, an RFC 3339 time or a date.
type timeFlag struct {
	unix     int64
	text     string
	endOfDay bool // a date means its last second, for an upper bound
}

var _ pflag.Value = (*timeFlag)(nil)

func (t *timeFlag) String() string { return t.text }
func (t *timeFlag) Type() string   { return "time" }

func (t *timeFlag) Set(v string) error {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		t.unix, t.text = n, v
		return nil
	}
	if ts, err := time.Parse(time.RFC3339, v); err == nil {
		t.unix, t.text = ts.Unix(), v
		return nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if t.endOfDay {
			d = d.Add(24*time.Hour - time.Second)
		}
		t.unix, t.text = d.Unix(), v
		return nil
	}
	return errors.New("want a Unix timestamp (1767225600), an RFC 3339 time (2026-01-01T09:00:00Z) or a date (2026-01-01)")
}
