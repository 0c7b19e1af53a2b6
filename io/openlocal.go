package dataio

import (
	"errors"
	"io"
)

// seqReader is a local file opened by openSeq: read sequentially or at
// positions by one goroutine at a time, and closed once.
type seqReader interface {
	io.Reader
	io.ReaderAt
	io.Closer
	// Size returns the file's size now.
	Size() (int64, error)
}

var errNegativeOffset = errors.New("negative offset")
