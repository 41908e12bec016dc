package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/server"
)

// webhooksListenOptions say where capture webhooks listen forwards which events.
type webhooksListenOptions struct {
	*apiOptions
	ForwardTo   string
	Events      []string
	Interval    time.Duration
	Retries     int  // how many times a failed forward is tried again
	PrintSecret bool // print the signing secret and exit
}

// forwardBackoff is the wait before the first retry of a failed forward; each
// next wait doubles it, so the default 3 retries take 7 s at most.
const forwardBackoff = time.Second

func newWebhooksListenCmd(api *apiOptions, runF runner[webhooksListenOptions]) *cobra.Command {
	opts := &webhooksListenOptions{apiOptions: api}
	cmd := &cobra.Command{
		Use:   "listen --forward-to URL",
		Short: "Forward new events to a local URL, signed, for development",
		Long: `Watches the account's events and forwards each new one to --forward-to as a
webhook delivery would: a POST of the event, signed the Standard Webhooks way.
Verify them (client.VerifyWebhook in Go) while you develop a receiver, without
registering an endpoint or exposing your machine.

The signing secret is made once per account on this machine and kept in your
configuration directory (` + listenSecretHint + `, readable by you
alone): every session with a key of that account signs with it, so a receiver
configured with it keeps working. --print-secret prints it (making it if there
is none yet) and exits; delete the file for a new one.

It reads the events log every --interval, so it needs no webhook endpoint and
works with a standard key. A forward that fails (no answer, or a 408, 429 or
5xx status) is tried again --retries times, after 1 s, 2 s, 4 s…; each failure
is reported on stderr, and one that never succeeds is named there, the event
left in the log (capture events list). Ctrl-C stops it.`,
		Example: `  capture webhooks listen --forward-to http://localhost:3000/hook
  capture webhooks listen --forward-to http://localhost:3000/hook --event prospect.created
  WEBHOOK_SECRET=$(capture webhooks listen --print-secret) ./receiver`,
		Args: positional(0, ""),
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.ForwardTo, "forward-to", "", "the local URL to POST each event to (required unless --print-secret)")
	fs.StringArrayVar(&opts.Events, "event", nil, "forward only this event type (repeatable; default all)")
	fs.DurationVar(&opts.Interval, "interval", time.Second, "how often to read new events")
	fs.IntVar(&opts.Retries, "retries", 3, "how many times to try a failed forward again")
	fs.BoolVar(&opts.PrintSecret, "print-secret", false, "print the signing secret this machine keeps for the account, and exit")
	noEnv(fs, "forward-to", "event", "interval", "retries", "print-secret")
	_ = cmd.RegisterFlagCompletionFunc("event", cobra.FixedCompletions(eventTypes, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if !opts.PrintSecret {
			u, err := url.Parse(opts.ForwardTo)
			if opts.ForwardTo == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError("--forward-to must be an http:// or https:// URL, such as http://localhost:3000/hook")
			}
		}
		if opts.Interval <= 0 {
			return usageError("--interval must be positive")
		}
		if opts.Retries < 0 || opts.Retries > 10 {
			return usageError("--retries must be 0 to 10, not %d", opts.Retries)
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

// webhooksListenRun prints the account's signing secret, or forwards new
// events until ctx ends.
func webhooksListenRun(ctx context.Context, opts *webhooksListenOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	acct, err := c.Account.Get(ctx)
	if err != nil {
		return opts.fail(ctx, err)
	}
	secret, err := listenSecret(acct.ID)
	if err != nil {
		return err
	}
	if opts.PrintSecret {
		fmt.Fprintln(opts.Out, secret)
		return nil
	}
	l := &listener{c: c, forwardTo: opts.ForwardTo, types: opts.Events, secret: secret, retries: opts.Retries,
		stdout: opts.Out, stderr: opts.ErrOut, http: &http.Client{Timeout: 10 * time.Second,
			// A redirect is the receiver's answer, as to a webhook delivery: the
			// signed event goes nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return l.run(ctx, opts.Interval, opts.apiOptions)
}

// listenSecretHint says where listenSecret keeps secrets, for the help.
const listenSecretHint = "capture/webhooks-listen/ACCOUNT_ID in the directory Go's os.UserConfigDir names:\n$XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support on\nmacOS, %AppData% on Windows"

// listenSecret returns the signing secret this machine keeps for the account,
// making and keeping one (mode 0600) the first time. Two sessions starting at
// once agree on one: the file appears whole or not at all, and the later one
// reads the earlier's.
func listenSecret(accountID string) (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", failure("no configuration directory to keep the signing secret in (%v): set XDG_CONFIG_HOME or HOME", err)
	}
	if accountID == "" || strings.ContainsAny(accountID, `/\.`) {
		return "", failure("the server named the account %q, which is no file name", accountID)
	}
	dir := filepath.Join(base, "capture", "webhooks-listen")
	path := filepath.Join(dir, accountID)
	if secret, err := readListenSecret(dir, path); !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", failure("keep the signing secret: %v", err)
	}
	tmp, err := os.CreateTemp(dir, ".new-*")
	if err != nil {
		return "", failure("keep the signing secret: %v", err)
	}
	defer os.Remove(tmp.Name())
	key := make([]byte, 24)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	// CreateTemp's file is 0600 already: no one else may read it at any moment.
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		tmp.Close()
		return "", failure("keep the signing secret: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return "", failure("keep the signing secret: %v", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", failure("keep the signing secret: %v", err)
	}
	return readListenSecret(dir, path) // ours, or that of a session that linked first
}

// readListenSecret reads the kept secret, or answers fs.ErrNotExist. It
// refuses one that others could have read or put there (a file others may
// read, in a directory others may write to, or a link to a file elsewhere):
// a receiver configured with it would trust whoever did.
func readListenSecret(dir, path string) (string, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", failure("read the signing secret: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", failure("%s is not a file of its own (%s): delete it, and the next session makes a new secret", path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" { // whose modes say nothing of who may read
		if di, err := os.Lstat(dir); err != nil || !di.IsDir() || di.Mode().Perm()&0o022 != 0 {
			return "", failure("others may replace the signing secret in %s: chmod 700 it, then delete the files in it (receivers need the new secret)", dir)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", failure("others may read the signing secret in %s (mode %v): chmod 600 it, or delete it for a new one (receivers need the new secret)", path, fi.Mode().Perm())
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", failure("read the signing secret: %v", err)
	}
	return checkListenSecret(path, b)
}

// checkListenSecret reads a kept secret, refusing one that cannot sign.
func checkListenSecret(path string, b []byte) (string, error) {
	secret := strings.TrimSpace(string(b))
	if _, err := server.Sign(secret, "evt_check", time.Now(), nil); err != nil || len(secret) < len("whsec_")+16 || !strings.HasPrefix(secret, "whsec_") {
		return "", failure("the file %s holds no whsec_ signing secret: delete it, and the next session makes a new one", path)
	}
	return secret, nil
}

// listener forwards the events that appear after it starts.
type listener struct {
	c              *client.Client
	forwardTo      string
	types          []string
	secret         string
	retries        int
	stdout, stderr io.Writer
	http           *http.Client
	last           string // the newest event seen
}

func (l *listener) run(ctx context.Context, interval time.Duration, o *apiOptions) error {
	// Start after the newest event there is: only new ones are forwarded.
	page, err := l.c.Events.ListPage(ctx, client.EventListParams{Limit: 1})
	if err != nil {
		return o.fail(ctx, err)
	}
	since := time.Now().Unix()
	if len(page.Data) > 0 {
		l.last = page.Data[0].ID
	}
	fmt.Fprintf(l.stdout, "Forwarding new events to %s. The signing secret is %s\n", l.forwardTo, l.secret)
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

// forward delivers one event, trying again with backoff after a failure that
// a receiver may get over (no answer, 408, 429, 5xx), and reports each
// outcome: the answer on stdout, failures on stderr.
func (l *listener) forward(ctx context.Context, e client.Event) {
	body, err := json.Marshal(eventWire(e))
	if err != nil {
		fmt.Fprintf(l.stderr, "%s %s: %v\n", e.ID, e.Type, err)
		return
	}
	wait := forwardBackoff
	for attempt := 1; ; attempt++ {
		status, err := l.send(ctx, e.ID, body)
		if ctx.Err() != nil {
			return
		}
		stamp := time.Now().Format(time.TimeOnly)
		if err == nil && !retryableStatus(status) {
			fmt.Fprintf(l.stdout, "%s  %s  %s  [%d]\n", stamp, e.Type, e.ID, status)
			return
		}
		why := fmt.Sprintf("[%d]", status)
		if err != nil {
			why = err.Error()
		}
		if attempt > l.retries {
			fmt.Fprintf(l.stderr, "%s  %s  %s  not delivered after %d attempts: %s (it stays in the events log: capture events list)\n",
				stamp, e.Type, e.ID, attempt, why)
			return
		}
		fmt.Fprintf(l.stderr, "%s  %s  %s  %s, retrying in %s (attempt %d of %d)\n", stamp, e.Type, e.ID, why, waitString(wait), attempt, l.retries+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// retryableStatus reports an answer after which the receiver may yet take the
// event: it timed out, was overloaded, or failed.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// send POSTs the event, signed now, and returns the receiver's status.
func (l *listener) send(ctx context.Context, id string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	sig, err := server.Sign(l.secret, id, time.Now(), body)
	if err != nil {
		return 0, err
	}
	for k, v := range sig {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "capture-cli/"+client.Version)
	res, err := l.http.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
