package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

func newKeysCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys",
		Example: `  capture keys create --account acme --role standard
  capture keys list --account acme
  capture keys revoke key_01j…`,
	})
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

// choiceFlag is a string flag that accepts one of a few values and says which
// when given another.
type choiceFlag struct {
	value   string
	choices []string
}

func (c *choiceFlag) String() string { return c.value }
func (c *choiceFlag) Type() string   { return strings.Join(c.choices, "|") }

func (c *choiceFlag) Set(v string) error {
	if !slices.Contains(c.choices, v) {
		return fmt.Errorf("want %s", orList(c.choices))
	}
	c.value = v
	return nil
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// keysCreateOptions are the key capture keys create makes.
type keysCreateOptions struct {
	*adminOptions
	Account       string
	Role          store.Role
	CreateAccount bool // make the account if there is none of that name
}

func newKeysCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --account NAME [--role admin|standard]",
		Short: "Create an API key and print its secret, once",
		Long: `Creates an API key for an existing account. Only the secret goes to stdout, so
that it can be captured in a variable; the key's id (for keys revoke) goes to
stderr. The secret is shown this once and never stored: keep it.

Standard keys read and write the account's prospects; admin keys also see and
set hidden prospects. The account must exist (see capture accounts create)
unless --create-account is given.`,
		Example: `  export CAPTURE_API_KEY=$(capture keys create --account acme --role standard)
  capture keys create --account newco --create-account --role admin`,
		Args: positional(0, ""),
	}
	opts := &keysCreateOptions{adminOptions: newAdminOptions(cmd)}
	cmd.Flags().StringVar(&opts.Account, "account", "", "the account's name (required)")
	role := &choiceFlag{value: string(store.RoleStandard), choices: []string{string(store.RoleAdmin), string(store.RoleStandard)}}
	cmd.Flags().Var(role, "role", "admin (also sees hidden prospects) or standard")
	cmd.Flags().BoolVar(&opts.CreateAccount, "create-account", false, "create the account if it does not exist")
	noEnv(cmd.Flags(), "account", "role", "create-account")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(role.choices, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("account", completeAccounts)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if opts.Account == "" {
			return usageError("--account NAME is required")
		}
		opts.Role = store.Role(role.value)
		opts.attach(cmd)
		return keysCreateRun(cmd.Context(), opts)
	}
	return cmd
}

// keysCreateRun creates the key: its secret on stdout, the rest on stderr.
func keysCreateRun(ctx context.Context, opts *keysCreateOptions) error {
	return opts.withDB(ctx, func(db database) error {
		a, err := db.AccountByName(ctx, opts.Account)
		if errors.Is(err, store.ErrNotFound) {
			if !opts.CreateAccount {
				return failure("no account named %q%s\nCreate it with 'capture accounts create %s', or pass --create-account.",
					opts.Account, knownAccounts(ctx, db), opts.Account)
			}
			a, err = db.CreateAccount(ctx, opts.Account, defaultProspectLimit, 0)
			if err == nil {
				fmt.Fprintf(opts.ErrOut, "created account %s (%s)\n", a.Name, a.ID)
			}
		}
		if err != nil {
			return failure("%v", err)
		}
		k, secret, err := db.CreateKey(ctx, a.ID, opts.Role)
		if err != nil {
			return failure("%v", err)
		}
		fmt.Fprintf(opts.ErrOut, "created %s key %s for account %s; the secret is shown once:\n", k.Role, k.ID, a.Name)
		fmt.Fprintln(opts.Out, secret)
		return nil
	})
}

// knownAccounts names the existing accounts, for an error message.
func knownAccounts(ctx context.Context, db store.Store) string {
	accounts, err := db.ListAccounts(ctx)
	if err != nil || len(accounts) == 0 {
		return " (the database has no accounts)"
	}
	var names []string
	for _, a := range accounts {
		names = append(names, a.Name)
	}
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	return " (accounts: " + strings.Join(names, ", ") + ")"
}

// completeAccounts offers the account names of the database --db names, for
// shell completion; it never creates a database.
func completeAccounts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	path, _ := cmd.Flags().GetString("db")
	var db store.Store
	var err error
	if postgres.IsURL(path) {
		db, err = postgres.Open(cmd.Context(), path)
	} else if _, err = statDB(path); err == nil {
		db, err = sqlite.Open(path)
	}
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer db.Close()
	accounts, _ := db.ListAccounts(cmd.Context())
	var names []string
	for _, a := range accounts {
		names = append(names, a.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// keyJSON is a key as `keys list` prints it in JSON: never a secret.
type keyJSON struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Account   string `json:"account"`
	Role      string `json:"role"`
	Created   int64  `json:"created"`
	Revoked   *int64 `json:"revoked"`
}

// keysListOptions say whose keys capture keys list prints.
type keysListOptions struct {
	*adminOptions
	Account string // "": every account's
}

func newKeysListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--account NAME]",
		Short: "List API keys (never their secrets), oldest first",
		Long: `Lists the keys of every account, or of one with --account: id, account, role,
when it was created and when it was revoked. Secrets are never stored, so never
shown. A table on a terminal, one JSON object per line when piped or with --json.`,
		Example: `  capture keys list
  capture keys list --account acme
  capture keys list --json | jq -r 'select(.revoked == null) | .id'`,
		Args: positional(0, ""),
	}
	opts := &keysListOptions{adminOptions: newAdminOptions(cmd)}
	cmd.Flags().StringVar(&opts.Account, "account", "", "only this account's keys")
	opts.jsonFlag(cmd)
	noEnv(cmd.Flags(), "account")
	_ = cmd.RegisterFlagCompletionFunc("account", completeAccounts)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.attach(cmd)
		return keysListRun(cmd.Context(), opts)
	}
	return cmd
}

// keysListRun prints the keys, never a secret.
func keysListRun(ctx context.Context, opts *keysListOptions) error {
	return opts.withDB(ctx, func(db database) error {
		accounts, err := db.ListAccounts(ctx)
		if err != nil {
			return failure("%v", err)
		}
		names := map[string]string{}
		accountID := ""
		for _, a := range accounts {
			names[a.ID] = a.Name
			if a.Name == opts.Account {
				accountID = a.ID
			}
		}
		if opts.Account != "" && accountID == "" {
			return failure("no account named %q%s", opts.Account, knownAccounts(ctx, db))
		}
		keys, err := db.ListKeys(ctx, accountID)
		if err != nil {
			return failure("%v", err)
		}
		if opts.wantJSON() {
			items := make([]keyJSON, len(keys))
			for i, k := range keys {
				items[i] = keyJSON{ID: k.ID, AccountID: k.AccountID, Account: names[k.AccountID], Role: string(k.Role), Created: k.Created.Unix()}
				if k.Revoked {
					items[i].Revoked = new(k.RevokedAt.Unix())
				}
			}
			return writeJSONLines(opts.Out, items)
		}
		if len(keys) == 0 {
			fmt.Fprintln(opts.ErrOut, "no keys")
			return nil
		}
		rows := make([][]string, len(keys))
		for i, k := range keys {
			rows[i] = []string{k.ID, names[k.AccountID], string(k.Role), humanTime(k.Created), humanTime(k.RevokedAt)}
		}
		return writeTable(opts.Out, []string{"id", "account", "role", "created", "revoked"}, rows)
	})
}

// keysRevokeOptions name the key capture keys revoke revokes.
type keysRevokeOptions struct {
	*adminOptions
	ID string
}

func newKeysRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Long: `Revokes a key by its id (key_…, from keys list or keys create). Running servers
refuse it within a second, with 401 api_key_revoked.`,
		Example: `  capture keys revoke key_01jd3k6v9w8x7y6z5a4b3c2d1e`,
		Args:    positional(1, "the key ID (see capture keys list)"),
	}
	opts := &keysRevokeOptions{adminOptions: newAdminOptions(cmd)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return keysRevokeRun(cmd.Context(), opts)
	}
	return cmd
}

// keysRevokeRun revokes the key.
func keysRevokeRun(ctx context.Context, opts *keysRevokeOptions) error {
	return opts.withDB(ctx, func(db database) error {
		if err := db.RevokeKey(ctx, opts.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return failure("no active key with id %s (see capture keys list)", opts.ID)
			}
			return failure("%v", err)
		}
		fmt.Fprintln(opts.ErrOut, "revoked", opts.ID)
		return nil
	})
}
