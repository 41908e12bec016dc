package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/server"
)

// webhooksListenOptions say where capture webhooks listen forwards which events.
type webhooksListenOptions struct {
	*apiOptions
	ForwardTo string
	Events    []string
	Interval  time.Duration
}

func newWebhooksListenCmd(api *apiOptions, runF runner[webhooksListenOptions]) *cobra.Command {
	opts := &webhooksListenOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "listen --forward-to URL",
		Short: "Forward new events to a local URL, signed, for development",
		Long: `Watches the account's events and forwards each new one to --forward-to as a
webhook delivery would: a POST of the event, signed the Standard Webhooks way with
a secret made for this session and printed at the start. Verify them with that
secret (client.VerifyWebhook in Go) while you develop a receiver, without
registering an endpoint or exposing your machine.

It reads the events log every --interval, so it needs no webhook endpoint and
works with a standard key. A failed forward is reported, not retried. Ctrl-C
stops it.`,
		Example: `  capture webhooks listen --forward-to http://localhost:3000/hook
  capture webhooks listen --forward-to http://localhost:3000/hook --event prospect.created`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.ForwardTo, "forward-to", "", "the local URL to POST each event to (required)")
	fs.StringArrayVar(&opts.Events, "event", nil, "forward only this event type (repeatable; default all)")
	fs.DurationVar(&opts.Interval, "interval", time.Second, "how often to read new events")
	noEnv(fs, "forward-to", "event", "interval")
	_ = cmd.RegisterFlagCompletionFunc("event", cobra.FixedCompletions(eventTypes, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		u, err := url.Parse(opts.ForwardTo)
		if opts.ForwardTo == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--forward-to must be an http:// or https:// URL, such as http://localhost:3000/hook")
		}
		if opts.Interval <= 0 {
			return usageError("--interval must be positive")
		}
		for _, e := range opts.Events {
			if !slices.Contains(eventTypes, e) {
				return usageError("--event must be %s, not %q", orList(eventTypes), e)
			}
		}
		opts.attach(cmd)
		return runF.or(webhooksListenRun)(cmd.Context(), opts)
	}
	return cmd
}

// webhooksListenRun forwards new events until ctx ends.
func webhooksListenRun(ctx context.Context, opts *webhooksListenOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	l := &listener{c: c, forwardTo: opts.ForwardTo, types: opts.Events, stdout: opts.Out, stderr: opts.ErrOut,
		http: &http.Client{Timeout: 10 * time.Second}}
	return l.run(ctx, opts.Interval, opts.apiOptions)
}

// listener forwards the events that appear after it starts.
type listener struct {
	c              *client.Client
	forwardTo      string
	types          []string
	secret         string
	stdout, stderr io.Writer
	http           *http.Client
	last           string // the newest event seen
}

func (l *listener) run(ctx context.Context, interval time.Duration, o *apiOptions) error {
	key := make([]byte, 24)
	rand.Read(key)
	l.secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	// Start after the newest event there is: only new ones are forwarded.
	page, err := l.c.Events.ListPage(ctx, client.EventListParams{Limit: 1})
	if err != nil {
		return o.fail(ctx, err)
	}
	since := time.Now().Unix()
	if len(page.Data) > 0 {
		l.last = page.Data[0].ID
	}
	fmt.Fprintf(l.stdout, "Forwarding new events to %s. This session's signing secret is %s\n", l.forwardTo, l.secret)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := l.poll(ctx, since); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return o.fail(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// poll forwards every event newer than the last one seen, oldest first.
func (l *listener) poll(ctx context.Context, since int64) error {
	for {
		var batch []client.Event
		if l.last == "" { // none existed at the start: all from then on
			for e, err := range l.c.Events.List(ctx, client.EventListParams{Limit: 100, CreatedGTE: since}) {
				if err != nil {
					return err
				}
				batch = append(batch, e)
			}
		} else {
			page, err := l.c.Events.ListPage(ctx, client.EventListParams{Limit: 100, EndingBefore: l.last})
			if err != nil {
				return err
			}
			batch = page.Data
		}
		if len(batch) == 0 {
			return nil
		}
		slices.Reverse(batch) // oldest first
		for _, e := range batch {
			if len(l.types) == 0 || slices.Contains(l.types, e.Type) {
				l.forward(ctx, e)
			}
			l.last = e.ID
		}
		if len(batch) < 100 {
			return nil
		}
	}
}

// forward POSTs one event, signed, and reports the receiver's answer.
func (l *listener) forward(ctx context.Context, e client.Event) {
	body, err := json.Marshal(eventWire(e))
	if err != nil {
		fmt.Fprintf(l.stderr, "%s %s: %v\n", e.ID, e.Type, err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(l.stderr, "%s %s: %v\n", e.ID, e.Type, err)
		return
	}
	sig, _ := server.Sign(l.secret, e.ID, time.Now(), body) // the secret is well-formed: made above
	for k, v := range sig {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "capture-cli/"+client.Version)
	res, err := l.http.Do(req)
	if err != nil {
		fmt.Fprintf(l.stderr, "%s  %s  %s  not delivered: %v\n", time.Now().Format(time.TimeOnly), e.Type, e.ID, err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	fmt.Fprintf(l.stdout, "%s  %s  %s  [%d]\n", time.Now().Format(time.TimeOnly), e.Type, e.ID, res.StatusCode)
}
