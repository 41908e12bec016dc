package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's Go programs (written out by `cat > DIR/main.go <<'EOF'` in its
// shell blocks) must compile against this package, and import no generated
// package but client.
func TestReadmeProgramsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command; skipped with -short")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	programs := regexp.MustCompile(`(?s)cat > ([\w/]+)/main\.go <<'EOF'\n(.*?)\nEOF\n`).FindAllSubmatch(readme, -1)
	if len(programs) == 0 {
		t.Fatal("no program found in README.md")
	}
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go .*$`).Find(goMod)
	for _, m := range programs {
		name, src := string(m[1]), string(m[2])
		t.Run(name, func(t *testing.T) {
			if strings.Contains(src, `"github.com/captureapi/capture/gen"`) {
				t.Error("the program imports gen; integrators should need client alone")
			}
			dir := t.TempDir()
			mod := "module readme\n\n" + string(goVersion) + "\n\nrequire github.com/captureapi/capture v0.0.0\n\nreplace github.com/captureapi/capture => " + root + "\n"
			for file, body := range map[string]string{"go.mod": mod, "main.go": src} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := os.ReadFile("../go.sum")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "build", "-mod=mod", "-o", os.DevNull, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("README program %s does not build: %v\n%s", name, err, out)
			}
		})
	}
}
