//go:build !linux

package dataio

import "os"

// openLocalFile opens name for reading (os.Open; see openlocal_linux.go
// for why Linux differs).
func openLocalFile(name string) (*os.File, error) { return os.Open(name) }

// osSeq is an os.File as a seqReader.
type osSeq struct{ *os.File }

func (f osSeq) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// openSeq opens name for sequential (or positioned) reading by one
// goroutine at a time.
func openSeq(name string) (seqReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osSeq{f}, nil
}

// createTemp creates a new file named ".BASE.tmp-RANDOM" in dir, mode 0600.
func createTemp(dir, base string) (*os.File, error) {
	return os.CreateTemp(dir, "."+base+".tmp-*")
}
