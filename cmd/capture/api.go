package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
)

// defaultURL is where the command line looks for a server when neither --url
// nor CAPTURE_URL says: a local `capture serve`.
const defaultURL = "http://127.0.0.1:8080"

// apiOptions are the settings every command over the API shares (prospects,
// events, webhooks): the flags of its group, and where its output goes. Each
// command's options embed the one of its group; tests fill one in directly.
type apiOptions struct {
	APIKey     string
	URL        string
	MaxRetries int
	output
}

// newAPIOptions adds the flags every command over the API shares to the group
// cmd, for all of its subcommands.
func newAPIOptions(cmd *cobra.Command) *apiOptions {
	o := &apiOptions{}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.APIKey, "api-key", "", "secret API key, sk_…")
	pf.StringVar(&o.URL, "url", defaultURL, "the server's base URL")
	pf.IntVar(&o.MaxRetries, "max-retries", client.DefaultMaxRetries, "resend a request that failed in a retryable way up to N times")
	pf.BoolVar(&o.JSON, "json", false, "print JSON even on a terminal (JSON is the default when output is piped)")
	return o
}

// client makes the API client, or refuses before any request when there is no key.
func (o *apiOptions) client() (*client.Client, error) {
	if o.APIKey == "" {
		return nil, usageError("no API key: set CAPTURE_API_KEY or pass --api-key sk_… (an admin makes one with 'capture keys create')")
	}
	if o.MaxRetries < 0 {
		return nil, usageError("--max-retries must be 0 or more, not %d", o.MaxRetries)
	}
	stderr, attempts := o.ErrOut, o.MaxRetries+1
	return client.New(o.APIKey,
		client.WithBaseURL(o.URL),
		client.WithMaxRetries(o.MaxRetries),
		client.WithUserAgent("capture-cli/"+client.Version),
		client.WithRetryNotify(func(e *client.Error, attempt int, wait time.Duration) {
			fmt.Fprintf(stderr, "%s, retrying in %s (attempt %d of %d)\n", retryReason(e), waitString(wait), attempt, attempts)
		}),
	), nil
}

// finish prints a call's result (only the named fields, if any), or its error.
func (o *apiOptions) finish(ctx context.Context, v any, fields []string, err error) error {
	if err != nil {
		return o.fail(ctx, err)
	}
	obj, err := objectFields(v)
	if err != nil {
		return failure("%v", err)
	}
	obj = selectFields(obj, fields)
	if o.wantJSON() {
		err = writeIndented(o.Out, encodeObject(obj))
	} else {
		err = writeKeyValues(o.Out, obj)
	}
	if err != nil {
		return failure("%v", err)
	}
	return nil
}

// retryReason says in a few words why an attempt failed: "503 maintenance".
func retryReason(e *client.Error) string {
	switch {
	case e.StatusCode == 0:
		return e.Message
	case e.Type == client.ErrorTypeAPIConnectionError: // the answer began, then the connection failed
		return "the answer was cut short"
	}
	reason := strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		reason += " " + string(e.Code)
	} else if e.Type != "" {
		reason += " " + string(e.Type)
	}
	return reason
}

// waitString rounds a retry wait for people: "20s", "1.5s", "0.3s".
func waitString(d time.Duration) string {
	if d%time.Second == 0 || d >= 10*time.Second {
		return d.Round(time.Second).String()
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
