package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// eventTypes are the values of --type.
var eventTypes = []string{"prospect.created", "prospect.updated", "prospect.deleted", "form_submission.created"}

func newEventsCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "events",
		Short: "Read the log of changes to prospects over the API",
		Long: `Reads the events the API records for every change to a prospect, kept 30 days,
and sends one again to webhook endpoints. The key and server come from
--api-key/CAPTURE_API_KEY and --url/CAPTURE_URL, and the output and exit
statuses are those of capture prospects.`,
		Example: `  capture events list
  capture events list --type prospect.deleted --created-gte 2026-01-01
  capture events list --json | jq -r .data.object.id
  capture events resend evt_01jd… --endpoint we_01jd…`,
	})
	api := newAPIOptions(cmd)
	cmd.AddCommand(newEventsListCmd(api, nil), newEventsResendCmd(api, nil))
	return cmd
}

// eventsResendOptions name the event capture events resend sends again, and where.
type eventsResendOptions struct {
	*apiOptions
	ID       string
	Endpoint string // "" for every endpoint that receives the event's type
}

func newEventsResendCmd(api *apiOptions, runF runner[eventsResendOptions]) *cobra.Command {
	opts := &eventsResendOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "resend EVENT_ID [--endpoint ID]",
		Short: "Deliver an event again to webhook endpoints",
		Long: `Delivers an event again: to the endpoint --endpoint names, or to every enabled
endpoint that receives the event's type. Each is a new delivery, signed and
retried on failure like the first, with the same webhook-id; it carries the
event as it reads now (a deleted prospect's event is sent stripped). Only admin
keys may. It prints the endpoints the event goes to (JSON when piped or with
--json); an endpoint that is disabled or does not receive the type is refused.`,
		Example: `  capture events resend evt_01jd…
  capture events resend evt_01jd… --endpoint we_01jd…`,
		Args: positional(1, "the event ID"),
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Endpoint, "endpoint", "", "the webhook endpoint (we_…) to deliver to; default every one that receives the type")
	noEnv(fs, "endpoint")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.ID = args[0]
		if cmd.Flags().Changed("endpoint") && opts.Endpoint == "" {
			return usageError("--endpoint needs an endpoint ID (we_…); leave it out to resend to every endpoint")
		}
		opts.attach(cmd)
		return runF.or(eventsResendRun)(cmd.Context(), opts)
	}
	return cmd
}

// eventsResendRun enqueues the event again and prints where it goes.
func eventsResendRun(ctx context.Context, opts *eventsResendOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	r, err := c.Events.Resend(ctx, opts.ID, client.EventResendParams{Endpoint: opts.Endpoint})
	if err != nil {
		return opts.fail(ctx, err)
	}
	if len(r.Endpoints) == 0 {
		fmt.Fprintf(opts.ErrOut, "no enabled webhook endpoint receives this event's type: nothing was sent (see capture webhooks list)\n")
	}
	return opts.finish(ctx, r, nil, nil)
}

// eventsListOptions are the filters of capture events list and how many it prints.
type eventsListOptions struct {
	*apiOptions
	Params client.EventListParams // the filters; the page size is chosen from the limit
	listLimit
}

// eventColumns are the columns of the events table.
var eventColumns = []string{"id", "type", "prospect", "request", "created"}

func newEventsListCmd(api *apiOptions, runF runner[eventsListOptions]) *cobra.Command {
	opts := &eventsListOptions{apiOptions: api}
	var created createdRange
	cmd := &cobra.Command{
		Use:   "list [filters]",
		Short: "List events, newest first",
		Long: `Lists events, newest first, fetching pages as it goes: on a terminal, a table
(` + strings.Join(eventColumns, ", ") + `) of the first ` + strconv.Itoa(defaultListLimit) + ` events (--limit N shows N,
--all every one); piped or with --json, one JSON event per line, every one
unless --limit says otherwise. --created-gte and --created-lte take what
capture prospects list takes.`,
		Example: `  capture events list --type prospect.updated --limit 20
  capture events list --all --created-gte 2026-01-01
  capture events list --json`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	opts.listLimit.register(cmd, "events")
	typ := fs.String("type", "", "only events of this type: "+orList(eventTypes))
	created.register(cmd, "events")
	noEnv(fs, "type")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(eventTypes, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		set := cmd.Flags().Changed
		if err := opts.listLimit.check(cmd); err != nil {
			return err
		}
		if set("type") && !slices.Contains(eventTypes, *typ) {
			return usageError("--type must be %s, not %q", orList(eventTypes), *typ)
		}
		opts.Params = client.EventListParams{Type: *typ, CreatedGTE: created.gte.unix, CreatedLTE: created.lte.unix}
		opts.attach(cmd)
		return runF.or(eventsListRun)(cmd.Context(), opts)
	}
	return cmd
}

// eventsListRun prints the events the filters select, up to the limit.
func eventsListRun(ctx context.Context, opts *eventsListOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	most := opts.most(opts.apiOptions)
	params := opts.Params
	params.Limit = pageSize(most)
	printer := listPrinter[client.Event]{what: "events", header: slices.Clone(eventColumns),
		json: func(e client.Event) ([]byte, error) {
			var b bytes.Buffer
			err := writeJSONLines(&b, []any{eventWire(e)})
			return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
		},
		row: func(e client.Event) ([]string, error) {
			return []string{e.ID, e.Type, e.Data.Object.ID, e.Request.ID, humanTime(time.Unix(e.Created, 0))}, nil
		},
	}
	return printer.print(ctx, opts.apiOptions, c.Events.List(ctx, params), most)
}

// eventWire is an event as the API sent it: a deletion's data.object is its
// id only, and a missing idempotency key is null.
func eventWire(e client.Event) any {
	var obj any = e.Data.Object
	switch p := e.Data.Object; {
	case e.Type == "prospect.deleted":
		obj = map[string]any{"id": p.ID, "object": p.Object, "deleted": true}
	case p.Email == "": // the prospect was deleted since: the event keeps these only
		obj = map[string]any{"id": p.ID, "object": p.Object, "status": p.Status, "created": p.Created}
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
