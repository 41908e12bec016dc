package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

func newFormsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "forms",
		Short: "Manage public web forms and read their submissions over the API",
		Long: `Creates, lists, shows and deletes public web forms: pages on a form's allowed
origins post prospects to its submit_url without a key. submissions lists what
was posted, accepted or quarantined, with the reasons. Only admin keys may. The
key and server come from --api-key/CAPTURE_API_KEY and --url/CAPTURE_URL, and
the output and exit statuses are those of capture prospects.`,
		Example: `  capture forms create --name "Spring webinar" --origin https://www.example.com --tag webinar
  capture forms list
  capture forms submissions frm_01jd… --quarantined`,
	})
	api := newAPIOptions(cmd)
	cmd.AddCommand(newFormsCreateCmd(api, nil), newFormsListCmd(api, nil), newFormsGetCmd(api, nil),
		newFormsDeleteCmd(api, nil), newFormsSubmissionsCmd(api, nil))
	return cmd
}

// formsCreateOptions are the form capture forms create makes.
type formsCreateOptions struct {
	*apiOptions
	Params client.FormCreateParams
}

func newFormsCreateCmd(api *apiOptions, runF runner[formsCreateOptions]) *cobra.Command {
	opts := &formsCreateOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "create --name NAME --origin ORIGIN [flags]",
		Short: "Make a public web form",
		Long: `Creates a form and prints it with its submit_url, where pages on its allowed
origins post. A captcha secret (--captcha-secret, with --captcha turnstile or
hcaptcha) is kept sealed and never shown again.`,
		Example: `  capture forms create --name "Spring webinar" --origin https://www.example.com --redirect-url https://www.example.com/thanks
  capture forms create --name Newsletter --origin https://example.com --origin https://www.example.com --source newsletter --tag news \
      --consent-text "I agree to receive the newsletter." --captcha turnstile --captcha-secret "$TURNSTILE_SECRET"`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	name := fs.String("name", "", "what the form is for (required)")
	origins := fs.StringArray("origin", nil, "an origin whose pages may post, as https://www.example.com (repeatable)")
	redirect := fs.String("redirect-url", "", "where a plain form post goes next (default: a built-in thank-you page)")
	source := fs.String("source", "", "the source of the form's prospects, such as web_form")
	tags := fs.StringArray("tag", nil, "a tag every prospect of the form gets (repeatable)")
	consent := fs.String("consent-text", "", "the consent wording the page shows next to its marketing checkbox")
	captcha := fs.String("captcha", "", "turnstile or hcaptcha: the captcha every submission must pass")
	secret := fs.String("captcha-secret", "", "the captcha provider's secret key")
	noEnv(fs, "name", "origin", "redirect-url", "source", "tag", "consent-text", "captcha", "captcha-secret")
	_ = cmd.RegisterFlagCompletionFunc("captcha", cobra.FixedCompletions([]string{"turnstile", "hcaptcha"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *name == "" {
			return usageError("--name is required")
		}
		if (*captcha == "") != (*secret == "") {
			return usageError("--captcha and --captcha-secret go together")
		}
		if *captcha != "" && *captcha != "turnstile" && *captcha != "hcaptcha" {
			return usageError("--captcha must be turnstile or hcaptcha, not %q", *captcha)
		}
		opts.Params = client.FormCreateParams{Name: *name, AllowedOrigins: *origins, RedirectURL: *redirect,
			ConsentText: *consent, Defaults: client.FormDefaults{Source: *source, Tags: *tags}}
		if opts.Params.AllowedOrigins == nil {
			opts.Params.AllowedOrigins = []string{}
		}
		if *captcha != "" {
			opts.Params.Captcha = &client.FormCaptchaCreate{Provider: client.FormCaptchaProvider(*captcha), Secret: *secret}
		}
		opts.attach(cmd)
		return runF.or(formsCreateRun)(cmd.Context(), opts)
	}
	return cmd
}

// formsCreateRun creates the form and prints it.
func formsCreateRun(ctx context.Context, opts *formsCreateOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	f, err := c.Forms.Create(ctx, opts.Params)
	return opts.finish(ctx, f, nil, err)
}

// formsListOptions are those of capture forms list: the API's alone.
type formsListOptions struct {
	*apiOptions
}

func newFormsListCmd(api *apiOptions, runF runner[formsListOptions]) *cobra.Command {
	opts := &formsListOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List forms",
		Long: `Lists the account's forms, newest first: a table on a terminal, one JSON object
per line when piped or with --json.`,
		Example: `  capture forms list
  capture forms list --json | jq -r .submit_url`,
		Args: positional(0, ""),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.attach(cmd)
		return runF.or(formsListRun)(cmd.Context(), opts)
	}
	return cmd
}

// formsListRun prints every form of the account.
func formsListRun(ctx context.Context, opts *formsListOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	var forms []client.Form
	for f, err := range c.Forms.List(ctx) {
		if err != nil {
			return opts.fail(ctx, err)
		}
		forms = append(forms, f)
	}
	if opts.wantJSON() {
		return writeJSONLines(opts.Out, forms)
	}
	if len(forms) == 0 {
		fmt.Fprintln(opts.ErrOut, "no forms")
		return nil
	}
	rows := make([][]string, len(forms))
	for i, f := range forms {
		state := "enabled"
		if f.Disabled {
			state = "disabled"
		}
		rows[i] = []string{f.ID, f.Name, strings.Join(f.AllowedOrigins, ","), state, humanTime(time.Unix(f.Created, 0))}
	}
	return writeTable(opts.Out, []string{"id", "name", "origins", "state", "created"}, rows)
}

// formsGetOptions name the form capture forms get shows.
type formsGetOptions struct {
	*apiOptions
	ID string
}

func newFormsGetCmd(api *apiOptions, runF runner[formsGetOptions]) *cobra.Command {
	opts := &formsGetOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show a form",
		Long:    `Shows a form with its submit_url; its captcha secret is never shown.`,
		Example: `  capture forms get frm_01jd…`,
		Args:    positional(1, "the form ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(formsGetRun)(cmd.Context(), opts)
	}
	return cmd
}

// formsGetRun prints the form.
func formsGetRun(ctx context.Context, opts *formsGetOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	f, err := c.Forms.Get(ctx, opts.ID)
	return opts.finish(ctx, f, nil, err)
}

// formsDeleteOptions name the form capture forms delete deletes.
type formsDeleteOptions struct {
	*apiOptions
	ID string
}

func newFormsDeleteCmd(api *apiOptions, runF runner[formsDeleteOptions]) *cobra.Command {
	opts := &formsDeleteOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a form",
		Long:    `Deletes the form and its submissions; its page's posts answer 404 from then on.`,
		Example: `  capture forms delete frm_01jd…`,
		Args:    positional(1, "the form ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(formsDeleteRun)(cmd.Context(), opts)
	}
	return cmd
}

// formsDeleteRun deletes the form and prints the receipt.
func formsDeleteRun(ctx context.Context, opts *formsDeleteOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	d, err := c.Forms.Delete(ctx, opts.ID)
	return opts.finish(ctx, d, nil, err)
}

// formsSubmissionsOptions select the submissions capture forms submissions lists.
type formsSubmissionsOptions struct {
	*apiOptions
	FormID string
	Params client.SubmissionListParams
	listLimit
}

func newFormsSubmissionsCmd(api *apiOptions, runF runner[formsSubmissionsOptions]) *cobra.Command {
	opts := &formsSubmissionsOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "submissions FORM_ID [--quarantined]",
		Short: "List a form's submissions, newest first",
		Long: `Lists what was posted to a form, newest first, accepted and quarantined, with
the reasons a submission was quarantined (honeypot, captcha_failed,
captcha_unverified, disposable_email, plan_limit_reached). --quarantined lists
those alone. A table on a terminal (the first ` + fmt.Sprint(defaultListLimit) + ` unless --limit or --all), one
JSON object per line when piped or with --json.`,
		Example: `  capture forms submissions frm_01jd…
  capture forms submissions frm_01jd… --quarantined --all
  capture forms submissions frm_01jd… --json | jq -r .fields.email`,
		Args: positional(1, "the form ID"),
	}
	opts.listLimit.register(cmd, "submissions")
	quarantined := cmd.Flags().Bool("quarantined", false, "only the submissions kept aside, for review")
	noEnv(cmd.Flags(), "quarantined")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := opts.listLimit.check(cmd); err != nil {
			return err
		}
		opts.FormID = args[0]
		if *quarantined {
			opts.Params.Status = "quarantined"
		}
		opts.attach(cmd)
		return runF.or(formsSubmissionsRun)(cmd.Context(), opts)
	}
	return cmd
}

// formsSubmissionsRun prints the form's submissions, up to the limit.
func formsSubmissionsRun(ctx context.Context, opts *formsSubmissionsOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	most := opts.most(opts.apiOptions)
	params := opts.Params
	params.Limit = pageSize(most)
	printer := listPrinter[client.FormSubmission]{what: "submissions",
		header: []string{"id", "status", "reasons", "email", "prospect", "ip", "created"},
		json:   func(s client.FormSubmission) ([]byte, error) { return json.Marshal(s) },
		row: func(s client.FormSubmission) ([]string, error) {
			return []string{s.ID, s.Status, strings.Join(s.Reasons, ","), s.Fields["email"], s.Prospect, s.IP,
				humanTime(time.Unix(s.Created, 0))}, nil
		},
	}
	return printer.print(ctx, opts.apiOptions, c.Forms.Submissions(ctx, opts.FormID, params), most)
}
