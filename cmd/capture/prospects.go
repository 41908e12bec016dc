package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/captureapi/capture/client"
)

const prospectsUsage = `Usage: capture prospects COMMAND [flags]

Create, read, update, delete and list prospects through the Capture API.

Commands:
  create --email EMAIL [fields]   capture a new prospect
  get ID                          retrieve a prospect
  update ID [fields] [--clear F]  change some fields of a prospect
  delete ID                       delete a prospect (reading it afterwards is 410 Gone)
  list [filters]                  stream prospects, newest first, one JSON object per line

Every command takes:
  --api-key KEY      secret API key, sk_… (default $CAPTURE_API_KEY)
  --url URL          server base URL (default $CAPTURE_URL, else http://127.0.0.1:8080)
  --max-retries N    resend a request that failed in a retryable way up to N times (default 2)

Output: the prospect (or list) as JSON on stdout. On failure, stderr gets the
error's message, type, code, param, status and request id, one per line.

Exit status:
  0    success
  1    the request was refused (4xx: invalid, unauthorized, not found, conflict, …)
  2    the server failed (5xx) or its answer could not be read
  3    the server could not be reached (refused, reset, DNS, TLS, timeout)
  64   wrong usage (unknown command, bad flag, missing argument)
  130  interrupted

Run 'capture prospects COMMAND --help' for a command's flags.
`

// runProspects runs `capture prospects …`: args are the words after
// "prospects". It prints JSON results to stdout and errors to stderr, and
// returns the exit status.
func runProspects(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, prospectsUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var run func(context.Context, *prospectsCmd, []string) int
	switch cmd {
	case "create":
		run = prospectsCreate
	case "get":
		run = prospectsGet
	case "update":
		run = prospectsUpdate
	case "delete":
		run = prospectsDelete
	case "list":
		run = prospectsList
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, prospectsUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "capture prospects: unknown command %q\n\n%s", cmd, prospectsUsage)
		return exitUsage
	}
	return run(ctx, &prospectsCmd{name: cmd, stdout: stdout, stderr: stderr}, rest)
}

// defaultURL is where the command line looks for a server when neither --url
// nor CAPTURE_URL says: a local `capture serve`.
const defaultURL = "http://127.0.0.1:8080"

// prospectsCmd is what every prospects subcommand shares: its flag set, the
// connection flags and the output streams.
type prospectsCmd struct {
	name           string
	fs             *flag.FlagSet
	stdout, stderr io.Writer
	apiKey, url    string
	maxRetries     int
}

// flags starts the subcommand's flag set with the connection flags.
func (c *prospectsCmd) flags(synopsis, description string) *flag.FlagSet {
	c.fs = flag.NewFlagSet("capture prospects "+c.name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard) // parse reports errors and help itself
	c.fs.Usage = func() {
		out := c.fs.Output()
		fmt.Fprintf(out, "Usage: capture prospects %s %s\n\n%s\n\nFlags:\n", c.name, synopsis, description)
		c.fs.PrintDefaults()
		fmt.Fprint(out, "\nExit status: 0 success, 1 request refused (4xx), 2 server error (5xx),\n3 server unreachable, 64 wrong usage, 130 interrupted.\n")
	}
	// The environment is read after parsing, so that --help never prints a secret.
	c.fs.StringVar(&c.apiKey, "api-key", "", "secret API `key`, sk_… (default $CAPTURE_API_KEY)")
	c.fs.StringVar(&c.url, "url", "", "server base `URL` (default $CAPTURE_URL, else "+defaultURL+")")
	c.fs.IntVar(&c.maxRetries, "max-retries", client.DefaultMaxRetries, "resend a request that failed in a retryable way up to `N` times")
	return c.fs
}

// parse parses args, allowing flags after positional arguments (get ID
// --url …), and checks the number of positionals. ok is false when the command
// should stop with code.
func (c *prospectsCmd) parse(args []string, positionals int, what string) (pos []string, code int, ok bool) {
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.fs.SetOutput(c.stdout)
				c.fs.Usage()
				return nil, exitOK, false
			}
			return nil, c.usageError("%v", err), false
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if c.apiKey == "" {
		c.apiKey = os.Getenv("CAPTURE_API_KEY")
	}
	if c.url == "" {
		c.url = cmp.Or(os.Getenv("CAPTURE_URL"), defaultURL)
	}
	if len(pos) != positionals {
		if len(pos) < positionals {
			return nil, c.usageError("missing %s", what), false
		}
		return nil, c.usageError("unexpected argument %q", pos[positionals]), false
	}
	return pos, exitOK, true
}

func (c *prospectsCmd) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "capture prospects %s: %s\nRun 'capture prospects %s --help' for usage.\n", c.name, fmt.Sprintf(format, args...), c.name)
	return exitUsage
}

func (c *prospectsCmd) client() *client.Client {
	return client.New(c.apiKey,
		client.WithBaseURL(c.url),
		client.WithMaxRetries(c.maxRetries),
		client.WithUserAgent("capture-cli/"+client.Version),
	)
}

// set reports whether the flag was given on the command line.
func (c *prospectsCmd) set(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// fieldFlags are the prospect fields that create and update share.
type fieldFlags struct {
	strings          map[string]*string // by JSON field name
	email            string
	status           string
	tags             listFlag
	metadata         mapFlag
	marketingConsent bool
	hidden           bool
	idempotencyKey   string
}

// textFields are the optional text fields, in the order --help shows them.
var textFields = []string{"first_name", "last_name", "company", "title", "phone", "website", "source"}

func flagName(field string) string { return strings.ReplaceAll(field, "_", "-") }

func (f *fieldFlags) register(fs *flag.FlagSet, update bool) {
	f.strings = map[string]*string{}
	if update {
		fs.StringVar(&f.email, "email", "", "new email `address`")
	} else {
		fs.StringVar(&f.email, "email", "", "email `address` (required)")
	}
	for _, name := range textFields {
		f.strings[name] = fs.String(flagName(name), "", strings.ReplaceAll(name, "_", " "))
	}
	fs.StringVar(&f.status, "status", "", "`status`: new, contacted, qualified, unqualified or converted")
	tagHelp := "add a `tag` (repeatable)"
	metaHelp := "set metadata `key=value` (repeatable)"
	if update {
		tagHelp = "replace the tags with these; repeat for several `tag`s"
		metaHelp = "set metadata `key=value` (repeatable; other keys are kept, key= removes one)"
	}
	fs.Var(&f.tags, "tag", tagHelp)
	fs.Var(&f.metadata, "metadata", metaHelp)
	fs.BoolVar(&f.marketingConsent, "marketing-consent", false, "the prospect agreed to marketing messages (--marketing-consent=false withdraws)")
	fs.BoolVar(&f.hidden, "hidden", false, "hide the prospect from standard keys (admin keys only)")
	fs.StringVar(&f.idempotencyKey, "idempotency-key", "", "send this Idempotency-Key so that repeating the command never applies it twice (default: a fresh key, reused by retries)")
}

func (f *fieldFlags) requestOptions() []client.RequestOption {
	if f.idempotencyKey == "" {
		return nil
	}
	return []client.RequestOption{client.WithIdempotencyKey(f.idempotencyKey)}
}

func prospectsCreate(ctx context.Context, c *prospectsCmd, args []string) int {
	fs := c.flags("--email EMAIL [flags]", "Captures a new prospect and prints it as JSON. Emails are unique among live\nprospects: a duplicate fails with code prospect_exists and names the existing\nprospect in existing_id.")
	var f fieldFlags
	f.register(fs, false)
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	if f.email == "" {
		return c.usageError("--email is required")
	}
	params := client.ProspectCreateParams{Email: f.email}
	for _, name := range textFields {
		if c.set(flagName(name)) {
			v := *f.strings[name]
			switch name {
			case "first_name":
				params.FirstName = v
			case "last_name":
				params.LastName = v
			case "company":
				params.Company = v
			case "title":
				params.Title = v
			case "phone":
				params.Phone = v
			case "website":
				params.Website = v
			case "source":
				params.Source = v
			}
		}
	}
	if c.set("status") {
		params.Status = client.ProspectStatus(f.status)
	}
	if c.set("tag") {
		params.Tags = []string(f.tags)
	}
	if c.set("metadata") {
		params.Metadata = client.Metadata(f.metadata)
	}
	if c.set("marketing-consent") {
		params.MarketingConsent = f.marketingConsent
	}
	if c.set("hidden") {
		params.Hidden = f.hidden
	}
	p, err := c.client().Prospects.Create(ctx, params, f.requestOptions()...)
	return c.finish(ctx, p, err)
}

// clearable are the fields --clear accepts: the optional ones.
var clearable = append(append([]string{}, textFields...), "tags", "metadata")

func prospectsUpdate(ctx context.Context, c *prospectsCmd, args []string) int {
	fs := c.flags("ID [flags]", "Changes the fields given and leaves the others as they are, then prints the\nprospect as JSON. --clear FIELD empties an optional field: "+strings.Join(clearable, ", ")+".")
	var f fieldFlags
	f.register(fs, true)
	var clear listFlag
	fs.Var(&clear, "clear", "empty this `field` (repeatable)")
	pos, code, ok := c.parse(args, 1, "the prospect ID")
	if !ok {
		return code
	}
	var params client.ProspectUpdateParams
	changes := 0
	if c.set("email") {
		params.Email = client.Set(f.email)
		changes++
	}
	for _, name := range textFields {
		if c.set(flagName(name)) {
			changes++
			v := client.Set(*f.strings[name])
			switch name {
			case "first_name":
				params.FirstName = v
			case "last_name":
				params.LastName = v
			case "company":
				params.Company = v
			case "title":
				params.Title = v
			case "phone":
				params.Phone = v
			case "website":
				params.Website = v
			case "source":
				params.Source = v
			}
		}
	}
	if c.set("status") {
		params.Status = client.Set(client.ProspectStatus(f.status))
		changes++
	}
	if c.set("tag") {
		params.Tags = client.Set([]string(f.tags))
		changes++
	}
	if c.set("metadata") {
		params.Metadata = client.Set(map[string]string(f.metadata))
		changes++
	}
	if c.set("marketing-consent") {
		params.MarketingConsent = client.Set(f.marketingConsent)
		changes++
	}
	if c.set("hidden") {
		params.Hidden = client.Set(f.hidden)
		changes++
	}
	for _, field := range clear {
		field = strings.ReplaceAll(field, "-", "_")
		if !slices.Contains(clearable, field) {
			return c.usageError("--clear %s: not a field that can be cleared (one of %s)", field, strings.Join(clearable, ", "))
		}
		if c.set(flagName(field)) || field == "tags" && c.set("tag") {
			return c.usageError("--clear %s conflicts with --%s", field, flagName(strings.TrimSuffix(field, "s")))
		}
		changes++
		switch field {
		case "first_name":
			params.FirstName = client.Null[string]()
		case "last_name":
			params.LastName = client.Null[string]()
		case "company":
			params.Company = client.Null[string]()
		case "title":
			params.Title = client.Null[string]()
		case "phone":
			params.Phone = client.Null[string]()
		case "website":
			params.Website = client.Null[string]()
		case "source":
			params.Source = client.Null[string]()
		case "tags":
			params.Tags = client.Null[[]string]()
		case "metadata":
			params.Metadata = client.Null[map[string]string]()
		}
	}
	if changes == 0 {
		return c.usageError("nothing to change: give at least one field flag or --clear")
	}
	p, err := c.client().Prospects.Update(ctx, pos[0], params, f.requestOptions()...)
	return c.finish(ctx, p, err)
}

func prospectsGet(ctx context.Context, c *prospectsCmd, args []string) int {
	c.flags("ID [flags]", "Prints the prospect as JSON.")
	pos, code, ok := c.parse(args, 1, "the prospect ID")
	if !ok {
		return code
	}
	p, err := c.client().Prospects.Get(ctx, pos[0])
	return c.finish(ctx, p, err)
}

func prospectsDelete(ctx context.Context, c *prospectsCmd, args []string) int {
	c.flags("ID [flags]", "Deletes the prospect and erases its personal data; prints {\"id\":…,\"deleted\":true}.\nReading or deleting it again fails with code resource_gone (exit status 1).")
	pos, code, ok := c.parse(args, 1, "the prospect ID")
	if !ok {
		return code
	}
	d, err := c.client().Prospects.Delete(ctx, pos[0])
	return c.finish(ctx, d, err)
}

func prospectsList(ctx context.Context, c *prospectsCmd, args []string) int {
	fs := c.flags("[flags]", "Streams prospects, newest first, as JSON lines (one prospect per line), fetching\npages as it goes. Filters combine: --status qualified --tag webinar lists the\nqualified prospects tagged webinar.")
	limit := fs.Int("limit", 100, "page size: prospects fetched per request, 1 to 100")
	most := fs.Int("max", 0, "stop after `N` prospects (0: all)")
	status := fs.String("status", "", "only prospects with this `status`")
	email := fs.String("email", "", "only the prospect with this `email`")
	tag := fs.String("tag", "", "only prospects with this `tag`")
	gte := fs.Int64("created-gte", 0, "only prospects created at or after this Unix `time`")
	lte := fs.Int64("created-lte", 0, "only prospects created at or before this Unix `time`")
	after := fs.String("starting-after", "", "start after this prospect `ID` (older ones follow)")
	before := fs.String("ending-before", "", "list the prospects newer than this prospect `ID`, oldest first")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	if *most < 0 {
		return c.usageError("--max must be 0 or more")
	}
	params := client.ProspectListParams{Limit: *limit}
	if !c.set("limit") && *most > 0 {
		params.Limit = min(*most, 100)
	}
	if c.set("status") {
		params.Status = client.ProspectStatus(*status)
	}
	if c.set("email") {
		params.Email = *email
	}
	if c.set("tag") {
		params.Tag = *tag
	}
	if c.set("created-gte") {
		params.CreatedGTE = *gte
	}
	if c.set("created-lte") {
		params.CreatedLTE = *lte
	}
	if c.set("starting-after") {
		params.StartingAfter = *after
	}
	if c.set("ending-before") {
		params.EndingBefore = *before
	}
	n := 0
	for p, err := range c.client().Prospects.List(ctx, params) {
		if err != nil {
			return c.fail(ctx, err)
		}
		if err := writeJSONLine(c.stdout, p); err != nil {
			fmt.Fprintf(c.stderr, "capture prospects list: %v\n", err)
			return exitRequest
		}
		if n++; *most > 0 && n >= *most {
			break
		}
	}
	return exitOK
}

// finish prints a call's result, or its error, and returns the exit status.
func (c *prospectsCmd) finish(ctx context.Context, v any, err error) int {
	if err != nil {
		return c.fail(ctx, err)
	}
	if err := writeJSONIndented(c.stdout, v); err != nil {
		fmt.Fprintf(c.stderr, "capture prospects %s: %v\n", c.name, err)
		return exitRequest
	}
	return exitOK
}
