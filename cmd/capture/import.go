package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/server"
)

const importLong = `Imports prospects from a file, in batches (POST /v1/prospects/batch) of up to
500 rows and under the server's 1 MiB body limit.

Formats, chosen by the file's extension (.csv; .jsonl or .ndjson) or --format:
  csv    a header row names the fields: email, first_name, last_name, company,
         title, phone, website, source, status, tags (separated by ;),
         marketing_consent (true/false), consent_text, hidden, and metadata.KEY
         for each metadata key. An empty cell leaves the field out.
  jsonl  one JSON object per line with the fields of a create
         (capture prospects create --help); null leaves a field out.

--on-conflict says what happens to a row whose email a live prospect has:
error (the default) rejects the row, skip leaves the prospect as it is, update
sets the row's fields on it.

Safe to run again after an interruption: each batch's Idempotency-Key derives
from the file's content and the batch's position, so the batches that went
through are answered again without being applied twice (within 24 hours); the
summary counts their rows as replayed.

Rows that were rejected, by the server or because they could not be read (a
row too large for a request included), are written to FILE.rejects.csv (or
FILE.rejects.jsonl) as the file has them, with error_line, error_code,
error_param and error_message added. An import ignores those columns, so the
rejects file, fixed, can be imported as it is. A CSV cell starting with =, +,
-, @, tab or CR is written with a ' before it, so that a spreadsheet does not
run it as a formula; an import reads it back without the '.
Progress goes to stderr: a bar on a terminal, a line every few seconds
otherwise. The summary goes to stdout.

Exit status: 0 when every row was accepted, 1 when some were rejected (or the
import was refused), 2, 3 and 130 as for the other prospects commands.`

// importBatch is how many rows one request sends at most: the most the API takes.
const importBatch = client.MaxBatch

// importBatchBytes is how large the rows of one request may be together:
// the server's body limit, less room for the rest of the body.
const importBatchBytes = server.MaxBodyBytes - 1<<10

// importRow is one row of the file: the prospect it reads as, or why it
// cannot be sent, and the row as the file has it, for the rejects file.
type importRow struct {
	line   int
	params client.ProspectCreateParams
	reject *rejection
	rec    []string // a CSV row's cells
	raw    []byte   // a JSON line
}

// rejection is why a row was not accepted.
type rejection struct {
	code, param, message string
}

// prospectsImportOptions are the file capture prospects import reads and what
// it does with a row whose email a live prospect has.
type prospectsImportOptions struct {
	*apiOptions
	Path       string
	Format     string // csv or jsonl
	OnConflict client.OnConflict
}

func newProspectsImportCmd(api *apiOptions, runF runner[prospectsImportOptions]) *cobra.Command {
	opts := &prospectsImportOptions{apiOptions: api}
	var format, onConflict string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import prospects from a CSV or JSON Lines file, in batches",
		Long:  importLong,
		Example: `  capture prospects import trade-show.csv
  capture prospects import crm-export.jsonl --on-conflict update
  capture prospects import leads.txt --format csv --on-conflict skip`,
		Args: positional(1, "FILE"),
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	cmd.Flags().StringVar(&onConflict, "on-conflict", "error", "what to do with a row whose email a live prospect has: error, skip or update")
	noEnv(cmd.Flags(), "format", "on-conflict")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"csv", "jsonl"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("on-conflict", cobra.FixedCompletions([]string{"error", "skip", "update"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		path := args[0]
		if format == "" {
			switch strings.ToLower(filepath.Ext(path)) {
			case ".csv":
				format = "csv"
			case ".jsonl", ".ndjson":
				format = "jsonl"
			default:
				return usageError("cannot tell the format of %s from its extension: pass --format csv or --format jsonl", path)
			}
		}
		if format != "csv" && format != "jsonl" {
			return usageError("--format must be csv or jsonl, not %q", format)
		}
		mode := client.OnConflict(onConflict)
		if !slices.Contains([]client.OnConflict{client.OnConflictError, client.OnConflictSkip, client.OnConflictUpdate}, mode) {
			return usageError("--on-conflict must be error, skip or update, not %q", onConflict)
		}
		opts.Path, opts.Format, opts.OnConflict = path, format, mode
		opts.attach(cmd)
		return runF.or(prospectsImportRun)(cmd.Context(), opts)
	}
	return cmd
}

// prospectsImportRun imports the file and prints the summary.
func prospectsImportRun(ctx context.Context, opts *prospectsImportOptions) error {
	c, err := opts.client()
	if err != nil {
		return err
	}
	imp := &importer{o: opts.apiOptions, c: c, path: opts.Path, format: opts.Format, mode: opts.OnConflict}
	return imp.run(ctx)
}

// importer is one run of capture prospects import.
type importer struct {
	o      *apiOptions
	c      *client.Client
	path   string
	format string
	mode   client.OnConflict

	header []string // a CSV file's columns

	total, done                         int
	created, updated, skipped, rejected int
	replayed                            int // rows accepted by an earlier run, answered again
	conflicts                           int // rows rejected as prospect_exists
	rejects                             rejectsWriter
}

func (imp *importer) run(ctx context.Context) error {
	stderr := imp.o.ErrOut
	// A first pass hashes the content, for the batches' Idempotency-Keys, and
	// counts the rows, for the progress; it also finds a bad header before any
	// request is sent.
	sum, total, err := imp.scan(nil)
	if err != nil {
		return err
	}
	imp.total = total
	keyPrefix := fmt.Sprintf("import-%s-%s-", hex.EncodeToString(sum[:16]), imp.mode)

	rejectsPath := imp.path + ".rejects." + imp.format
	f, err := os.Create(rejectsPath)
	if err != nil {
		return failure("%v", err)
	}
	if imp.format == "csv" {
		imp.rejects = newCSVRejects(f, imp.header)
	} else {
		imp.rejects = newJSONRejects(f)
	}

	prog := imp.progress(stderr)
	// pending holds the rows up to the next batch's last, the ones that cannot
	// be sent included, so that the rejects file follows the file's order.
	// A batch ends at importBatch rows or importBatchBytes, whichever
	// comes first.
	var pending []importRow
	sendable, size, batchNo := 0, 0, 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := imp.send(ctx, pending, keyPrefix+strconv.Itoa(batchNo))
		batchNo++
		pending, sendable, size = pending[:0], 0, 0
		prog()
		return err
	}
	_, _, err = imp.scan(func(r importRow) error {
		n := 0
		if r.reject == nil {
			n = rowSize(&r)
		}
		if r.reject == nil && (sendable == importBatch || size+n > importBatchBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		pending = append(pending, r)
		if r.reject == nil {
			sendable++
			size += n
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	closeErr := imp.rejects.close()
	if imp.rejected == 0 && err == nil {
		os.Remove(rejectsPath)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "interrupted after %d of %d rows; run the same command again to go on where it stopped\n", imp.done, imp.total)
		}
		return err
	}
	if closeErr != nil {
		return failure("writing %s: %v", rejectsPath, closeErr)
	}
	out := imp.o.Out
	fmt.Fprintf(out, "%s: %d rows: %d created, %d updated, %d skipped, %d rejected",
		imp.path, imp.total, imp.created, imp.updated, imp.skipped, imp.rejected)
	if imp.replayed > 0 {
		fmt.Fprintf(out, ", %d replayed\n", imp.replayed)
		fmt.Fprintln(out, "replayed rows were imported by an earlier run of this file; this run answered them again without applying them twice")
	} else {
		fmt.Fprintln(out)
	}
	if imp.rejected > 0 {
		fmt.Fprintf(out, "rejected rows are in %s; fix them there and import that file as it is\n", rejectsPath)
	}
	if imp.mode == client.OnConflictError && 2*imp.conflicts > imp.total {
		fmt.Fprintf(out, "%d rows are prospects already (prospect_exists): run again with --on-conflict skip to leave them as they are, or --on-conflict update to update them\n", imp.conflicts)
	}
	if imp.rejected > 0 {
		return &exitError{code: exitRequest}
	}
	return nil
}

// rowSize is the size of the row's prospect in a batch body; a row too
// large for any batch is rejected.
func rowSize(r *importRow) int {
	data, err := json.Marshal(r.params)
	if err != nil {
		r.reject = &rejection{"row_malformed", "", fmt.Sprintf("The row cannot be sent: %v.", err)}
		return 0
	}
	n := len(data) + 1 // and a comma
	if n > importBatchBytes {
		r.reject = &rejection{"row_too_large", "", fmt.Sprintf("The row is %d bytes as JSON; a request takes at most %d.", n, server.MaxBodyBytes)}
	}
	return n
}

// send sends the rows that can be sent as one batch and records each row's
// answer, in the file's order.
func (imp *importer) send(ctx context.Context, rows []importRow, key string) error {
	var items []client.ProspectCreateParams
	for _, r := range rows {
		if r.reject == nil {
			items = append(items, r.params)
		}
	}
	var results []client.ProspectBatchResult
	var resp client.Response
	if len(items) > 0 {
		b, err := imp.c.Prospects.CreateBatch(ctx, items, client.WithIdempotencyKey(key), client.WithOnConflict(imp.mode), client.WithResponse(&resp))
		if err != nil {
			return imp.o.fail(ctx, err) // refused whole; the batches before it stay imported
		}
		if len(b.Data) != len(items) {
			return failure("the server answered %d results for a batch of %d", len(b.Data), len(items))
		}
		results = b.Data
	}
	i := 0
	for _, r := range rows {
		if r.reject != nil {
			imp.reject(r, r.reject)
			continue
		}
		res := results[i]
		if e := res.Error; e != nil {
			// The row's column, not the request's path: prospects[3].email is email.
			at := fmt.Sprintf("prospects[%d].", i)
			param := strings.TrimPrefix(e.Param, at)
			if param == strings.TrimSuffix(at, ".") {
				param = ""
			}
			if e.Code == client.ErrorCodeProspectExists {
				imp.conflicts++
			}
			imp.reject(r, &rejection{string(e.Code), param, strings.ReplaceAll(e.Message, at, "")})
			i++
			continue
		}
		i++
		imp.done++
		switch {
		case resp.Replayed:
			imp.replayed++
		case res.Status == 201:
			imp.created++
		case imp.mode == client.OnConflictSkip:
			imp.skipped++
		default:
			imp.updated++
		}
	}
	return nil
}

func (imp *importer) reject(r importRow, why *rejection) {
	imp.done++
	imp.rejected++
	imp.rejects.write(r, why)
}

// progress starts showing the import's progress on w and returns the function
// that updates it after each batch.
func (imp *importer) progress(w io.Writer) func() {
	if isTerminal(w) {
		bar := progressbar.NewOptions(imp.total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			progressbar.OptionFullWidth(),
		)
		return func() { _ = bar.Set(imp.done) }
	}
	start, last := time.Now(), time.Now()
	return func() {
		if time.Since(last) < 2*time.Second && imp.done < imp.total {
			return
		}
		last = time.Now()
		rate := float64(imp.done) / max(time.Since(start).Seconds(), 0.001)
		fmt.Fprintf(w, "%d of %d rows done (%d%%), %.0f rows/s, %d rejected\n",
			imp.done, imp.total, 100*imp.done/max(imp.total, 1), rate, imp.rejected)
	}
}
