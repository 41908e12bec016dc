package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version and commit are stamped by make build (-ldflags -X main.version=…
// -X main.commit=…) from git describe and git rev-parse, so that a binary says
// what it is even where the toolchain records no VCS data (-buildvcs=false, a
// tree without .git).
var version, commit string

// versionString is what capture version and capture --version print: the
// version and the commit the binary was built from.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, commit, bi)
}

// versionFrom describes a binary from what make build stamped (stampedVersion,
// stampedCommit), else from its build info (nil if it has none), else as "dev"
// at commit "unknown".
func versionFrom(stampedVersion, stampedCommit string, bi *debug.BuildInfo) string {
	version, revision := "dev", "unknown"
	var when string
	modified := false
	if bi != nil {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if stampedVersion != "" {
		version = stampedVersion
	}
	if stampedCommit != "" && stampedCommit != revision {
		// The build info's time and state describe another commit, or none.
		revision, when, modified = stampedCommit, "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "capture %s\nrevision %s", version, revision)
	if when != "" {
		fmt.Fprintf(&b, " (%s)", when)
	}
	if modified {
		b.WriteString(", with uncommitted changes")
	}
	fmt.Fprintf(&b, "\n%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the source revision of this binary",
		Long: `Prints the version and the commit this binary was built from, then the Go
version and platform. capture --version prints the same.

make build stamps both from git (git describe --always --dirty, git rev-parse
HEAD). Otherwise they come from what the Go toolchain recorded (the module
version; the VCS revision, its time, and whether the tree had uncommitted
changes), and are "dev" and "unknown" where it recorded nothing (go run, a
build without VCS stamping, a tree without git).`,
		Example: `  capture version
  capture --version`,
		Args: positional(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), cmd.Root().Version)
			return nil
		},
	}
}
