package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal, where people rather than
// programs read the output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// output is where a command prints, and how: the part of every command's
// options that tests set to buffers.
type output struct {
	JSON        bool // --json: JSON even on a terminal
	Out, ErrOut io.Writer
	Terminal    bool // Out is a terminal, where people read the output
}

// attach points the output at the command's streams, once its flags are parsed.
func (o *output) attach(cmd *cobra.Command) {
	o.Out, o.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
	o.Terminal = isTerminal(o.Out)
}

// jsonFlag adds --json to a command that prints a table on a terminal.
func (o *output) jsonFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON even on a terminal (JSON is the default when output is piped)")
}

// wantJSON tells whether to print JSON: asked for, or not on a terminal.
func (o *output) wantJSON() bool { return o.JSON || !o.Terminal }

// writeTable prints rows under an upper-case header, in aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, h := range header {
		header[i] = strings.ToUpper(h)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		for i, cell := range r {
			r[i] = strings.Join(strings.Fields(cell), " ") // one line, no tabs
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// writeJSONLines prints one compact JSON object per line, without escaping <, > and &.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

// humanTime is how tables show a time: local, to the second.
func humanTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
