// Package version tells which build of Sluice is running: the module version
// and VCS revision recorded by the Go toolchain, for `sluice --version`,
// summaries and the created_by field of files Sluice writes.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Module returns the module version ("(devel)" for a source build) and the
// first 12 hex digits of the VCS revision, or "" when none was recorded.
func Module() (version, revision string) {
	version = "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = s.Value[:12]
			}
		}
	}
	return version, revision
}

// Short is "sluice VERSION" plus the revision when known, for example
// "sluice (devel) 8e19da1c2b3a".
func Short() string {
	v, rev := Module()
	if rev != "" {
		return "sluice " + v + " " + rev
	}
	return "sluice " + v
}

// String describes the build: Short plus the Go version and platform.
func String() string {
	return fmt.Sprintf("%s (%s %s/%s)", Short(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
