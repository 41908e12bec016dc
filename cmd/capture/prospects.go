package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oapi-codegen/nullable"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/captureapi/capture/client"
)

const prospectsLong = `Create, read, update, delete, list and import prospects through the Capture
API, over HTTP with the Go client. The key comes from --api-key or
CAPTURE_API_KEY, the server from --url or CAPTURE_URL (default ` + defaultURL + `).

Output: on a terminal, a table; when piped, or with --json, JSON (one object, or
one per line for list). --fields chooses the fields either way. On failure,
stderr gets the error's message, type, code, param, status and request id, one
per line. Retries (after a 503, a 429 or a network error) are announced on stderr.

Exit status:
  0    success
  1    the request was refused (4xx: invalid, unauthorized, not found, conflict, …)
  2    the server failed (5xx) or its answer could not be read
  3    the server could not be reached (refused, reset, DNS, TLS, timeout)
  64   wrong usage (unknown command, bad flag, missing argument or API key)
  130  interrupted`

// defaultURL is where the command line looks for a server when neither --url
// nor CAPTURE_URL says: a local `capture serve`.
const defaultURL = "http://127.0.0.1:8080"

// prospectsOptions are the flags every prospects command shares.
type prospectsOptions struct {
	apiKey     string
	url        string
	maxRetries int
	asJSON     bool
}

func newProspectsCmd() *cobra.Command {
	o := &prospectsOptions{}
	cmd := group(&cobra.Command{
		Use:   "prospects",
		Short: "Create, read, update, delete, list and import prospects over the API",
		Long:  prospectsLong,
		Example: `  export CAPTURE_API_KEY=sk_…
  capture prospects create --email ada@example.com --first-name Ada
  capture prospects list --status qualified --fields id,email,company
  capture prospects list --json | jq -r .email`,
	})
	o.register(cmd)
	cmd.AddCommand(newProspectsCreateCmd(o), newProspectsGetCmd(o), newProspectsUpdateCmd(o),
		newProspectsDeleteCmd(o), newProspectsListCmd(o), newProspectsImportCmd(o))
	return cmd
}

// register adds the flags every command over the API shares to cmd's subcommands.
func (o *prospectsOptions) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.apiKey, "api-key", "", "secret API key, sk_…")
	pf.StringVar(&o.url, "url", defaultURL, "the server's base URL")
	pf.IntVar(&o.maxRetries, "max-retries", client.DefaultMaxRetries, "resend a request that failed in a retryable way up to N times")
	pf.BoolVar(&o.asJSON, "json", false, "print JSON even on a terminal (JSON is the default when output is piped)")
}

// client makes the API client, or refuses before any request when there is no key.
func (o *prospectsOptions) client(cmd *cobra.Command) (*client.Client, error) {
	if o.apiKey == "" {
		return nil, usageError("no API key: set CAPTURE_API_KEY or pass --api-key sk_… (an admin makes one with 'capture keys create')")
	}
	if o.maxRetries < 0 {
		return nil, usageError("--max-retries must be 0 or more, not %d", o.maxRetries)
	}
	stderr, attempts := cmd.ErrOrStderr(), o.maxRetries+1
	return client.New(o.apiKey,
		client.WithBaseURL(o.url),
		client.WithMaxRetries(o.maxRetries),
		client.WithUserAgent("capture-cli/"+client.Version),
		client.WithRetryNotify(func(e *client.Error, attempt int, wait time.Duration) {
			fmt.Fprintf(stderr, "%s, retrying in %s (attempt %d of %d)\n", retryReason(e), waitString(wait), attempt, attempts)
		}),
	), nil
}

// retryReason says in a few words why an attempt failed: "503 maintenance".
func retryReason(e *client.Error) string {
	switch {
	case e.StatusCode == 0:
		return e.Message
	case e.Type == client.ErrorTypeAPIConnectionError: // the answer began, then the connection failed
		return "the answer was cut short"
	}
	reason := strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		reason += " " + string(e.Code)
	} else if e.Type != "" {
		reason += " " + string(e.Type)
	}
	return reason
}

// waitString rounds a retry wait for people: "20s", "1.5s", "0.3s".
func waitString(d time.Duration) string {
	if d%time.Second == 0 || d >= 10*time.Second {
		return d.Round(time.Second).String()
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// fieldFlags are the prospect fields that create and update share.
type fieldFlags struct {
	strings          map[string]*string // by JSON field name
	email            string
	status           string
	tags             []string
	metadata         mapFlag
	marketingConsent bool
	hidden           bool
	idempotencyKey   string
}

// textFields are the optional text fields, in the order --help shows them.
var textFields = []string{"first_name", "last_name", "company", "title", "phone", "website", "source"}

// prospectStatuses are the values of --status.
var prospectStatuses = []string{"new", "contacted", "qualified", "unqualified", "converted"}

func flagName(field string) string { return strings.ReplaceAll(field, "_", "-") }

func (f *fieldFlags) register(cmd *cobra.Command, update bool) {
	fs := cmd.Flags()
	f.strings = map[string]*string{}
	if update {
		fs.StringVar(&f.email, "email", "", "new email address")
	} else {
		fs.StringVar(&f.email, "email", "", "email address (required)")
	}
	for _, name := range textFields {
		f.strings[name] = fs.String(flagName(name), "", strings.ReplaceAll(name, "_", " "))
	}
	fs.StringVar(&f.status, "status", "", "status: "+orList(prospectStatuses))
	tagHelp := "add a tag (repeatable)"
	metaHelp := "set metadata key=value (repeatable)"
	if update {
		tagHelp = "replace the tags with these (repeatable)"
		metaHelp = "set metadata key=value (repeatable; other keys are kept, key= removes one)"
	}
	fs.StringArrayVar(&f.tags, "tag", nil, tagHelp)
	fs.Var(&f.metadata, "metadata", metaHelp)
	fs.BoolVar(&f.marketingConsent, "marketing-consent", false, "the prospect agreed to marketing messages (--marketing-consent=false withdraws)")
	fs.BoolVar(&f.hidden, "hidden", false, "hide the prospect from standard keys (admin keys only)")
	fs.StringVar(&f.idempotencyKey, "idempotency-key", "", "send this Idempotency-Key so that repeating the command never applies it twice (default: a fresh key, reused by retries)")
	data := []string{"email", "status", "tag", "metadata", "marketing-consent", "hidden", "idempotency-key"}
	for _, name := range textFields {
		data = append(data, flagName(name))
	}
	noEnv(fs, data...)
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(prospectStatuses, cobra.ShellCompDirectiveNoFileComp))
}

func (f *fieldFlags) requestOptions() []client.RequestOption {
	if f.idempotencyKey == "" {
		return nil
	}
	return []client.RequestOption{client.WithIdempotencyKey(f.idempotencyKey)}
}

// fieldsFlag adds --fields to a command that prints prospects.
func fieldsFlag(cmd *cobra.Command, what string) *[]string {
	fields := cmd.Flags().StringSlice("fields", nil, "print only these fields, in this order (comma-separated: "+what+")")
	_ = cmd.RegisterFlagCompletionFunc("fields", cobra.FixedCompletions(prospectFields, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	return fields
}

func newProspectsCreateCmd(o *prospectsOptions) *cobra.Command {
	var f fieldFlags
	cmd := &cobra.Command{
		Use:   "create --email EMAIL [flags]",
		Short: "Capture a new prospect",
		Long: `Captures a new prospect and prints it. Emails are unique among live prospects:
a duplicate fails with code prospect_exists and names the existing prospect in
existing_id (exit status 1).`,
		Example: `  capture prospects create --email ada@example.com
  capture prospects create --email grace@example.com --first-name Grace --company "US Navy" \
      --tag vip --tag speaker --metadata plan=pro --marketing-consent
  capture prospects create --email ada@example.com --idempotency-key signup-42   # safe to repeat`,
		Args: positional(0, ""),
	}
	f.register(cmd, false)
	fields := fieldsFlag(cmd, "id, email, status, …")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.email == "" {
			return usageError("--email is required")
		}
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		set := cmd.Flags().Changed
		params := client.ProspectCreateParams{Email: f.email}
		for name, dst := range createTexts(&params) {
			if set(flagName(name)) {
				*dst = *f.strings[name]
			}
		}
		if set("status") {
			params.Status = client.ProspectStatus(f.status)
		}
		if set("tag") {
			params.Tags = f.tags
		}
		if set("metadata") {
			params.Metadata = client.Metadata(f.metadata)
		}
		if set("marketing-consent") {
			params.MarketingConsent = f.marketingConsent
		}
		if set("hidden") {
			params.Hidden = f.hidden
		}
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		p, err := c.Prospects.Create(cmd.Context(), params, f.requestOptions()...)
		return o.finish(cmd, p, *fields, err)
	}
	return cmd
}

// clearable are the fields --clear accepts: the optional ones.
var clearable = append(append([]string{}, textFields...), "tags", "metadata")

func newProspectsUpdateCmd(o *prospectsOptions) *cobra.Command {
	var f fieldFlags
	var clear []string
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change some fields of a prospect",
		Long: `Changes the fields given and leaves the others as they are, then prints the
prospect. --clear FIELD empties an optional field: ` + strings.Join(clearable, ", ") + `.
--tag replaces the whole list of tags; --metadata merges keys (key= removes one).`,
		Example: `  capture prospects update prs_01jd… --status qualified --title "Rear Admiral"
  capture prospects update prs_01jd… --clear first_name --metadata plan=
  capture prospects update prs_01jd… --tag customer --marketing-consent=false`,
		Args: positional(1, "the prospect ID"),
	}
	f.register(cmd, true)
	cmd.Flags().StringArrayVar(&clear, "clear", nil, "empty this field (repeatable)")
	noEnv(cmd.Flags(), "clear")
	_ = cmd.RegisterFlagCompletionFunc("clear", cobra.FixedCompletions(clearable, cobra.ShellCompDirectiveNoFileComp))
	fields := fieldsFlag(cmd, "id, email, status, …")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		set := cmd.Flags().Changed
		var params client.ProspectUpdateParams
		changes := 0
		if set("email") {
			params.Email = client.Set(f.email)
			changes++
		}
		texts := updateTexts(&params)
		for name, dst := range texts {
			if set(flagName(name)) {
				changes++
				*dst = client.Set(*f.strings[name])
			}
		}
		if set("status") {
			params.Status = client.Set(client.ProspectStatus(f.status))
			changes++
		}
		if set("tag") {
			params.Tags = client.Set(f.tags)
			changes++
		}
		if set("metadata") {
			params.Metadata = client.Set(map[string]string(f.metadata))
			changes++
		}
		if set("marketing-consent") {
			params.MarketingConsent = client.Set(f.marketingConsent)
			changes++
		}
		if set("hidden") {
			params.Hidden = client.Set(f.hidden)
			changes++
		}
		for _, field := range clear {
			field = strings.ReplaceAll(field, "-", "_")
			if !slices.Contains(clearable, field) {
				return usageError("--clear %s: not a field that can be cleared (one of %s)", field, strings.Join(clearable, ", "))
			}
			if set(flagName(field)) || field == "tags" && set("tag") {
				return usageError("--clear %s conflicts with --%s", field, flagName(strings.TrimSuffix(field, "s")))
			}
			changes++
			switch dst, text := texts[field]; {
			case text:
				*dst = client.Null[string]()
			case field == "tags":
				params.Tags = client.Null[[]string]()
			case field == "metadata":
				params.Metadata = client.Null[map[string]string]()
			}
		}
		if changes == 0 {
			return usageError("nothing to change: give at least one field flag or --clear")
		}
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		p, err := c.Prospects.Update(cmd.Context(), args[0], params, f.requestOptions()...)
		return o.finish(cmd, p, *fields, err)
	}
	return cmd
}

func newProspectsGetCmd(o *prospectsOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Print a prospect",
		Long: `Prints a prospect: field by field on a terminal, as JSON when piped or with
--json. A deleted prospect fails with code resource_gone (exit status 1).`,
		Example: `  capture prospects get prs_01jd…
  capture prospects get prs_01jd… --fields email,status
  capture prospects get prs_01jd… --json | jq .metadata`,
		Args: positional(1, "the prospect ID"),
	}
	fields := fieldsFlag(cmd, "id, email, status, …")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		p, err := c.Prospects.Get(cmd.Context(), args[0])
		return o.finish(cmd, p, *fields, err)
	}
	return cmd
}

func newProspectsDeleteCmd(o *prospectsOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a prospect and erase its personal data",
		Long: `Deletes the prospect and erases its personal data; prints {"id":…,"deleted":true}
(as JSON when piped). Reading or deleting it again fails with code resource_gone
(exit status 1).`,
		Example: `  capture prospects delete prs_01jd…`,
		Args:    positional(1, "the prospect ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		d, err := c.Prospects.Delete(cmd.Context(), args[0])
		return o.finish(cmd, d, nil, err)
	}
	return cmd
}

// listColumns are the fields a list shows on a terminal unless --fields says otherwise.
var listColumns = []string{"id", "email", "first_name", "last_name", "company", "status", "created"}

func newProspectsListCmd(o *prospectsOptions) *cobra.Command {
	var created [2]timeFlag
	created[1].endOfDay = true
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List prospects, newest first",
		Long: `Lists prospects, newest first, fetching pages as it goes: a table on a terminal
(columns ` + strings.Join(listColumns, ", ") + ` unless --fields says otherwise),
one JSON object per line when piped or with --json. Filters combine: --status
qualified --tag webinar lists the qualified prospects tagged webinar.

--created-gte and --created-lte take a Unix timestamp (1767225600), an RFC 3339
time (2026-01-01T09:00:00Z) or a date (2026-01-01, in UTC; with --created-lte
the whole day is included).`,
		Example: `  capture prospects list
  capture prospects list --status qualified --tag webinar --max 20
  capture prospects list --created-gte 2026-01-01 --fields id,email,created
  capture prospects list --json | jq -r .email`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	limit := fs.Int("limit", 100, "page size: prospects fetched per request, 1 to 100")
	most := fs.Int("max", 0, "stop after N prospects (0: all)")
	status := fs.String("status", "", "only prospects with this status: "+orList(prospectStatuses))
	email := fs.String("email", "", "only the prospect with this email")
	tag := fs.String("tag", "", "only prospects with this tag")
	fs.Var(&created[0], "created-gte", "only prospects created at or after this time")
	fs.Var(&created[1], "created-lte", "only prospects created at or before this time")
	after := fs.String("starting-after", "", "start after this prospect ID (older ones follow)")
	before := fs.String("ending-before", "", "list the prospects newer than this prospect ID, oldest first")
	noEnv(fs, "limit", "max", "status", "email", "tag", "created-gte", "created-lte", "starting-after", "ending-before")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(prospectStatuses, cobra.ShellCompDirectiveNoFileComp))
	fields := fieldsFlag(cmd, "default "+strings.Join(listColumns, ","))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *most < 0 {
			return usageError("--max must be 0 or more")
		}
		if err := checkFields(*fields, prospectFields); err != nil {
			return err
		}
		set := cmd.Flags().Changed
		params := client.ProspectListParams{Limit: *limit}
		if !set("limit") && *most > 0 {
			params.Limit = min(*most, 100)
		}
		if set("status") {
			params.Status = client.ProspectStatus(*status)
		}
		if set("email") {
			params.Email = *email
		}
		if set("tag") {
			params.Tag = *tag
		}
		if set("created-gte") {
			params.CreatedGTE = created[0].unix
		}
		if set("created-lte") {
			params.CreatedLTE = created[1].unix
		}
		if set("starting-after") {
			params.StartingAfter = *after
		}
		if set("ending-before") {
			params.EndingBefore = *before
		}
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		asJSON := wantJSON(cmd, o.asJSON)
		columns := *fields
		if len(columns) == 0 && !asJSON {
			columns = listColumns
		}
		var rows [][]string
		n := 0
		for p, err := range c.Prospects.List(cmd.Context(), params) {
			if err != nil {
				if rows != nil {
					_ = writeTable(cmd.OutOrStdout(), slices.Clone(columns), rows) // what arrived before the failure
				}
				return o.fail(cmd, err)
			}
			obj, err := objectFields(p)
			if err != nil {
				return failure("%v", err)
			}
			obj = selectFields(obj, columns)
			if asJSON {
				if _, err := cmd.OutOrStdout().Write(append(encodeObject(obj), '\n')); err != nil {
					return failure("%v", err)
				}
			} else {
				rows = append(rows, cells(obj))
			}
			if n++; *most > 0 && n >= *most {
				break
			}
		}
		if !asJSON {
			if len(rows) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no prospects")
				return nil
			}
			return writeTable(cmd.OutOrStdout(), slices.Clone(columns), rows)
		}
		return nil
	}
	return cmd
}

// timeFlag is a time given as a Unix timestamp, an RFC 3339 time or a date.
type timeFlag struct {
	unix     int64
	text     string
	endOfDay bool // a date means its last second, for an upper bound
}

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

// checkFields refuses a --fields name that is not a field.
func checkFields(fields, known []string) error {
	for _, f := range fields {
		if !slices.Contains(known, f) {
			return usageError("--fields: no field %q; the fields are %s", f, strings.Join(known, ", "))
		}
	}
	return nil
}

// finish prints a call's result, or its error.
func (o *prospectsOptions) finish(cmd *cobra.Command, v any, fields []string, err error) error {
	if err != nil {
		return o.fail(cmd, err)
	}
	obj, err := objectFields(v)
	if err != nil {
		return failure("%v", err)
	}
	obj = selectFields(obj, fields)
	if wantJSON(cmd, o.asJSON) {
		err = writeIndented(cmd.OutOrStdout(), encodeObject(obj))
	} else {
		err = writeKeyValues(cmd.OutOrStdout(), obj)
	}
	if err != nil {
		return failure("%v", err)
	}
	return nil
}

var _ pflag.Value = (*timeFlag)(nil)

// createTexts is where a create keeps each optional text field, by JSON name.
func createTexts(p *client.ProspectCreateParams) map[string]*string {
	return map[string]*string{"first_name": &p.FirstName, "last_name": &p.LastName, "company": &p.Company,
		"title": &p.Title, "phone": &p.Phone, "website": &p.Website, "source": &p.Source}
}

// updateTexts is where an update keeps each optional text field, by JSON name.
func updateTexts(p *client.ProspectUpdateParams) map[string]*nullable.Nullable[string] {
	return map[string]*nullable.Nullable[string]{"first_name": &p.FirstName, "last_name": &p.LastName, "company": &p.Company,
		"title": &p.Title, "phone": &p.Phone, "website": &p.Website, "source": &p.Source}
}
