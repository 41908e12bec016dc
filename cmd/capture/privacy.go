package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oapi-codegen/nullable"
	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// prospectsEraseOptions name the prospect capture prospects erase erases.
type prospectsEraseOptions struct {
	*apiOptions
	ID string
}

func newProspectsEraseCmd(api *apiOptions, runF runner[prospectsEraseOptions]) *cobra.Command {
	opts := &prospectsEraseOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "erase ID",
		Short: "Delete a prospect and suppress its email (admin key)",
		Long: `Deletes the prospect as capture prospects delete does and puts its email on the
account's suppression list: creates and imports with that email are refused with
code email_suppressed until capture suppressions lift EMAIL. Needs an admin key.
Prints {"id":…,"deleted":true,"erased":true} (as JSON when piped).`,
		Example: `  capture prospects erase prs_01jd…`,
		Args:    positional(1, "the prospect ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(prospectsEraseRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsEraseRun erases the prospect and prints the receipt.
func prospectsEraseRun(ctx context.Context, opts *prospectsEraseOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	d, err := c.Prospects.Erase(ctx, opts.ID)
	return opts.finish(ctx, d, nil, err)
}

func newSuppressionsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "suppressions",
		Short: "Lift the suppression of erased emails over the API (admin key)",
		Long: `An erased prospect's email is suppressed: creates and imports with it are refused
with code email_suppressed. capture suppressions lift accepts it again. The key and
server come from --api-key/CAPTURE_API_KEY and --url/CAPTURE_URL, and the output
and exit statuses are those of capture prospects.`,
		Example: `  capture suppressions lift ada@example.com`,
	})
	cmd.AddCommand(newSuppressionsLiftCmd(newAPIOptions(cmd), nil))
	return cmd
}

// suppressionsLiftOptions name the email capture suppressions lift accepts again.
type suppressionsLiftOptions struct {
	*apiOptions
	Email string
}

func newSuppressionsLiftCmd(api *apiOptions, runF runner[suppressionsLiftOptions]) *cobra.Command {
	opts := &suppressionsLiftOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "lift EMAIL",
		Short: "Accept an erased email again",
		Long: `Takes the email off the account's suppression list; prints
{"object":"suppression_lift","email":…,"lifted":true} (false when it was not
suppressed), as JSON when piped. Needs an admin key.`,
		Example: `  capture suppressions lift ada@example.com`,
		Args:    positional(1, "the email"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Email = args[0]
		opts.attach(cmd)
		return runF.or(suppressionsLiftRun)(cmd.Context(), opts)
	}
	return cmd
}

// suppressionsLiftRun lifts the suppression and prints the answer.
func suppressionsLiftRun(ctx context.Context, opts *suppressionsLiftOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	l, err := c.Suppressions.Lift(ctx, opts.Email)
	return opts.finish(ctx, l, nil, err)
}

// prospectsConsentsOptions name the prospect whose consent ledger capture
// prospects consents prints, and how many entries.
type prospectsConsentsOptions struct {
	*apiOptions
	ID string
	listLimit
}

// consentColumns are the columns of the consents table.
var consentColumns = []string{"id", "granted", "source", "text", "ip", "created"}

func newProspectsConsentsCmd(api *apiOptions, runF runner[prospectsConsentsOptions]) *cobra.Command {
	opts := &prospectsConsentsOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "consents ID",
		Short: "List a prospect's consent ledger, newest first",
		Long: `Lists every change of the prospect's marketing consent, newest first: on a
terminal, a table (` + strings.Join(consentColumns, ", ") + `) of the first ` + strconv.Itoa(defaultListLimit) + ` entries
(--limit N shows N, --all every one); piped or with --json, one JSON entry per
line, every one unless --limit says otherwise.`,
		Example: `  capture prospects consents prs_01jd…
  capture prospects consents prs_01jd… --json`,
		Args: positional(1, "the prospect ID"),
	}
	opts.listLimit.register(cmd, "entries")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := opts.listLimit.check(cmd); err != nil {
			return err
		}
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(prospectsConsentsRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsConsentsRun prints the prospect's consent ledger, up to the limit.
func prospectsConsentsRun(ctx context.Context, opts *prospectsConsentsOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	most := opts.most(opts.apiOptions)
	printer := listPrinter[client.Consent]{what: "entries", header: slices.Clone(consentColumns),
		json: func(e client.Consent) ([]byte, error) {
			var b bytes.Buffer
			err := writeJSONLines(&b, []any{e})
			return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
		},
		row: func(e client.Consent) ([]string, error) {
			return []string{e.ID, strconv.FormatBool(e.Granted), e.Source, orEmpty(e.Text), orEmpty(e.IP),
				humanTime(time.Unix(e.Created, 0))}, nil
		},
	}
	return printer.print(ctx, opts.apiOptions, c.Prospects.Consents(ctx, opts.ID, client.ConsentListParams{Limit: pageSize(most)}), most)
}

// orEmpty is a nullable text, "" when null.
func orEmpty(n nullable.Nullable[string]) string {
	v, _ := n.Get()
	return v
}

// prospectsExportOptions name the prospect capture prospects export exports.
type prospectsExportOptions struct {
	*apiOptions
	ID string
}

func newProspectsExportCmd(api *apiOptions, runF runner[prospectsExportOptions]) *cobra.Command {
	opts := &prospectsExportOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Print everything held about a prospect, as JSON (admin key)",
		Long: `Prints, as JSON whether on a terminal or piped, everything Capture holds about
the person: {"object":"prospect_export","prospect":…,"events":[…],"consents":[…],
"submissions":[…]}, for a request of access or portability. Needs an admin key; a
deleted prospect fails with code resource_gone (exit status 1).`,
		Example: `  capture prospects export prs_01jd… > ada.json`,
		Args:    positional(1, "the prospect ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(prospectsExportRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsExportRun exports the prospect and prints it as indented JSON.
func prospectsExportRun(ctx context.Context, opts *prospectsExportOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	x, err := c.Prospects.Export(ctx, opts.ID)
	if err != nil {
		return opts.fail(ctx, err)
	}
	events := make([]any, len(x.Events))
	for i, e := range x.Events {
		events[i] = eventWire(e)
	}
	b, err := json.Marshal(map[string]any{"object": x.Object, "prospect": x.Prospect, "events": events,
		"consents": x.Consents, "submissions": x.Submissions})
	if err == nil {
		err = writeIndented(opts.Out, b)
	}
	if err != nil {
		return failure("%v", err)
	}
	return nil
}
