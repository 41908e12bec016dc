package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// SearchProspects returns one page of the account's live prospects that match
// the query, newest first. A substring clause is an ILIKE that the column's
// trigram index (migration 00008) answers, an exact email the unique email
// index; the rows are read in the query's own snapshot, so a search sees every
// write that answered before it, on every replica.
func (db *DB) SearchProspects(ctx context.Context, accountID string, sp store.SearchParams) (page *store.Page, err error) {
	defer unavailable(ctx, &err)
	var q strings.Builder
	args := []any{accountID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT ` + prospectCols + ` FROM prospects WHERE account_id = $1 AND deleted_at IS NULL`)
	if !sp.IncludeHidden {
		q.WriteString(` AND NOT hidden`)
	}
	join := " AND "
	if sp.Query.Or {
		join = " OR "
	}
	q.WriteString(` AND (`)
	for i, c := range sp.Query.Clauses {
		if i > 0 {
			q.WriteString(join)
		}
		if c.Not {
			q.WriteString(`NOT coalesce(`)
		}
		switch {
		case c.Field == "created":
			op := string(c.Op)
			if c.Op == store.SearchExact {
				op = "="
			}
			q.WriteString(`created ` + op + ` ` + arg(time.Unix(c.Number, 0)))
		case c.Op == store.SearchSubstring:
			q.WriteString(c.Field + ` ILIKE ` + arg(likeContains(c.Text)))
		case c.Field == "tag":
			q.WriteString(arg(c.Text) + ` = ANY (tags)`)
		case c.Field == "metadata":
			q.WriteString(`metadata ->> ` + arg(c.Key) + ` = ` + arg(c.Text))
		case c.Field == "email":
			q.WriteString(`email = ` + arg(strings.ToLower(c.Text)))
		default: // a column of the parser's list of fields, never the caller's text
			q.WriteString(c.Field + ` = ` + arg(c.Text))
		}
		if c.Not {
			q.WriteString(`, false)`)
		}
	}
	q.WriteString(`)`)
	if sp.After != "" {
		q.WriteString(` AND id < ` + arg(sp.After))
	}
	q.WriteString(` ORDER BY id DESC LIMIT ` + arg(sp.Limit+1))
	// Planned for these values each time (an unnamed statement), never by a
	// generic plan, which knows no pattern's selectivity and would walk the
	// account newest first instead of asking the trigram index.
	args = append([]any{pgx.QueryExecModeExec}, args...)
	out := make([]store.Prospect, 0, sp.Limit+1)
	err = db.with(ctx, func(qr querier) error {
		rows, err := qr.Query(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProspect(rows)
			if err != nil {
				return err
			}
			out = append(out, *p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out, more := store.TrimPage(store.Keyset{Limit: sp.Limit}, out)
	return &store.Page{Prospects: out, HasMore: more}, nil
}

// likeContains is the ILIKE pattern of a substring: the text with LIKE's
// wildcards and its escape character escaped, between two %.
func likeContains(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}
