// Package disposable tells whether an email domain hands out throwaway
// addresses, from a vendored copy of a maintained list (domains.txt; `make
// disposable-domains` refreshes it).
package disposable

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed domains.txt
var list string

var domains = sync.OnceValue(func() map[string]struct{} {
	m := map[string]struct{}{}
	for line := range strings.Lines(list) {
		if d := strings.TrimSpace(line); d != "" && !strings.HasPrefix(d, "#") {
			m[strings.ToLower(d)] = struct{}{}
		}
	}
	return m
})

// Is reports whether domain, or a domain it is under, is a disposable email
// domain.
func Is(domain string) bool {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	m := domains()
	for d != "" {
		if _, ok := m[d]; ok {
			return true
		}
		_, rest, found := strings.Cut(d, ".")
		if !found {
			return false
		}
		d = rest
	}
	return false
}
