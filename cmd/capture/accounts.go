package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/server/store"
)

func newAccountsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "accounts",
		Short: "Create, change and list accounts (tenants) in the database",
		Example: `  capture accounts create acme --prospect-limit 5000 --webhook-endpoint-limit 4
  capture accounts update acme --retention-days 365
  capture accounts list`,
	})
	cmd.AddCommand(newAccountsCreateCmd(), newAccountsUpdateCmd(), newAccountsListCmd())
	return cmd
}

// accountsCreateOptions are the account capture accounts create makes.
type accountsCreateOptions struct {
	*adminOptions
	Name          string
	ProspectLimit int64
	RateLimit     int // 0: the server's --rate-limit
	EndpointLimit int // webhook endpoints the account may have
}

func newAccountsCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account and print its id",
		Long: `Creates an account in an existing database and prints its id. Names are unique.
Give it keys with 'capture keys create --account NAME'.`,
		Example: `  capture accounts create acme
  capture accounts create globex --prospect-limit 5000 --rate-limit 20 --db /var/lib/capture/capture.db`,
		Args: positional(1, "the account NAME"),
	}
	opts := &accountsCreateOptions{adminOptions: newAdminOptions(cmd)}
	cmd.Flags().Int64Var(&opts.ProspectLimit, "prospect-limit", defaultProspectLimit, "live prospects the account's plan allows")
	cmd.Flags().IntVar(&opts.RateLimit, "rate-limit", 0, "requests per second for each of the account's keys (0: the server's --rate-limit)")
	cmd.Flags().IntVar(&opts.EndpointLimit, "webhook-endpoint-limit", store.DefaultWebhookEndpointLimit,
		"webhook endpoints the account may have, disabled ones included")
	// They describe the new account: CAPTURE_RATE_LIMIT, set for serve, must not leak into it.
	noEnv(cmd.Flags(), "prospect-limit", "rate-limit", "webhook-endpoint-limit")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if opts.ProspectLimit < 0 {
			return usageError("--prospect-limit must be 0 or more, not %d", opts.ProspectLimit)
		}
		if opts.EndpointLimit < 0 {
			return usageError("--webhook-endpoint-limit must be 0 or more, not %d", opts.EndpointLimit)
		}
		if opts.RateLimit < 0 {
			return usageError("--rate-limit must be 0 (the server's default) or more, not %d", opts.RateLimit)
		}
		if args[0] == "" {
			return usageError("the account NAME must not be empty")
		}
		opts.Name = args[0]
		opts.attach(cmd)
		return accountsCreateRun(cmd.Context(), opts)
	}
	return cmd
}

// accountsCreateRun creates the account and prints its id.
func accountsCreateRun(ctx context.Context, opts *accountsCreateOptions) error {
	return opts.withDB(ctx, func(db database) error {
		var a *store.Account
		err := db.Atomically(ctx, func(ctx context.Context) (err error) {
			if a, err = db.CreateAccount(ctx, opts.Name, opts.ProspectLimit, opts.RateLimit); err != nil {
				return err
			}
			return db.SetWebhookEndpointLimit(ctx, a.ID, opts.EndpointLimit)
		})
		if err != nil {
			return failure("%v", err)
		}
		fmt.Fprintln(opts.Out, a.ID)
		return nil
	})
}

// accountJSON is an account as `accounts list` prints it in JSON.
type accountJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Prospects     int64  `json:"prospects"`
	ProspectLimit int64  `json:"prospect_limit"`
	RateLimit     int    `json:"rate_limit"`
	EndpointLimit int    `json:"webhook_endpoint_limit"`
	RetentionDays *int   `json:"retention_days"`
	Created       int64  `json:"created"`
}

func newAccountsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the accounts, oldest first",
		Long: `Lists every account with its live prospects, plan limit, rate limit, webhook
endpoint limit and retention: a table
on a terminal, one JSON object per line when piped or with --json. A rate limit
of 0 means the server's --rate-limit.`,
		Example: `  capture accounts list
  capture accounts list --json | jq -r .name`,
		Args: positional(0, ""),
	}
	opts := newAdminOptions(cmd)
	opts.jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.attach(cmd)
		return accountsListRun(cmd.Context(), opts)
	}
	return cmd
}

// accountsListRun prints every account.
func accountsListRun(ctx context.Context, opts *adminOptions) error {
	return opts.withDB(ctx, func(db database) error {
		accounts, err := db.ListAccounts(ctx)
		if err != nil {
			return failure("%v", err)
		}
		if opts.wantJSON() {
			items := make([]accountJSON, len(accounts))
			for i, a := range accounts {
				items[i] = accountJSON{a.ID, a.Name, a.ProspectCount, a.ProspectLimit, a.RateLimit, a.WebhookEndpointLimit,
					a.RetentionDays, a.Created.Unix()}
			}
			return writeJSONLines(opts.Out, items)
		}
		if len(accounts) == 0 {
			fmt.Fprintln(opts.ErrOut, "no accounts")
			return nil
		}
		rows := make([][]string, len(accounts))
		for i, a := range accounts {
			rate := "default"
			if a.RateLimit > 0 {
				rate = strconv.Itoa(a.RateLimit) + "/s"
			}
			retention := "forever"
			if a.RetentionDays != nil {
				retention = strconv.Itoa(*a.RetentionDays) + " days"
			}
			rows[i] = []string{a.ID, a.Name, strconv.FormatInt(a.ProspectCount, 10), strconv.FormatInt(a.ProspectLimit, 10), rate,
				strconv.Itoa(a.WebhookEndpointLimit), retention, humanTime(a.Created)}
		}
		return writeTable(opts.Out, []string{"id", "name", "prospects", "limit", "rate limit", "endpoint limit", "retention", "created"}, rows)
	})
}

// accountsUpdateOptions are the changes capture accounts update makes to an account.
type accountsUpdateOptions struct {
	*adminOptions
	Name string
	// RetentionDays is the new retention; nil with SetRetention clears it.
	RetentionDays *int
	SetRetention  bool
}

func newAccountsUpdateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an account's settings",
		Long: `Changes an account's settings in an existing database. --retention-days N makes
the daily retention sweep delete the account's prospects not updated for N days and
not converted (each with its prospect.deleted event, as a deletion through the API);
--retention-days 0 keeps them until they are deleted (the default).`,
		Example: `  capture accounts update acme --retention-days 365
  capture accounts update acme --retention-days 0`,
		Args: positional(1, "the account NAME"),
	}
	opts := &accountsUpdateOptions{adminOptions: newAdminOptions(cmd)}
	days := cmd.Flags().Int("retention-days", 0, "delete prospects not updated for this many days, unless converted (0: keep them)")
	noEnv(cmd.Flags(), "retention-days")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("retention-days") {
			return usageError("nothing to change: give --retention-days")
		}
		if *days < 0 {
			return usageError("--retention-days must be 0 (keep) or more, not %d", *days)
		}
		opts.SetRetention = true
		if *days > 0 {
			opts.RetentionDays = days
		}
		opts.Name = args[0]
		opts.attach(cmd)
		return accountsUpdateRun(cmd.Context(), opts)
	}
	return cmd
}

// accountsUpdateRun changes the account and prints its id.
func accountsUpdateRun(ctx context.Context, opts *accountsUpdateOptions) error {
	return opts.withDB(ctx, func(db database) error {
		a, err := db.AccountByName(ctx, opts.Name)
		if err != nil {
			return failure("account %q: %v", opts.Name, err)
		}
		if opts.SetRetention {
			if err := db.SetRetentionDays(ctx, a.ID, opts.RetentionDays); err != nil {
				return failure("%v", err)
			}
		}
		fmt.Fprintln(opts.Out, a.ID)
		return nil
	})
}
