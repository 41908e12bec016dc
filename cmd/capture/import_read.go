package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/server"
)

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
		imp.header, err = scanCSV(in, emit)
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
var csvColumns = append([]string{"email", "status", "tags", "marketing_consent", "consent_text", "hidden"}, textFields...)

// utf8BOM is the byte order mark spreadsheets put before a UTF-8 CSV file.
var utf8BOM = []byte("\ufeff")

// scanCSV reads CSV rows; the header, which it returns, names the fields.
func scanCSV(in io.Reader, emit func(importRow) error) ([]string, error) {
	br := bufio.NewReader(in)
	// Before the reader sees it: a BOM before a quoted header is a bare quote.
	if start, _ := br.Peek(len(utf8BOM)); bytes.Equal(start, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	r := csv.NewReader(br)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, failure("reading the CSV header: %v", err)
	}
	header = slices.Clone(header)
	rejects := slices.Contains(header, "error_code") // a rejects file, its cells escaped
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		known := slices.Contains(csvColumns, h) || slices.Contains(rejectColumns, h)
		if !known && (!strings.HasPrefix(h, "metadata.") || h == "metadata.") {
			return nil, usageError("the CSV header names an unknown column %q; columns are %s and metadata.KEY", h, strings.Join(csvColumns, ", "))
		}
		if slices.Index(header[:i], h) >= 0 {
			return nil, usageError("the CSV header names the column %q twice", h)
		}
	}
	if !slices.Contains(header, "email") {
		return nil, usageError("the CSV header has no email column")
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return header, nil
		}
		row := importRow{rec: slices.Clone(rec)}
		for i, v := range row.rec {
			if rejects {
				row.rec[i] = unescapeFormula(v)
			}
		}
		var parseErr *csv.ParseError
		switch {
		case errors.As(err, &parseErr) && errors.Is(err, csv.ErrFieldCount):
			row.line = parseErr.StartLine
			row.reject = &rejection{"row_malformed", "", fmt.Sprintf("The row has %d cells; the header names %d columns.", len(rec), len(header))}
		case errors.As(err, &parseErr) && parseErr.StartLine != parseErr.Line:
			// A quote opened and not closed on its line reads the lines after it
			// as one cell: no row count or rejects file would mean anything.
			return nil, failure("reading the CSV file: the quoted cell that opens on line %d is still open on line %d (%v); fix the quotes on line %d",
				parseErr.StartLine, parseErr.Line, parseErr.Err, parseErr.StartLine)
		case errors.As(err, &parseErr):
			row.line = parseErr.StartLine
			row.reject = &rejection{"row_malformed", "", fmt.Sprintf("The row is not valid CSV: %v.", parseErr.Err)}
		case err != nil:
			return nil, failure("reading the CSV file: %v", err)
		default:
			row.line, _ = r.FieldPos(0)
			row.params, row.reject = csvProspect(header, row.rec)
		}
		if err := emit(row); err != nil {
			return nil, err
		}
	}
}

// csvProspect reads one CSV record as a prospect.
func csvProspect(header, rec []string) (client.ProspectCreateParams, *rejection) {
	var p client.ProspectCreateParams
	texts := createTexts(&p)
	for i, col := range header {
		v := rec[i]
		if v == "" || slices.Contains(rejectColumns, col) {
			continue
		}
		if dst, ok := texts[col]; ok {
			*dst = v
			continue
		}
		switch col {
		case "email":
			p.Email = v
		case "consent_text": // for the consent ledger
			p.ConsentText = v
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
	br := bufio.NewReaderSize(in, 1<<16)
	for line := 1; ; line++ {
		text, tooLong, err := readLine(br, server.MaxBodyBytes)
		if err != nil && err != io.EOF {
			return failure("reading the file at line %d: %v", line, err)
		}
		row := importRow{line: line}
		text = bytes.TrimSpace(text)
		switch {
		case tooLong:
			row.reject = &rejection{"row_too_large", "", fmt.Sprintf("The line is longer than %d bytes, the most a request takes.", server.MaxBodyBytes)}
		case len(text) == 0:
			if err == io.EOF {
				return nil
			}
			continue
		default:
			row.raw = slices.Clone(text)
			row.params, row.reject = jsonProspect(text)
		}
		if err := emit(row); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}

// readLine reads up to the next newline or the end of the input; a line
// longer than limit is read through but not kept.
func readLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > limit {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err != bufio.ErrBufferFull {
			return line, tooLong, err
		}
	}
}

// jsonProspect reads one JSON line as a prospect; the keys a rejects file
// adds are left out.
func jsonProspect(text []byte) (p client.ProspectCreateParams, reject *rejection) {
	if bytes.Contains(text, []byte(`"error_`)) {
		text = withoutRejectKeys(text)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var tail json.RawMessage
	err := dec.Decode(&p)
	if err == nil && dec.Decode(&tail) != io.EOF {
		err = errors.New("more than one JSON value on the line")
	}
	if err != nil {
		return p, jsonRejection(err)
	}
	return p, nil
}

// withoutRejectKeys is the JSON object without the keys of rejectColumns.
func withoutRejectKeys(text []byte) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(text, &obj) != nil || obj == nil {
		return text
	}
	n := len(obj)
	for _, k := range rejectColumns {
		delete(obj, k)
	}
	if len(obj) == n {
		return text
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return text
	}
	return data
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
