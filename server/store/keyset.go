package store

import (
	"slices"
	"time"
)

// Keyset is what every list query shares: the page size, at most one cursor and
// the created range. Ids are time-ordered, so "older than the cursor" is
// id < cursor, and the cost of a page does not depend on its depth.
type Keyset struct {
	Limit         int
	StartingAfter string // older than this id
	EndingBefore  string // newer than this id
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
}

// Keyset is the page lp asks for.
func (lp ListParams) Keyset() Keyset {
	return Keyset{lp.Limit, lp.StartingAfter, lp.EndingBefore, lp.CreatedGTE, lp.CreatedLTE}
}

// Keyset is the page lp asks for.
func (lp EventListParams) Keyset() Keyset {
	return Keyset{lp.Limit, lp.StartingAfter, lp.EndingBefore, lp.CreatedGTE, lp.CreatedLTE}
}

// Backwards reports whether the page walks from the cursor towards the newest
// (ending_before): its query reads oldest first.
func (k Keyset) Backwards() bool { return k.EndingBefore != "" }

// TrimPage trims rows, read with a limit of Limit+1 in the query's order, to the
// page: at most Limit rows newest first, and whether more lie beyond.
func TrimPage[T any](k Keyset, rows []T) ([]T, bool) {
	more := len(rows) > k.Limit
	if more {
		rows = rows[:k.Limit]
	}
	if k.Backwards() { // walked oldest-first from the cursor; answer newest first
		slices.Reverse(rows)
	}
	return rows, more
}
