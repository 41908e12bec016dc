package client

import (
	"iter"
	"slices"
)

// walk yields every item of a keyset-paginated list, fetching pages as the loop
// needs them: newest first, starting after after; or, with only before set,
// from just before it towards the newest. fetch gets one page's cursors and
// returns its items (newest first, as the API sends them) and whether more lie
// beyond; id is an item's cursor. A failed page is yielded once as the error
// and ends the walk.
func walk[T any](after, before string, fetch func(after, before string) ([]T, bool, error), id func(T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		backwards := before != "" && after == ""
		for {
			data, more, err := fetch(after, before)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			ordered := data
			if backwards {
				ordered = slices.Clone(data)
				slices.Reverse(ordered)
			}
			for _, v := range ordered {
				if !yield(v, nil) {
					return
				}
			}
			if !more || len(data) == 0 {
				return
			}
			if backwards {
				before = id(data[0])
			} else {
				after = id(data[len(data)-1])
			}
		}
	}
}
