// Command refresh writes domains.txt, the vendored list of package disposable,
// from the JSON array of the npm package disposable-email-domains-js (a copy of
// github.com/disposable-email-domains/disposable-email-domains, CC0) read on
// stdin: `make disposable-domains` fetches the package and runs it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

func main() {
	var domains []string
	if err := json.NewDecoder(os.Stdin).Decode(&domains); err != nil {
		fmt.Fprintln(os.Stderr, "refresh: the list is not a JSON array of domains:", err)
		os.Exit(1)
	}
	if len(domains) < 1000 {
		fmt.Fprintf(os.Stderr, "refresh: only %d domains; keeping the list as it is\n", len(domains))
		os.Exit(1)
	}
	for i, d := range domains {
		domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	slices.Sort(domains)
	fmt.Println("# Disposable email domains, from github.com/disposable-email-domains/disposable-email-domains")
	fmt.Println("# (CC0 1.0), through the npm package disposable-email-domains-js. Refresh: make disposable-domains")
	for _, d := range slices.Compact(domains) {
		if d != "" {
			fmt.Println(d)
		}
	}
}
