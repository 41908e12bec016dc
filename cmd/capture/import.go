package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
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
)

const importLong = `Imports prospects from a file, in batches of 500 (POST /v1/prospects/batch).

Formats, chosen by the file's extension (.csv; .jsonl or .ndjson) or --format:
  csv    a header row names the fields: email, first_name, last_name, company,
         title, phone, website, source, status, tags (separated by ;),
         marketing_consent (true/false), hidden, and metadata.KEY for each
         metadata key. An empty cell leaves the field out.
  jsonl  one JSON object per line with the fields of a create
         (capture prospects create --help); null leaves a field out.

--on-conflict says what happens to a row whose email a live prospect has:
error (the default) rejects the row, skip leaves the prospect as it is, update
sets the row's fields on it.

Safe to run again after an interruption: each batch's Idempotency-Key derives
from the file's content and the batch's position, so the batches that went
through are answered again without being applied twice (within 24 hours).

Rows that were rejected, by the server or because they could not be read, are
written with their line number, code, param and message to FILE.rejects.csv.
Progress goes to stderr: a bar on a terminal, a line every few seconds
otherwise. The summary goes to stdout.

Exit status: 0 when every row was accepted, 1 when some were rejected (or the
import was refused), 2, 3 and 130 as for the other prospects commands.`

// importBatch is how many rows one request sends: the most the API takes.
const importBatch = client.MaxBatch

// importRow is one row of the file: the prospect it reads as, or why it
// cannot be sent.
type importRow struct {
	line   int
	params client.ProspectCreateParams
	reject *rejection
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
		if !mode.Valid() {
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

	total, done                         int
	created, updated, skipped, rejected int
	rejects                             *csv.Writer
	rejectsFile                         *os.File
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

	rejectsPath := imp.path + ".rejects.csv"
	if imp.rejectsFile, err = os.Create(rejectsPath); err != nil {
		return failure("%v", err)
	}
	imp.rejects = csv.NewWriter(imp.rejectsFile)
	_ = imp.rejects.Write([]string{"line", "email", "status", "code", "param", "message"})

	prog := imp.progress(stderr)
	// pending holds the rows up to the next batch's last, the ones that cannot
	// be sent included, so that the rejects file follows the file's order.
	var pending []importRow
	sendable, batchNo := 0, 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := imp.send(ctx, pending, keyPrefix+strconv.Itoa(batchNo))
		batchNo++
		pending, sendable = pending[:0], 0
		prog()
		return err
	}
	_, _, err = imp.scan(func(r importRow) error {
		pending = append(pending, r)
		if r.reject == nil {
			sendable++
		}
		if sendable == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	imp.rejects.Flush()
	closeErr := errors.Join(imp.rejects.Error(), imp.rejectsFile.Close())
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
	fmt.Fprintf(out, "%s: %d rows: %d created, %d updated, %d skipped, %d rejected\n",
		imp.path, imp.total, imp.created, imp.updated, imp.skipped, imp.rejected)
	if imp.rejected > 0 {
		fmt.Fprintf(out, "rejected rows are in %s\n", rejectsPath)
		return &exitError{code: exitRequest}
	}
	return nil
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
	if len(items) > 0 {
		b, err := imp.c.Prospects.CreateBatch(ctx, items, client.WithIdempotencyKey(key), client.WithOnConflict(imp.mode))
		if err != nil {
			return imp.failBatch(ctx, err)
		}
		if len(b.Data) != len(items) {
			return failure("the server answered %d results for a batch of %d", len(b.Data), len(items))
		}
		results = b.Data
	}
	i := 0
	for _, r := range rows {
		if r.reject != nil {
			imp.reject(r, 0, r.reject)
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
			imp.reject(r, res.Status, &rejection{string(e.Code), param, strings.ReplaceAll(e.Message, at, "")})
			i++
			continue
		}
		i++
		imp.done++
		switch {
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

// failBatch reports a batch refused whole; the rows sent so far stay imported.
func (imp *importer) failBatch(ctx context.Context, err error) error {
	imp.rejects.Flush()
	return imp.o.fail(ctx, err)
}

func (imp *importer) reject(r importRow, status int, why *rejection) {
	imp.done++
	imp.rejected++
	st := ""
	if status != 0 {
		st = strconv.Itoa(status)
	}
	_ = imp.rejects.Write([]string{strconv.Itoa(r.line), r.params.Email, st, why.code, why.param, why.message})
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

// scan reads the file from the start, calling each (when not nil) with every
// row in order, and returns the content's SHA-256 and the number of rows.
func (imp *importer) scan(each func(importRow) error) (sum [sha256.Size]byte, rows int, err error) {
	f, err := os.Open(imp.path)
	if err != nil {
		return sum, 0, failure("%v", err)
	}
	defer f.Close()
	h := sha256.New()
	in := io.TeeReader(bufio.NewReaderSize(f, 1<<16), h)
	emit := func(r importRow) error {
		rows++
		if each != nil {
			return each(r)
		}
		return nil
	}
	if imp.format == "csv" {
		err = scanCSV(in, emit)
	} else {
		err = scanJSONLines(in, emit)
	}
	if err != nil {
		return sum, rows, err
	}
	io.Copy(io.Discard, in) // the hash covers the whole file
	copy(sum[:], h.Sum(nil))
	return sum, rows, nil
}

// csvColumns are the columns a CSV header may name, besides metadata.KEY.
var csvColumns = append([]string{"email", "status", "tags", "marketing_consent", "hidden"}, textFields...)

// scanCSV reads CSV rows; the header names the fields.
func scanCSV(in io.Reader, emit func(importRow) error) error {
	r := csv.NewReader(in)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return failure("reading the CSV header: %v", err)
	}
	header = slices.Clone(header)
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if !slices.Contains(csvColumns, h) && (!strings.HasPrefix(h, "metadata.") || h == "metadata.") {
			return usageError("the CSV header names an unknown column %q; columns are %s and metadata.KEY", h, strings.Join(csvColumns, ", "))
		}
		if slices.Index(header[:i], h) >= 0 {
			return usageError("the CSV header names the column %q twice", h)
		}
	}
	if !slices.Contains(header, "email") {
		return usageError("the CSV header has no email column")
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		row := importRow{line: line}
		var parseErr *csv.ParseError
		switch {
		case errors.As(err, &parseErr):
			row.line = parseErr.StartLine
			row.reject = &rejection{"row_malformed", "", fmt.Sprintf("The row is not valid CSV: %v.", parseErr.Err)}
		case err != nil:
			return failure("reading the CSV file: %v", err)
		default:
			row.params, row.reject = csvProspect(header, rec)
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}

// csvProspect reads one CSV record as a prospect.
func csvProspect(header, rec []string) (client.ProspectCreateParams, *rejection) {
	var p client.ProspectCreateParams
	texts := createTexts(&p)
	for i, col := range header {
		v := rec[i]
		if v == "" {
			continue
		}
		if dst, ok := texts[col]; ok {
			*dst = v
			continue
		}
		switch col {
		case "email":
			p.Email = v
		case "status":
			p.Status = client.ProspectStatus(v)
		case "tags":
			for _, t := range strings.Split(v, ";") {
				if t = strings.TrimSpace(t); t != "" {
					p.Tags = append(p.Tags, t)
				}
			}
		case "marketing_consent", "hidden":
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil {
				return p, &rejection{"parameter_invalid", col, fmt.Sprintf("Invalid %s: must be true or false, not %q.", col, v)}
			}
			if col == "hidden" {
				p.Hidden = b
			} else {
				p.MarketingConsent = b
			}
		default: // metadata.KEY
			if p.Metadata == nil {
				p.Metadata = client.Metadata{}
			}
			p.Metadata[strings.TrimPrefix(col, "metadata.")] = v
		}
	}
	return p, nil
}

// scanJSONLines reads one JSON object per line; blank lines are skipped.
func scanJSONLines(in io.Reader, emit func(importRow) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		row := importRow{line: line}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		var tail json.RawMessage
		err := dec.Decode(&row.params)
		if err == nil && dec.Decode(&tail) != io.EOF {
			err = errors.New("more than one JSON value on the line")
		}
		if err != nil {
			row.reject = jsonRejection(err)
		}
		if err := emit(row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return failure("reading the file at line %d: %v", line+1, err)
	}
	return nil
}

// jsonRejection says why a JSON line is not a prospect, naming the field when
// it can.
func jsonRejection(err error) *rejection {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return &rejection{"parameter_invalid", typeErr.Field, fmt.Sprintf("Invalid %s: must be %s.", typeErr.Field, typeErr.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &rejection{"parameter_unknown", field, fmt.Sprintf("Received unknown parameter: %s.", field)}
	}
	return &rejection{"body_invalid_json", "", fmt.Sprintf("The line is not a JSON object: %v.", err)}
}
