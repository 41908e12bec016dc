package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/captureapi/capture/client"
)

// fail prints err on stderr — the message, then one "name: value" line per
// field a script or a support request needs — and returns the exit status.
func (c *prospectsCmd) fail(ctx context.Context, err error) int {
	var e *client.Error
	if !errors.As(err, &e) {
		fmt.Fprintf(c.stderr, "error: %v\n", err)
		return exitRequest
	}
	fmt.Fprintf(c.stderr, "error: %s\n", e.Message)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(c.stderr, "%s: %s\n", name, value)
		}
	}
	field("type", string(e.Type))
	field("code", string(e.Code))
	field("param", e.Param)
	if e.StatusCode != 0 {
		field("status", fmt.Sprint(e.StatusCode))
	}
	field("request_id", e.RequestID)
	field("existing_id", e.ExistingID)
	field("doc_url", e.DocURL)
	if e.Attempts > 1 {
		field("attempts", fmt.Sprint(e.Attempts))
	}
	return exitStatus(ctx, e)
}

// exitStatus maps an error to the documented exit statuses.
func exitStatus(ctx context.Context, e *client.Error) int {
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case e.Type == client.ErrorTypeAPIConnectionError:
		return exitConnection
	case e.StatusCode >= 500 || e.Type == client.ErrorTypeAPIError:
		return exitServer
	default:
		return exitRequest
	}
}

// fieldOrder is the order of the API reference, which reads better than the
// alphabetical order encoding/json would give.
var fieldOrder = []string{
	"id", "object", "deleted", "email", "first_name", "last_name", "company", "title", "phone", "website",
	"source", "status", "tags", "metadata", "marketing_consent", "consent_at", "hidden", "created", "updated",
}

// orderedJSON encodes v as a JSON object with its keys in fieldOrder (unknown
// keys last, sorted), without escaping <, > and &.
func orderedJSON(v any) ([]byte, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw.Bytes(), &fields); err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range fieldOrder {
		if _, ok := fields[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range fields {
		if !slices.Contains(fieldOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, k := range append(keys, rest...) {
		if i > 0 {
			out.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		out.Write(name)
		out.WriteByte(':')
		out.Write(fields[k])
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func writeJSONIndented(w io.Writer, v any) error {
	b, err := orderedJSON(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := orderedJSON(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// mapFlag is a repeatable key=value flag.
type mapFlag map[string]string

func (m *mapFlag) String() string {
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (m *mapFlag) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	if *m == nil {
		*m = mapFlag{}
	}
	(*m)[key] = value
	return nil
}

var _ flag.Value = (*mapFlag)(nil)
