//go:build !linux

package dataio

import "os"

// createTemp creates a new file named ".BASE.tmp-RANDOM" in dir, mode 0600.
func createTemp(dir, base string) (*os.File, error) {
	return os.CreateTemp(dir, "."+base+".tmp-*")
}
