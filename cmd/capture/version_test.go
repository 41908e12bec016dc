package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make build stamps what git says, even where the toolchain records no VCS
// data (GOFLAGS=-buildvcs=false, as on machines that build from a copy).
func TestMakeBuildStampsTheVersionAndCommit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary with make; skipped with -short")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Skipf("not a git checkout: git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	commit, describe := git("rev-parse", "HEAD"), git("describe", "--always", "--dirty")
	bin := filepath.Join(t.TempDir(), "capture")
	build := exec.Command("make", "-C", root, "build", "BIN="+bin)
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if want := "capture " + describe + "\nrevision " + commit + "\n"; err != nil || !strings.HasPrefix(string(out), want) {
		t.Fatalf("capture version after make build: %v, want it to begin %q, got\n%s", err, want, out)
	}
}
