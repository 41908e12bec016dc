package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/captureapi/capture/server/store"
)

// searchScanMax is the most live prospects an account may hold for its
// substring clauses to be read by scanning its own rows (search_contains,
// search_fold.go) instead of from the trigram index: the index answers with
// every account's matches before the account's are picked out, so a small
// account's search through it would cost as much as a large account's
// matches (and tell how many there are). Scanning costs about 2 µs a row
// (make bench: 22 ms of CPU a search at 10,000 rows, against 0.4 ms through
// the index), so only small accounts scan: 1,000 rows cost about what a few
// thousand of the index's matches cost.
const searchScanMax = 1000

// SearchProspects returns one page of the account's live prospects that match
// the query, newest first. In an account of at most searchScanMax live
// prospects a substring clause is checked on each of the account's rows,
// newest first, folded as the trigram index folds, so that its cost follows
// the account's own size and nothing else. In a larger account a query of
// clauses joined by AND with a substring clause reads that clause's matches
// from the trigram index first (prospects_search, kept by triggers in each
// write's transaction) and only then their rows, and the other substring
// clauses ask the index too. An exact email is the unique email index's; the
// rest filter the account's live prospects, newest first. Both plans find the
// same prospects in the same order.
func (db *DB) SearchProspects(ctx context.Context, accountID string, sp store.SearchParams) (_ *store.Page, err error) {
	defer unavailable(&err)
	scan := db.searchScanMax < 0
	if !scan && db.searchScanMax > 0 && hasSubstring(sp.Query) {
		var live int
		if err := db.queryRow(ctx, `SELECT live_prospects FROM accounts WHERE id = ?`, accountID).Scan(&live); err != nil {
			return nil, err
		}
		scan = live <= db.searchScanMax
	}
	var q strings.Builder
	var args []any
	clauses, drive := sp.Query.Clauses, -1
	if !sp.Query.Or && !scan {
		for i, c := range clauses {
			if c.Op == store.SearchSubstring && !c.Not {
				drive = i
				break
			}
		}
	}
	if drive >= 0 {
		// The matches, then their rows: CROSS JOIN keeps SQLite to that order.
		q.WriteString(`WITH hits (rid) AS MATERIALIZED (SELECT rowid FROM prospects_search WHERE prospects_search MATCH ?)
			SELECT ` + liveProspectCols + ` FROM hits CROSS JOIN prospects ON prospects.rowid = hits.rid
			WHERE account_id = ? AND deleted_at IS NULL`)
		args = append(args, ftsPhrase(clauses[drive]), accountID)
	} else {
		q.WriteString(`SELECT ` + liveProspectCols + ` FROM prospects WHERE account_id = ? AND deleted_at IS NULL`)
		args = append(args, accountID)
	}
	if !sp.IncludeHidden {
		q.WriteString(` AND hidden = 0`)
	}
	join, n := " AND ", 0
	if sp.Query.Or {
		join = " OR "
	}
	for i, c := range clauses {
		if i == drive {
			continue
		}
		if n == 0 {
			q.WriteString(` AND (`)
		} else {
			q.WriteString(join)
		}
		n++
		args = searchClause(&q, args, c, scan)
	}
	if n > 0 {
		q.WriteString(`)`)
	}
	if sp.After != "" {
		q.WriteString(` AND id < ?`)
		args = append(args, sp.After)
	}
	q.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, sp.Limit+1)
	// A query of one clause through its statement prepared once (SQLite
	// spends about as long parsing it as running it): there are a few hundred
	// such shapes. Longer queries are prepared each time, or the statements
	// kept would grow with every shape callers make.
	var rows *sql.Rows
	if len(clauses) == 1 {
		var st *sql.Stmt
		if st, err = db.stmt(ctx, q.String()); err != nil {
			return nil, err
		}
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = db.read.QueryContext(ctx, q.String(), args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	read := scanLiveProspect(accountID)
	out := make([]store.Prospect, 0, sp.Limit+1)
	for rows.Next() {
		p, err := read(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out, more := store.TrimPage(store.Keyset{Limit: sp.Limit}, out)
	return &store.Page{Prospects: out, HasMore: more}, nil
}

// hasSubstring says whether the query has a substring clause.
func hasSubstring(q store.SearchQuery) bool {
	for _, c := range q.Clauses {
		if c.Op == store.SearchSubstring {
			return true
		}
	}
	return false
}

// searchClause writes one clause as a condition on a prospects row, negated
// as NOT of its truth (a missing field is not equal to a value, so
// -company:"x" finds the prospects without a company), and returns args with
// its arguments; scan checks a substring on the row itself, not in the index.
func searchClause(q *strings.Builder, args []any, c store.SearchClause, scan bool) []any {
	if c.Not {
		q.WriteString(`NOT coalesce(`)
	}
	switch {
	case c.Field == "created":
		q.WriteString(`created ` + sqlOp(c.Op) + ` ?`)
		args = append(args, c.Number)
	case c.Op == store.SearchSubstring && scan: // a column of the parser's list, never the caller's text
		q.WriteString(`search_contains(` + c.Field + `, ?)`)
		args = append(args, strings.Map(searchFold, c.Text))
	case c.Op == store.SearchSubstring:
		q.WriteString(`prospects.rowid IN (SELECT rowid FROM prospects_search WHERE prospects_search MATCH ?)`)
		args = append(args, ftsPhrase(c))
	case c.Field == "tag":
		q.WriteString(`EXISTS (SELECT 1 FROM json_each(prospects.tags) WHERE json_each.value = ?)`)
		args = append(args, c.Text)
	case c.Field == "metadata":
		q.WriteString(`EXISTS (SELECT 1 FROM json_each(prospects.metadata) WHERE json_each.key = ? AND json_each.value = ?)`)
		args = append(args, c.Key, c.Text)
	case c.Field == "email":
		q.WriteString(`email = ?`)
		args = append(args, strings.ToLower(c.Text))
	default: // a column of the parser's list of fields, never the caller's text
		q.WriteString(c.Field + ` = ?`)
		args = append(args, c.Text)
	}
	if c.Not {
		q.WriteString(`, 0)`)
	}
	return args
}

// sqlOp is the SQL comparison of a created clause.
func sqlOp(op store.SearchOp) string {
	if op == store.SearchExact {
		return "="
	}
	return string(op)
}

// ftsPhrase is the full-text query for a substring clause: its field's column
// and the text as one phrase, which the trigram tokenizer matches wherever it
// stands in the column, whatever the case.
func ftsPhrase(c store.SearchClause) string {
	return c.Field + ` : "` + strings.ReplaceAll(c.Text, `"`, `""`) + `"`
}

// The prospects a transaction wrote go into the trigram index in one
// statement just before it commits (see migration 00015): indexPendingSQL
// indexes them as they are then, clearPendingSQL forgets them.
const (
	indexPendingSQL = `INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
		SELECT p.rowid, p.email, p.first_name, p.last_name, p.company, p.title, p.website
		FROM prospects_unindexed u JOIN prospects p ON p.rowid = u.prospect_rowid`
	clearPendingSQL = `DELETE FROM prospects_unindexed`
)

// indexPending puts the prospects written in tx into the trigram index.
func (tx *writeTx) indexPending() error {
	if _, err := tx.ExecContext(context.Background(), indexPendingSQL); err != nil {
		return err
	}
	_, err := tx.ExecContext(context.Background(), clearPendingSQL)
	return err
}

// mergeStep is how many pages of the trigram index one transaction of
// MergeSearchIndex writes at most: a few milliseconds of the writer's time.
const mergeStep = 256

// MergeSearchIndex merges the segments of the trigram index into one, a few
// pages a write transaction so that requests' writes go on between them. Every
// write transaction adds a segment and FTS5 merges them only as far as a few
// a level, so a substring search would otherwise seek in more segments the
// more prospects were written; merged, it costs about the same at a million
// as at ten thousand. It returns when no segments are left to merge (or ctx
// ends); `capture serve` runs it at its start and hourly. Like every commit
// of this store, its first indexes the prospects another writer of the file
// left out of the index (see migration 00015).
func (db *DB) MergeSearchIndex(ctx context.Context) (err error) {
	defer unavailable(&err)
	for ctx.Err() == nil {
		var before, after int64
		err := db.inTx(ctx, func(tx *writeTx) error {
			if err := tx.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
				return err
			}
			// A negative step merges every level, as few as two segments at a time.
			if _, err := tx.ExecContext(ctx, `INSERT INTO prospects_search (prospects_search, rank) VALUES ('merge', ?)`, -mergeStep); err != nil {
				return err
			}
			return tx.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&after)
		})
		if err != nil {
			return err
		}
		if after-before < 2 { // FTS5's sign that nothing was left to merge
			return nil
		}
	}
	return ctx.Err()
}
