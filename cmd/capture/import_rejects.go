package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
)

// rejectColumns are the columns (CSV) or keys (JSON Lines) the rejects file
// adds to a rejected row; an import ignores them, so that the rejects file,
// fixed, can be imported as it is. error_source holds a JSON line that is not
// an object.
var rejectColumns = []string{"error_line", "error_code", "error_param", "error_message", "error_source"}

// rejectsWriter writes the rejected rows of an import to its rejects file.
type rejectsWriter interface {
	write(r importRow, why *rejection)
	// close flushes the file and reports the first write that failed.
	close() error
}

// csvRejects writes rejected CSV rows: the input's columns, then error_line,
// error_code, error_param and error_message.
type csvRejects struct {
	f    *os.File
	w    *csv.Writer
	keep []int // the input's columns that are written, by index
}

func newCSVRejects(f *os.File, header []string) *csvRejects {
	r := &csvRejects{f: f, w: csv.NewWriter(f)}
	var cols []string
	for i, h := range header {
		if !slices.Contains(rejectColumns, h) { // an earlier run's, written fresh
			r.keep = append(r.keep, i)
			cols = append(cols, h)
		}
	}
	r.writeRecord(append(cols, rejectColumns[:4]...))
	return r
}

func (r *csvRejects) write(row importRow, why *rejection) {
	rec := make([]string, 0, len(r.keep)+4)
	for _, i := range r.keep {
		v := ""
		if i < len(row.rec) {
			v = row.rec[i]
		}
		rec = append(rec, v)
	}
	r.writeRecord(append(rec, strconv.Itoa(row.line), why.code, why.param, why.message))
}

// writeRecord writes one record with every cell escaped for spreadsheets;
// csv.Writer keeps the first error, which close reports.
func (r *csvRejects) writeRecord(rec []string) {
	for i, v := range rec {
		rec[i] = escapeFormula(v)
	}
	_ = r.w.Write(rec)
}

func (r *csvRejects) close() error {
	r.w.Flush()
	return errors.Join(r.w.Error(), r.f.Close())
}

// formulaStarts are the first characters that make a spreadsheet read a cell
// as a formula (OWASP, CSV injection).
const formulaStarts = "=+-@\t\r"

// escapeFormula prefixes a cell a spreadsheet would run as a formula with ',
// so that it shows as text; and a cell that starts with ' already, so that
// unescapeFormula gives every cell back as it was.
func escapeFormula(v string) string {
	if v != "" && (v[0] == '\'' || strings.ContainsRune(formulaStarts, rune(v[0]))) {
		return "'" + v
	}
	return v
}

// unescapeFormula undoes escapeFormula, for the cells of a rejects file
// imported again (one with an error_code column): other files' cells are
// taken as they are.
func unescapeFormula(v string) string {
	if len(v) > 1 && v[0] == '\'' && (v[1] == '\'' || strings.ContainsRune(formulaStarts, rune(v[1]))) {
		return v[1:]
	}
	return v
}

// jsonRejects writes rejected JSON lines: each line's object with the
// error_line, error_code, error_param and error_message keys added.
type jsonRejects struct {
	f   *os.File
	w   *bufio.Writer
	err error
}

func newJSONRejects(f *os.File) *jsonRejects {
	return &jsonRejects{f: f, w: bufio.NewWriter(f)}
}

func (r *jsonRejects) write(row importRow, why *rejection) {
	// Raw values keep the line's own as they were.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(row.raw, &obj); err != nil || obj == nil {
		// Not an object (or too large to keep): the line as text, if any.
		obj = map[string]json.RawMessage{}
		if len(row.raw) > 0 {
			obj["error_source"] = jsonValue(string(row.raw))
		}
	}
	obj["error_line"] = jsonValue(row.line)
	obj["error_code"] = jsonValue(why.code)
	obj["error_param"] = jsonValue(why.param)
	obj["error_message"] = jsonValue(why.message)
	data, err := json.Marshal(obj)
	if err == nil {
		_, err = r.w.Write(append(data, '\n'))
	}
	if r.err == nil {
		r.err = err
	}
}

// jsonValue is v as JSON; v is a string or a number.
func jsonValue(v any) json.RawMessage {
	data, _ := json.Marshal(v)
	return data
}

func (r *jsonRejects) close() error {
	return errors.Join(r.err, r.w.Flush(), r.f.Close())
}
