package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-data/sluice/internal/version"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0),
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(a.stdout, versionString())
		},
	}
}

// versionString describes the build: module version, VCS revision when
// recorded, Go version and platform.
func versionString() string { return version.String() }
