package client_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Importing client must bring in what its generated types need and nothing
// else: no validator, YAML parser, spec loader, database driver or load tool.
func TestDependencyClosure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{"github.com/captureapi/capture/client", "github.com/oapi-codegen/nullable"}
	for _, pkg := range strings.Fields(string(out)) {
		if !slices.Contains(allowed, pkg) {
			t.Errorf("importing client pulls in %s", pkg)
		}
	}
}
