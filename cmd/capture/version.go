package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionString is what capture version and capture --version print: the
// module version and the VCS revision the binary was built from.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

// versionFrom describes a binary from its build info (nil if it has none).
func versionFrom(bi *debug.BuildInfo) string {
	version, revision := "unknown", "unknown"
	var when string
	modified := false
	if bi != nil {
		version = bi.Main.Version
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
		Long: `Prints the module version and the VCS revision (commit, time, and whether the
tree had uncommitted changes) that this binary was built from, then the Go
version and platform. capture --version prints the same.`,
		Example: `  capture version
  capture --version`,
		Args: positional(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), cmd.Root().Version)
			return nil
		},
	}
}
