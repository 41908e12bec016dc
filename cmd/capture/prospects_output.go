package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/captureapi/capture/client"
)

// fail prints err on stderr — the message, then one "name: value" line per
// field a script or a support request needs — and ends the command with the
// documented exit status.
func (o *apiOptions) fail(ctx context.Context, err error) error {
	stderr := o.ErrOut
	var e *client.Error
	if !errors.As(err, &e) {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return &exitError{code: exitRequest}
	}
	fmt.Fprintf(stderr, "error: %s\n", e.Message)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(stderr, "%s: %s\n", name, value)
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
	return &exitError{code: exitStatus(ctx, e)}
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
	"source", "status", "tags", "metadata", "marketing_consent", "consent_at", "hidden", "created", "updated", "attribution",
}

// prospectFields are the fields --fields accepts.
var prospectFields = slices.DeleteFunc(slices.Clone(fieldOrder), func(f string) bool { return f == "deleted" })

// timeFields hold Unix timestamps, which tables show as dates.
var timeFields = []string{"created", "updated", "consent_at"}

// field is one member of a JSON object, in the order it is printed.
type field struct {
	name  string
	value json.RawMessage
}

// objectFields encodes v and returns its members in fieldOrder (unknown ones
// last, sorted), without escaping <, > and &.
func objectFields(v any) ([]field, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw.Bytes(), &members); err != nil {
		return nil, err
	}
	var out []field
	for _, k := range fieldOrder {
		if m, ok := members[k]; ok {
			out = append(out, field{k, m})
		}
	}
	var rest []string
	for k := range members {
		if !slices.Contains(fieldOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, field{k, members[k]})
	}
	return out, nil
}

// selectFields keeps the named members, in the order named; no names keeps all.
func selectFields(obj []field, names []string) []field {
	if len(names) == 0 {
		return obj
	}
	var out []field
	for _, n := range names {
		if i := slices.IndexFunc(obj, func(f field) bool { return f.name == n }); i >= 0 {
			out = append(out, obj[i])
		} else {
			out = append(out, field{n, json.RawMessage("null")})
		}
	}
	return out
}

// encodeObject writes the members as one compact JSON object.
func encodeObject(obj []field) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	for i, f := range obj {
		if i > 0 {
			out.WriteByte(',')
		}
		name, _ := json.Marshal(f.name)
		out.Write(name)
		out.WriteByte(':')
		out.Write(f.value)
	}
	out.WriteByte('}')
	return out.Bytes()
}

func writeIndented(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// writeKeyValues prints one object for people: a field per line, aligned.
func writeKeyValues(w io.Writer, obj []field) error {
	rows := make([][]string, len(obj))
	for i, f := range obj {
		rows[i] = []string{f.name, cell(f)}
	}
	return writeTable(w, []string{"field", "value"}, rows)
}

// cells is one table row: the members' values for people.
func cells(obj []field) []string {
	out := make([]string, len(obj))
	for i, f := range obj {
		out[i] = cell(f)
	}
	return out
}

// cell shows a member's value for people: text without quotes, dates for
// timestamps, lists and metadata joined with commas, nothing for null.
func cell(f field) string {
	var v any
	if err := json.Unmarshal(f.value, &v); err != nil {
		return string(f.value)
	}
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		if slices.Contains(timeFields, f.name) {
			return humanTime(time.Unix(int64(v), 0))
		}
		return fmt.Sprint(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		var parts []string
		for k, x := range v {
			parts = append(parts, k+"="+fmt.Sprint(x))
		}
		slices.Sort(parts)
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
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

func (m *mapFlag) Type() string { return "key=value" }

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
