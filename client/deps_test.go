package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// An integrator's module that imports client holds, in its go.sum and its
// build list (go list -m all), client and at most two other modules: client is
// a module of its own, not the server's with its drivers, queue and tools.
func TestIntegratorModuleList(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list -m all; skipped with -short")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go .*$`).Find(goMod)
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module integrator\n\n" + string(goVersion) + "\n\nrequire github.com/captureapi/capture/client v0.0.0\n\n" +
			"replace github.com/captureapi/capture/client => " + root + "\n",
		"go.sum":  string(sum),
		"main.go": "package main\n\nimport _ \"github.com/captureapi/capture/client\"\n\nfunc main() {}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	var others []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path := strings.Fields(line)[0]
		if path != "integrator" && path != "github.com/captureapi/capture/client" {
			others = append(others, path)
		}
	}
	if len(others) > 2 {
		t.Errorf("an integrator's module lists %d modules besides client, want at most 2:\n%s", len(others), out)
	}
}
