package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// triggerTypes are the event types capture trigger can make happen.
var triggerTypes = []string{"prospect.created", "prospect.updated", "prospect.deleted"}

// triggerOptions say which event capture trigger makes happen, and whether the
// prospect it makes is kept.
type triggerOptions struct {
	*apiOptions
	Type string
	Keep bool
}

func newTriggerCmd(runF runner[triggerOptions]) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger EVENT_TYPE",
		Short: "Make an event happen in the account, to test webhook receivers",
		Long: `Makes a real change in the account so that its events are recorded and
delivered to the webhook endpoints that receive them (and forwarded by a running
capture webhooks listen): it creates a prospect with an address of its own,
trigger+RANDOM@example.com (source capture_trigger), updates its status when the
type is prospect.updated, then deletes it. So prospect.created gives
prospect.created then prospect.deleted, and prospect.updated all three.

The deletion strips the prospect's earlier events down to its id, status and
created, deliveries not yet made included, as for any deletion: with --keep the
prospect stays (delete it with capture prospects delete), and its events are
delivered whole. It prints the events it caused: a table on a terminal, one
JSON event per line when piped or with --json. A standard key may.

The key and server come from --api-key/CAPTURE_API_KEY and --url/CAPTURE_URL.`,
		Example: `  capture trigger prospect.created
  capture trigger prospect.updated --keep
  capture trigger prospect.deleted --json | jq -r .id`,
		Args:      positional(1, "the event type: "+orList(triggerTypes)),
		ValidArgs: triggerTypes,
	}
	opts := &triggerOptions{apiOptions: newAPIOptions(cmd)}
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the prospect instead of deleting it (prospect.created and prospect.updated)")
	noEnv(cmd.Flags(), "keep")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Type = args[0]
		if !slices.Contains(triggerTypes, opts.Type) {
			return usageError("the event type must be %s, not %q", orList(triggerTypes), opts.Type)
		}
		if opts.Keep && opts.Type == "prospect.deleted" {
			return usageError("--keep would keep prospect.deleted from happening: leave it out")
		}
		opts.attach(cmd)
		return runF.or(triggerRun)(cmd.Context(), opts)
	}
	return cmd
}

// triggerRun makes the changes that record the event, then prints the events
// they recorded.
func triggerRun(ctx context.Context, opts *triggerOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{
		Email: "trigger+" + hex.EncodeToString(suffix) + "@example.com", FirstName: "Trigger", Source: "capture_trigger"})
	if err != nil {
		return opts.fail(ctx, err)
	}
	fmt.Fprintf(opts.ErrOut, "created prospect %s (%s)\n", p.ID, p.Email)
	want := 1
	if opts.Type == "prospect.updated" {
		_, err = c.Prospects.Update(ctx, p.ID, client.ProspectUpdateParams{Status: client.Set(client.ProspectStatusContacted)})
		if err == nil {
			want++
			fmt.Fprintf(opts.ErrOut, "updated prospect %s: status contacted\n", p.ID)
		}
	}
	if !opts.Keep {
		// Even after a failed update: the prospect was made for this alone.
		if _, derr := c.Prospects.Delete(ctx, p.ID); derr != nil {
			fmt.Fprintf(opts.ErrOut, "could not delete prospect %s: delete it with capture prospects delete %s\n", p.ID, p.ID)
			err = derr
		} else {
			want++
			fmt.Fprintf(opts.ErrOut, "deleted prospect %s\n", p.ID)
		}
	}
	if err != nil {
		return opts.fail(ctx, err)
	}
	// The events of these changes, newest first, from the log: from the
	// prospect's created, which is the server's clock, as the events' are.
	var events []client.Event
	for e, err := range c.Events.List(ctx, client.EventListParams{Limit: 100, CreatedGTE: p.Created}) {
		if err != nil {
			return opts.fail(ctx, err)
		}
		if e.Data.Object.ID == p.ID {
			events = append(events, e)
			if len(events) == want {
				break
			}
		}
	}
	slices.Reverse(events) // in the order they happened
	if opts.wantJSON() {
		wire := make([]any, len(events))
		for i, e := range events {
			wire[i] = eventWire(e)
		}
		return writeJSONLines(opts.Out, wire)
	}
	rows := make([][]string, len(events))
	for i, e := range events {
		rows[i] = []string{e.ID, e.Type, e.Data.Object.ID, e.Request.ID, humanTime(time.Unix(e.Created, 0))}
	}
	return writeTable(opts.Out, eventColumns, rows)
}
