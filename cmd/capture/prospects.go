package main

import (
	"context"
	"slices"
	"strings"

	"github.com/oapi-codegen/nullable"
	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

const prospectsLong = `Create, read, update, delete, list, search and import prospects through the Capture
API, over HTTP with the Go client. The key comes from --api-key or
CAPTURE_API_KEY, the server from --url or CAPTURE_URL (default ` + defaultURL + `).

Output: on a terminal, a table (list and search show the first 30: --limit N, --all);
when piped, or with --json, JSON (one object, or one per line for a list, every
prospect). --fields chooses the fields either way. On failure, stderr gets the
error's message, type, code, param, status and request id, one per line.
Retries (after a 503, a 429 or a network error) are announced on stderr.

Exit status:
  0    success
  1    the request was refused (4xx: invalid, unauthorized, not found, conflict, …)
  2    the server failed (5xx) or its answer could not be read
  3    the server could not be reached (refused, reset, DNS, TLS, timeout)
  64   wrong usage (unknown command, bad flag, missing argument or API key)
  130  interrupted`

func newProspectsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "prospects",
		Short: "Create, read, update, delete, list, search and import prospects over the API",
		Long:  prospectsLong,
		Example: `  export CAPTURE_API_KEY=sk_…
  capture prospects create --email ada@example.com --first-name Ada
  capture prospects list --status qualified --fields id,email,company
  capture prospects list --json | jq -r .email`,
	})
	api := newAPIOptions(cmd)
	cmd.AddCommand(newProspectsCreateCmd(api, nil), newProspectsGetCmd(api, nil), newProspectsUpdateCmd(api, nil),
		newProspectsDeleteCmd(api, nil), newProspectsListCmd(api, nil), newProspectsSearchCmd(api, nil),
		newProspectsImportCmd(api, nil), newProspectsEraseCmd(api, nil), newProspectsExportCmd(api, nil),
		newProspectsConsentsCmd(api, nil))
	return cmd
}

// fieldFlags are the prospect fields that create and update share.
type fieldFlags struct {
	strings          map[string]*string // by JSON field name
	email            string
	status           string
	tags             []string
	metadata         mapFlag
	marketingConsent bool
	consentText      string
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
	fs.StringVar(&f.consentText, "consent-text", "", "the wording the person agreed to, kept in the consent ledger with --marketing-consent")
	fs.BoolVar(&f.hidden, "hidden", false, "hide the prospect from standard keys (admin keys only)")
	fs.StringVar(&f.idempotencyKey, "idempotency-key", "", "send this Idempotency-Key so that repeating the command never applies it twice (default: a fresh key, reused by retries)")
	data := []string{"email", "status", "tag", "metadata", "marketing-consent", "consent-text", "hidden", "idempotency-key"}
	for _, name := range textFields {
		data = append(data, flagName(name))
	}
	noEnv(fs, data...)
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(prospectStatuses, cobra.ShellCompDirectiveNoFileComp))
}

// idempotent sends key as the Idempotency-Key, if there is one.
func idempotent(key string) []client.RequestOption {
	if key == "" {
		return nil
	}
	return []client.RequestOption{client.WithIdempotencyKey(key)}
}

// fieldsFlag adds --fields to a command that prints prospects.
func fieldsFlag(cmd *cobra.Command, what string) *[]string {
	fields := cmd.Flags().StringSlice("fields", nil, "print only these fields, in this order (comma-separated: "+what+")")
	_ = cmd.RegisterFlagCompletionFunc("fields", cobra.FixedCompletions(prospectFields, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	return fields
}

// runner is what a command does once its flags are read; tests pass their own
// to see the options a command line makes.
type runner[T any] func(context.Context, *T) error

// or is run unless a test gave its own.
func (r runner[T]) or(run runner[T]) runner[T] {
	if r != nil {
		return r
	}
	return run
}

// prospectsCreateOptions are what capture prospects create sends and prints.
type prospectsCreateOptions struct {
	*apiOptions
	Params         client.ProspectCreateParams
	IdempotencyKey string
	Fields         []string
}

func newProspectsCreateCmd(api *apiOptions, runF runner[prospectsCreateOptions]) *cobra.Command {
	opts := &prospectsCreateOptions{apiOptions: api}
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
		opts.Params = client.ProspectCreateParams{Email: f.email}
		for name, dst := range createTexts(&opts.Params) {
			if set(flagName(name)) {
				*dst = *f.strings[name]
			}
		}
		if set("status") {
			opts.Params.Status = client.ProspectStatus(f.status)
		}
		if set("tag") {
			opts.Params.Tags = f.tags
		}
		if set("metadata") {
			opts.Params.Metadata = client.Metadata(f.metadata)
		}
		if set("marketing-consent") {
			opts.Params.MarketingConsent = f.marketingConsent
		}
		opts.Params.ConsentText = f.consentText
		if set("hidden") {
			opts.Params.Hidden = f.hidden
		}
		opts.IdempotencyKey, opts.Fields = f.idempotencyKey, *fields
		opts.attach(cmd)
		return runF.or(prospectsCreateRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsCreateRun creates the prospect and prints it.
func prospectsCreateRun(ctx context.Context, opts *prospectsCreateOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	p, err := c.Prospects.Create(ctx, opts.Params, idempotent(opts.IdempotencyKey)...)
	return opts.finish(ctx, p, opts.Fields, err)
}

// clearable are the fields --clear accepts: the optional ones.
var clearable = append(append([]string{}, textFields...), "tags", "metadata")

// prospectsUpdateOptions are what capture prospects update sends and prints.
type prospectsUpdateOptions struct {
	*apiOptions
	ID             string
	Params         client.ProspectUpdateParams
	IdempotencyKey string
	Fields         []string
}

func newProspectsUpdateCmd(api *apiOptions, runF runner[prospectsUpdateOptions]) *cobra.Command {
	opts := &prospectsUpdateOptions{apiOptions: api}
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
		params, err := updateParams(cmd.Flags().Changed, &f, clear)
		if err != nil {
			return err
		}
		opts.ID, opts.Params, opts.IdempotencyKey, opts.Fields = args[0], params, f.idempotencyKey, *fields
		opts.attach(cmd)
		return runF.or(prospectsUpdateRun)(cmd.Context(), opts)
	}
	return cmd
}

// updateParams are the changes the flags ask for; set tells which were given.
func updateParams(set func(string) bool, f *fieldFlags, clear []string) (client.ProspectUpdateParams, error) {
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
	params.ConsentText = f.consentText
	if set("hidden") {
		params.Hidden = client.Set(f.hidden)
		changes++
	}
	for _, field := range clear {
		field = strings.ReplaceAll(field, "-", "_")
		if !slices.Contains(clearable, field) {
			return params, usageError("--clear %s: not a field that can be cleared (one of %s)", field, strings.Join(clearable, ", "))
		}
		if set(flagName(field)) || field == "tags" && set("tag") {
			return params, usageError("--clear %s conflicts with --%s", field, flagName(strings.TrimSuffix(field, "s")))
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
		return params, usageError("nothing to change: give at least one field flag or --clear")
	}
	return params, nil
}

// prospectsUpdateRun changes the prospect and prints it.
func prospectsUpdateRun(ctx context.Context, opts *prospectsUpdateOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	p, err := c.Prospects.Update(ctx, opts.ID, opts.Params, idempotent(opts.IdempotencyKey)...)
	return opts.finish(ctx, p, opts.Fields, err)
}

// prospectsGetOptions name the prospect capture prospects get prints.
type prospectsGetOptions struct {
	*apiOptions
	ID     string
	Fields []string
}

func newProspectsGetCmd(api *apiOptions, runF runner[prospectsGetOptions]) *cobra.Command {
	opts := &prospectsGetOptions{apiOptions: api}
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
		opts.ID, opts.Fields = args[0], *fields
		opts.attach(cmd)
		return runF.or(prospectsGetRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsGetRun reads the prospect and prints it.
func prospectsGetRun(ctx context.Context, opts *prospectsGetOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	p, err := c.Prospects.Get(ctx, opts.ID)
	return opts.finish(ctx, p, opts.Fields, err)
}

// prospectsDeleteOptions name the prospect capture prospects delete deletes.
type prospectsDeleteOptions struct {
	*apiOptions
	ID string
}

func newProspectsDeleteCmd(api *apiOptions, runF runner[prospectsDeleteOptions]) *cobra.Command {
	opts := &prospectsDeleteOptions{apiOptions: api}
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
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(prospectsDeleteRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsDeleteRun deletes the prospect and prints the receipt.
func prospectsDeleteRun(ctx context.Context, opts *prospectsDeleteOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	d, err := c.Prospects.Delete(ctx, opts.ID)
	return opts.finish(ctx, d, nil, err)
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
