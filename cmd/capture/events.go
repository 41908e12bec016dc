package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// eventTypes are the values of --type.
var eventTypes = []string{"prospect.created", "prospect.updated", "prospect.deleted"}

func newEventsCmd() *cobra.Command {
	o := &prospectsOptions{}
	cmd := group(&cobra.Command{
		Use:   "events",
		Short: "Read the log of changes to prospects over the API",
		Long: `Reads the events the API records for every change to a prospect, kept 30 days.
The key and server come from --api-key/CAPTURE_API_KEY and --url/CAPTURE_URL, and
the output and exit statuses are those of capture prospects.`,
		Example: `  capture events list
  capture events list --type prospect.deleted --created-gte 2026-01-01
  capture events list --json | jq -r .data.object.id`,
	})
	o.register(cmd)
	cmd.AddCommand(newEventsListCmd(o))
	return cmd
}

func newEventsListCmd(o *prospectsOptions) *cobra.Command {
	var created [2]timeFlag
	created[1].endOfDay = true
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List events, newest first",
		Long: `Lists events, newest first, fetching pages as it goes: a table on a terminal
(id, type, prospect, request, created), one JSON event per line when piped or
with --json. --created-gte and --created-lte take what capture prospects list
takes.`,
		Example: `  capture events list --type prospect.updated --max 20
  capture events list --json`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	most := fs.Int("max", 0, "stop after N events (0: all)")
	typ := fs.String("type", "", "only events of this type: "+orList(eventTypes))
	fs.Var(&created[0], "created-gte", "only events created at or after this time")
	fs.Var(&created[1], "created-lte", "only events created at or before this time")
	noEnv(fs, "max", "type", "created-gte", "created-lte")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(eventTypes, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *most < 0 {
			return usageError("--max must be 0 or more")
		}
		set := cmd.Flags().Changed
		if set("type") && !slices.Contains(eventTypes, *typ) {
			return usageError("--type must be %s, not %q", orList(eventTypes), *typ)
		}
		params := client.EventListParams{Limit: 100, Type: *typ}
		if *most > 0 {
			params.Limit = min(*most, 100)
		}
		if set("created-gte") {
			params.CreatedGTE = created[0].unix
		}
		if set("created-lte") {
			params.CreatedLTE = created[1].unix
		}
		c, err := o.client(cmd)
		if err != nil {
			return err
		}
		asJSON, out := wantJSON(cmd, o.asJSON), cmd.OutOrStdout()
		var rows [][]string
		n := 0
		for e, err := range c.Events.List(cmd.Context(), params) {
			if err != nil {
				if rows != nil {
					_ = writeTable(out, []string{"id", "type", "prospect", "request", "created"}, rows)
				}
				return o.fail(cmd, err)
			}
			if asJSON {
				if err := writeJSONLines(out, []any{eventWire(e)}); err != nil {
					return failure("%v", err)
				}
			} else {
				rows = append(rows, []string{e.ID, e.Type, e.Data.Object.ID, e.Request.ID, humanTime(time.Unix(e.Created, 0))})
			}
			if n++; *most > 0 && n >= *most {
				break
			}
		}
		if !asJSON {
			if len(rows) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no events")
				return nil
			}
			return writeTable(out, []string{"id", "type", "prospect", "request", "created"}, rows)
		}
		return nil
	}
	return cmd
}

// eventWire is an event as the API sent it: a deletion's data.object is its
// id only, and a missing idempotency key is null.
func eventWire(e client.Event) any {
	var obj any = e.Data.Object
	if e.Type == "prospect.deleted" {
		obj = map[string]any{"id": e.Data.Object.ID, "object": "prospect", "deleted": true}
	}
	data := map[string]any{"object": obj}
	if e.Type == "prospect.updated" {
		raw, _ := json.Marshal(e.Data.PreviousAttributes)
		data["previous_attributes"] = json.RawMessage(raw)
	}
	var key any
	if e.Request.IdempotencyKey != "" {
		key = e.Request.IdempotencyKey
	}
	return map[string]any{"id": e.ID, "object": e.Object, "type": e.Type, "created": e.Created, "data": data,
		"request": map[string]any{"id": e.Request.ID, "idempotency_key": key}}
}
