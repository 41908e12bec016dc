package sqlite

import (
	"context"
	"strings"

	"github.com/captureapi/capture/server/store"
)

// listPage finishes and runs a keyset list query: q holds its SELECT and WHERE
// so far, with args; listPage adds the created range, the cursor, the order and
// the limit, and returns the page's rows newest first and whether more lie beyond.
// scan may reuse what it returns for the next row: each row is copied at once.
func listPage[T any](ctx context.Context, db *DB, q *strings.Builder, args []any, k store.Keyset, scan func(scanner) (*T, error)) ([]T, bool, error) {
	if k.CreatedGTE != nil {
		q.WriteString(` AND created >= ?`)
		args = append(args, k.CreatedGTE.Unix())
	}
	if k.CreatedLTE != nil {
		q.WriteString(` AND created <= ?`)
		args = append(args, k.CreatedLTE.Unix())
	}
	switch {
	case k.Backwards():
		q.WriteString(` AND id > ? ORDER BY id ASC`)
		args = append(args, k.EndingBefore)
	case k.StartingAfter != "":
		q.WriteString(` AND id < ? ORDER BY id DESC`)
		args = append(args, k.StartingAfter)
	default:
		q.WriteString(` ORDER BY id DESC`)
	}
	q.WriteString(` LIMIT ?`)
	args = append(args, k.Limit+1)
	st, err := db.stmt(ctx, q.String())
	if err != nil {
		return nil, false, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := make([]T, 0, k.Limit+1)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	out, more := store.TrimPage(k, out)
	return out, more, nil
}
