package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The search query language, Stripe's:
//
//	query   = clause { " " ( "AND" | "OR" ) " " clause }   (all AND or all OR)
//	clause  = [ "-" ] field op value
//	field   = name | "metadata[" string "]"
//	op      = ":" | "~" | ">" | "<" | ">=" | "<="
//	value   = string | integer
//	string  = '"' { any character but '"' and '\', or '\"', or '\\' } '"'
//	integer = digit { digit }
//
// Spaces (one or more) separate clauses from the keywords, which are matched
// without regard to case; none may stand inside a clause. ParseSearch is a
// recursive descent over this grammar, one character of lookahead; a query
// that does not parse is a *SearchError naming the position (in characters,
// from 0) and what was expected there.

// SearchOp is the comparison of a search clause.
type SearchOp string

// The comparisons of a search clause.
const (
	SearchExact     SearchOp = ":"  // equal (email: whatever the case); created: the second
	SearchSubstring SearchOp = "~"  // contains, whatever the case
	SearchGT        SearchOp = ">"  // created after
	SearchLT        SearchOp = "<"  // created before
	SearchGTE       SearchOp = ">=" // created at or after
	SearchLTE       SearchOp = "<=" // created at or before
)

// The limits of a query: clauses in one query, and characters in a substring.
const (
	SearchMaxClauses   = 10
	SearchMinSubstring = 3
)

// SearchMaxCreated is the latest time a created clause may name, in Unix
// seconds: the last second of the year 9999, the latest both engines store.
const SearchMaxCreated = 253402300799

// searchTextFields are the fields a substring clause (~) may search.
var searchTextFields = []string{"email", "first_name", "last_name", "company", "title", "website"}

// searchExactFields are the fields an exact clause (:) may compare, beside
// the metadata keys.
var searchExactFields = []string{"email", "first_name", "last_name", "company", "title", "phone", "website",
	"source", "status", "tag", "created"}

// SearchClause is one condition of a search query.
type SearchClause struct {
	Not    bool     // the clause is negated (-)
	Field  string   // one of the exact fields, or "metadata"
	Key    string   // the metadata key, for Field "metadata"
	Op     SearchOp // the comparison
	Text   string   // the value, for every field but created
	Number int64    // the value, for created (Unix seconds)
}

// SearchQuery is a parsed query: its clauses, joined all by AND or all by OR.
type SearchQuery struct {
	Clauses []SearchClause
	Or      bool
}

// SearchParams selects one page of the account's live prospects that match a query, newest first.
type SearchParams struct {
	Query         SearchQuery
	Limit         int
	After         string // older than this prospect id: the page's cursor
	IncludeHidden bool
}

// SearchStore finds an account's live prospects by a query, read in the same
// state as the writes that answered before it: an engine keeps its search
// indexes in the prospect's own transaction.
type SearchStore interface {
	// SearchProspects returns one page of the live prospects that match.
	SearchProspects(ctx context.Context, accountID string, params SearchParams) (*Page, error)
}

// SearchError is a query that does not parse or asks what search cannot do.
type SearchError struct {
	Pos int    // where, in characters from 0
	Msg string // what was wrong there, a sentence without its position
}

func (e *SearchError) Error() string {
	return fmt.Sprintf("%s at position %d.", e.Msg, e.Pos)
}

// ParseSearch parses a search query.
func ParseSearch(query string) (SearchQuery, error) {
	p := &searchParser{s: query}
	if !utf8.ValidString(query) {
		for p.i < len(query) {
			r, n := utf8.DecodeRuneInString(query[p.i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			p.i += n
		}
		return SearchQuery{}, p.fail(p.i, "expected UTF-8 text")
	}
	return p.query()
}

// searchParser reads a query once, left to right; i is a byte offset into s.
type searchParser struct {
	s string
	i int
}

// fail is a SearchError at byte offset at, counted in characters.
func (p *searchParser) fail(at int, format string, args ...any) error {
	return &SearchError{Pos: utf8.RuneCountInString(p.s[:at]), Msg: fmt.Sprintf(format, args...)}
}

func (p *searchParser) query() (SearchQuery, error) {
	var q SearchQuery
	p.spaces()
	joiner := ""
	for {
		if len(q.Clauses) == SearchMaxClauses {
			return q, p.fail(p.i, "a query has at most %d clauses; found more", SearchMaxClauses)
		}
		c, err := p.clause()
		if err != nil {
			return q, err
		}
		q.Clauses = append(q.Clauses, c)
		gap := p.spaces()
		if p.i == len(p.s) {
			return q, nil
		}
		if !gap {
			return q, p.fail(p.i, "expected a space, then AND or OR, after a clause")
		}
		at := p.i
		word := p.word()
		kw := strings.ToUpper(word)
		switch {
		case kw != "AND" && kw != "OR":
			return q, p.fail(at, "expected AND or OR between clauses")
		case joiner != "" && kw != joiner:
			return q, p.fail(at, "a query joins its clauses all with AND or all with OR; found %s after %s", kw, joiner)
		}
		joiner, q.Or = kw, kw == "OR"
		if !p.spaces() || p.i == len(p.s) {
			return q, p.fail(p.i, "expected a clause after %s", kw)
		}
	}
}

// spaces skips spaces and tabs, and says whether there were any.
func (p *searchParser) spaces() bool {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
	return p.i > start
}

// word reads a field name or keyword: letters, digits and underscores.
func (p *searchParser) word() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *searchParser) clause() (SearchClause, error) {
	var c SearchClause
	if p.i < len(p.s) && p.s[p.i] == '-' {
		c.Not = true
		p.i++
	}
	at := p.i
	c.Field = p.word()
	if c.Field == "" {
		return c, p.fail(at, "expected a field name, such as email or company")
	}
	if c.Field == "metadata" {
		if p.i >= len(p.s) || p.s[p.i] != '[' {
			return c, p.fail(p.i, `expected [ after "metadata", as in metadata["plan"]:"pro"`)
		}
		p.i++
		keyAt := p.i
		key, err := p.quoted(`a metadata key in quotes after "metadata["`)
		if err != nil {
			return c, err
		}
		if key == "" {
			return c, p.fail(keyAt, "expected a metadata key of at least one character")
		}
		if p.i >= len(p.s) || p.s[p.i] != ']' {
			return c, p.fail(p.i, "expected ] after the metadata key")
		}
		p.i++
		c.Key = key
	} else if !contains(searchExactFields, c.Field) {
		return c, p.fail(at, "unknown field %q: search knows %s and metadata[\"key\"]", c.Field, strings.Join(searchExactFields, ", "))
	}
	opAt := p.i
	c.Op = p.op()
	if c.Op == "" {
		return c, p.fail(opAt, `expected ":", "~", ">", "<", ">=" or "<=" after %q`, p.s[at:opAt])
	}
	return c, p.value(&c, p.s[at:p.i])
}

func (p *searchParser) op() SearchOp {
	if p.i >= len(p.s) {
		return ""
	}
	switch c := p.s[p.i]; c {
	case ':', '~':
		p.i++
		return SearchOp(c)
	case '>', '<':
		p.i++
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			return SearchOp([]byte{c, '='})
		}
		return SearchOp(c)
	}
	return ""
}

// value reads the clause's value and checks that its field and comparison go
// together; before is the clause's text so far, for the messages.
func (p *searchParser) value(c *SearchClause, before string) error {
	at := p.i
	if c.Field == "created" {
		if c.Op == SearchSubstring {
			return p.fail(at-1, `created takes ":", ">", "<", ">=" or "<=", not "~"`)
		}
		quoted := p.i < len(p.s) && p.s[p.i] == '"'
		if quoted {
			p.i++
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil && p.i == start {
			return p.fail(at, "expected a Unix time in seconds after %q", before)
		}
		if err != nil || n > SearchMaxCreated {
			return p.fail(start, "a time is at most %d (the last second of the year 9999)", SearchMaxCreated)
		}
		if quoted {
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return p.fail(p.i, `expected " after the time`)
			}
			p.i++
		}
		c.Number = n
		return nil
	}
	switch c.Op {
	case SearchExact:
	case SearchSubstring:
		if c.Field == "metadata" || !contains(searchTextFields, c.Field) {
			return p.fail(at-1, "%s cannot be searched by substring (~): only %s can", before[:len(before)-1], strings.Join(searchTextFields, ", "))
		}
	default:
		return p.fail(at-len(c.Op), "only created compares with %q; %s takes \":\"", c.Op, before[:len(before)-len(c.Op)])
	}
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return p.fail(at, "expected a value after %q", before)
	}
	v, err := p.quoted("")
	if err != nil {
		return err
	}
	if c.Op == SearchSubstring && utf8.RuneCountInString(v) < SearchMinSubstring {
		return p.fail(at, "a substring (~) needs at least %d characters; %q has %d", SearchMinSubstring, v, utf8.RuneCountInString(v))
	}
	if strings.IndexByte(v, 0) >= 0 {
		return p.fail(at, "a value must not contain U+0000 (NUL)")
	}
	c.Text = v
	return nil
}

// quoted reads a string in double quotes, with \" and \\ its escapes;
// expected says what a missing opening quote should have been.
func (p *searchParser) quoted(expected string) (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.fail(p.i, "expected %s", expected)
	}
	open := p.i
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		switch ch := p.s[p.i]; ch {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 < len(p.s) && (p.s[p.i+1] == '"' || p.s[p.i+1] == '\\') {
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			return "", p.fail(p.i, `expected \" or \\ after a backslash`)
		default:
			b.WriteByte(ch)
			p.i++
		}
	}
	return "", p.fail(open, "expected a closing \" for the string opened")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// String writes the query back in the grammar ParseSearch reads.
func (q SearchQuery) String() string {
	var b strings.Builder
	for i, c := range q.Clauses {
		if i > 0 {
			b.WriteString(map[bool]string{false: " AND ", true: " OR "}[q.Or])
		}
		if c.Not {
			b.WriteByte('-')
		}
		b.WriteString(c.Field)
		if c.Field == "metadata" {
			b.WriteString("[" + quote(c.Key) + "]")
		}
		b.WriteString(string(c.Op))
		if c.Field == "created" {
			b.WriteString(strconv.FormatInt(c.Number, 10))
		} else {
			b.WriteString(quote(c.Text))
		}
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
