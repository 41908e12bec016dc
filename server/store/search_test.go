package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/captureapi/capture/server/store"
)

func TestParseSearch(t *testing.T) {
	cases := []struct {
		query string
		want  store.SearchQuery
	}{
		{`email:"Ada@Example.com"`, store.SearchQuery{Clauses: []store.SearchClause{{Field: "email", Op: ":", Text: "Ada@Example.com"}}}},
		{`company~"acme" AND status:"new"`, store.SearchQuery{Clauses: []store.SearchClause{
			{Field: "company", Op: "~", Text: "acme"}, {Field: "status", Op: ":", Text: "new"}}}},
		{`  tag:"vip" or  -tag:"cold"  `, store.SearchQuery{Or: true, Clauses: []store.SearchClause{
			{Field: "tag", Op: ":", Text: "vip"}, {Not: true, Field: "tag", Op: ":", Text: "cold"}}}},
		{`created>=1764000000 and created<1765000000 AND created:"1764500000"`, store.SearchQuery{Clauses: []store.SearchClause{
			{Field: "created", Op: ">=", Number: 1764000000}, {Field: "created", Op: "<", Number: 1765000000},
			{Field: "created", Op: ":", Number: 1764500000}}}},
		{`metadata["plan \"x\""]:"pro\\1" AND -metadata["a"]:""`, store.SearchQuery{Clauses: []store.SearchClause{
			{Field: "metadata", Key: `plan "x"`, Op: ":", Text: `pro\1`}, {Not: true, Field: "metadata", Key: "a", Op: ":"}}}},
		{`title~"Zoë"`, store.SearchQuery{Clauses: []store.SearchClause{{Field: "title", Op: "~", Text: "Zoë"}}}},
	}
	for _, tc := range cases {
		got, err := store.ParseSearch(tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.query, got, tc.want)
		}
	}
}

func TestParseSearchErrors(t *testing.T) {
	cases := []struct{ query, want string }{
		{`status:`, `expected a value after "status:" at position 7.`},
		{`status:new`, `expected a value after "status:" at position 7.`},
		{`-colour:"red"`, `unknown field "colour": search knows email, first_name, last_name, company, title, phone, website, source, status, tag, created and metadata["key"] at position 1.`},
		{`company~"ac"`, `a substring (~) needs at least 3 characters; "ac" has 2 at position 8.`},
		{`phone~"555"`, `phone cannot be searched by substring (~): only email, first_name, last_name, company, title, website can at position 5.`},
		{`status>"new"`, `only created compares with ">"; status takes ":" at position 6.`},
		{`created~"1"`, `created takes ":", ">", "<", ">=" or "<=", not "~" at position 7.`},
		{`created>soon`, `expected a Unix time in seconds after "created>" at position 8.`},
		{`created>=253402300800`, `a time is at most 253402300799 (the last second of the year 9999) at position 9.`},
		{`email="a"`, `expected ":", "~", ">", "<", ">=" or "<=" after "email" at position 5.`},
		{`email:"a" AND`, `expected a clause after AND at position 13.`},
		{`email:"a" AND tag:"b" OR tag:"c"`, `a query joins its clauses all with AND or all with OR; found OR after AND at position 22.`},
		{`email:"a" tag:"b"`, `expected AND or OR between clauses at position 10.`},
		{`email:"a"tag:"b"`, `expected a space, then AND or OR, after a clause at position 9.`},
		{`email:"abc`, `expected a closing " for the string opened at position 6.`},
		{`email:"a\b"`, `expected \" or \\ after a backslash at position 8.`},
		{`metadata:"x"`, `expected [ after "metadata", as in metadata["plan"]:"pro" at position 8.`},
		{`metadata[plan]:"x"`, `expected a metadata key in quotes after "metadata[" at position 9.`},
		{`metadata[""]:"x"`, `expected a metadata key of at least one character at position 9.`},
		{`metadata["a":"x"`, `expected ] after the metadata key at position 12.`},
		{`metadata["a"]~"xyz"`, `metadata["a"] cannot be searched by substring (~): only email, first_name, last_name, company, title, website can at position 13.`},
		{`   `, `expected a field name, such as email or company at position 3.`},
		{`ü:"x"`, `expected a field name, such as email or company at position 0.`},
		{"tag:\"a\xffb\"", `expected UTF-8 text at position 6.`},
		{`tag:"a"` + strings.Repeat(` AND tag:"a"`, 10), `a query has at most 10 clauses; found more at position 120.`},
	}
	for _, tc := range cases {
		_, err := store.ParseSearch(tc.query)
		var se *store.SearchError
		if !errors.As(err, &se) {
			t.Errorf("%s: want a *SearchError, got %v", tc.query, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.query, err, tc.want)
		}
	}
}

// FuzzParseSearch holds the parser to its grammar on any input: it never
// panics, a query it refuses gets a position within the query, and a query it
// reads writes back (String) as one it reads the same.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{`email:"ada@example.com"`, `company~"acme" AND status:"new"`, `-tag:"vip" OR tag:"cold"`,
		`created>=1764000000`, `metadata["plan"]:"pro"`, `title~"Zoë \"x\" \\"`, `status:`, `a:"b" AND`, `metadata["k`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := store.ParseSearch(query)
		if err != nil {
			var se *store.SearchError
			if !errors.As(err, &se) {
				t.Fatalf("%q: want a *SearchError, got %T %v", query, err, err)
			}
			if se.Pos < 0 || se.Pos > utf8.RuneCountInString(query) {
				t.Fatalf("%q: position %d outside the query", query, se.Pos)
			}
			return
		}
		if len(q.Clauses) == 0 || len(q.Clauses) > store.SearchMaxClauses {
			t.Fatalf("%q: parsed into %d clauses", query, len(q.Clauses))
		}
		again, err := store.ParseSearch(q.String())
		if err != nil {
			t.Fatalf("%q written back as %q does not parse: %v", query, q.String(), err)
		}
		if !reflect.DeepEqual(q, again) {
			t.Fatalf("%q read back differently:\n%+v\n%+v", query, q, again)
		}
	})
}
