package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

func newWebhooksCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "webhooks",
		Short: "Manage the URLs that receive events over the API, or forward events to a local one",
		Long: `Creates, lists and deletes webhook endpoints: URLs that receive every event of
the account as a signed POST (Standard Webhooks: webhook-id, webhook-timestamp,
webhook-signature). Only admin keys may. The key and server come from
--api-key/CAPTURE_API_KEY and --url/CAPTURE_URL, and the output and exit
statuses are those of capture prospects. listen forwards new events to a URL on
your machine, signed with a secret kept for the account on this machine, for
development (--print-secret prints it).`,
		Example: `  capture webhooks create --endpoint https://crm.example.com/hooks/capture
  capture webhooks list
  capture webhooks delete we_01jd…
  capture webhooks listen --forward-to http://localhost:3000/hook   # develop a receiver`,
	})
	api := newAPIOptions(cmd)
	cmd.AddCommand(newWebhooksCreateCmd(api, nil), newWebhooksListCmd(api, nil), newWebhooksDeleteCmd(api, nil), newWebhooksListenCmd(api, nil))
	return cmd
}

// webhooksCreateOptions are the endpoint capture webhooks create makes.
type webhooksCreateOptions struct {
	*apiOptions
	Params client.WebhookEndpointCreateParams
}

func newWebhooksCreateCmd(api *apiOptions, runF runner[webhooksCreateOptions]) *cobra.Command {
	opts := &webhooksCreateOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "create --endpoint URL [flags]",
		Short: "Make a URL receive events",
		Long: `Creates a webhook endpoint and prints it with its signing secret (whsec_…),
which is shown this once: keep it to verify deliveries (client.VerifyWebhook in Go).`,
		Example: `  capture webhooks create --endpoint https://crm.example.com/hooks/capture
  capture webhooks create --endpoint https://crm.example.com/hooks/new --event prospect.created --description "CRM sync"`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	endpoint := fs.String("endpoint", "", "the https:// URL to deliver to (required)")
	events := fs.StringArray("event", nil, "an event type to deliver, or * for all (repeatable; default *)")
	description := fs.String("description", "", "what the endpoint is for")
	noEnv(fs, "endpoint", "event", "description")
	_ = cmd.RegisterFlagCompletionFunc("event", cobra.FixedCompletions(append([]string{"*"}, eventTypes...), cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *endpoint == "" {
			return usageError("--endpoint is required")
		}
		params := client.WebhookEndpointCreateParams{URL: *endpoint, Description: *description,
			EnabledEvents: []client.EnabledEvent{"*"}}
		if len(*events) > 0 {
			params.EnabledEvents = nil
			for _, e := range *events {
				if e != "*" && !slices.Contains(eventTypes, e) {
					return usageError("--event must be * or %s, not %q", orList(eventTypes), e)
				}
				params.EnabledEvents = append(params.EnabledEvents, client.EnabledEvent(e))
			}
		}
		opts.Params = params
		opts.attach(cmd)
		return runF.or(webhooksCreateRun)(cmd.Context(), opts)
	}
	return cmd
}

// webhooksCreateRun creates the endpoint and prints it with its secret.
func webhooksCreateRun(ctx context.Context, opts *webhooksCreateOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	e, err := c.WebhookEndpoints.Create(ctx, opts.Params)
	return opts.finish(ctx, e, nil, err)
}

// webhooksListOptions are those of capture webhooks list: the API's alone.
type webhooksListOptions struct {
	*apiOptions
}

func newWebhooksListCmd(api *apiOptions, runF runner[webhooksListOptions]) *cobra.Command {
	opts := &webhooksListOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List webhook endpoints",
		Long: `Lists the account's webhook endpoints, newest first: a table on a terminal, one
JSON object per line when piped or with --json. Secrets are never shown again.`,
		Example: `  capture webhooks list
  capture webhooks list --json | jq -r .url`,
		Args: positional(0, ""),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.attach(cmd)
		return runF.or(webhooksListRun)(cmd.Context(), opts)
	}
	return cmd
}

// webhooksListRun prints every endpoint of the account.
func webhooksListRun(ctx context.Context, opts *webhooksListOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	var endpoints []client.WebhookEndpoint
	for e, err := range c.WebhookEndpoints.List(ctx) {
		if err != nil {
			return opts.fail(ctx, err)
		}
		endpoints = append(endpoints, e)
	}
	if opts.wantJSON() {
		return writeJSONLines(opts.Out, endpoints)
	}
	if len(endpoints) == 0 {
		fmt.Fprintln(opts.ErrOut, "no webhook endpoints")
		return nil
	}
	rows := make([][]string, len(endpoints))
	for i, e := range endpoints {
		state := "enabled"
		if e.Disabled {
			state = "disabled"
		} else if e.FailingSince != 0 {
			state = "failing since " + humanTime(time.Unix(e.FailingSince, 0))
		}
		rows[i] = []string{e.ID, e.URL, strings.Join(e.EnabledEvents, ","), state, e.Description, humanTime(time.Unix(e.Created, 0))}
	}
	return writeTable(opts.Out, []string{"id", "url", "events", "state", "description", "created"}, rows)
}

// webhooksDeleteOptions name the endpoint capture webhooks delete deletes.
type webhooksDeleteOptions struct {
	*apiOptions
	ID string
}

func newWebhooksDeleteCmd(api *apiOptions, runF runner[webhooksDeleteOptions]) *cobra.Command {
	opts := &webhooksDeleteOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a webhook endpoint",
		Long:    `Deletes the endpoint; its pending deliveries are dropped.`,
		Example: `  capture webhooks delete we_01jd…`,
		Args:    positional(1, "the endpoint ID"),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		opts.attach(cmd)
		return runF.or(webhooksDeleteRun)(cmd.Context(), opts)
	}
	return cmd
}

// webhooksDeleteRun deletes the endpoint and prints the receipt.
func webhooksDeleteRun(ctx context.Context, opts *webhooksDeleteOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	d, err := c.WebhookEndpoints.Delete(ctx, opts.ID)
	return opts.finish(ctx, d, nil, err)
}
