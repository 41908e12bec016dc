package clienttest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Go programs of README.md and docs/ (written out by `cat > DIR/main.go
// <<'EOF'` in their shell blocks) must compile against this package, and
// import no generated package but client. The shell-block test runs only the
// blocks a test can run; this builds every program, a receiver's included.
func TestReadmeProgramsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command; skipped with -short")
	}
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../client")
	if err != nil {
		t.Fatal(err)
	}
	type program struct{ page, name, src string }
	var programs []program
	for _, page := range append([]string{"../../README.md"}, pages...) {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?s)cat > ([\w/]+)/main\.go <<'EOF'\n(.*?)\nEOF\n`).FindAllSubmatch(text, -1) {
			programs = append(programs, program{strings.TrimPrefix(page, "../../"), string(m[1]), string(m[2])})
		}
	}
	if len(programs) == 0 {
		t.Fatal("no program found in README.md or docs/")
	}
	goMod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go .*$`).Find(goMod)
	for _, p := range programs {
		name, src := p.name, p.src
		t.Run(p.page+"/"+name, func(t *testing.T) {
			if strings.Contains(src, `"github.com/captureapi/capture/gen"`) {
				t.Error("the program imports gen; integrators should need client alone")
			}
			dir := t.TempDir()
			mod := "module readme\n\n" + string(goVersion) + "\n\nrequire github.com/captureapi/capture/client v0.0.0\n\nreplace github.com/captureapi/capture/client => " + root + "\n"
			for file, body := range map[string]string{"go.mod": mod, "main.go": src} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := os.ReadFile("../../go.sum")
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
				t.Fatalf("the program %s of %s does not build: %v\n%s", name, p.page, err, out)
			}
		})
	}
}
