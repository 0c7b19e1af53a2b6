package dataio

import (
	"bytes"
	"fmt"
	"io"
)

// CountRecords returns the number of records in path without parsing them.
// For JSONL (plain or compressed) that is the number of non-blank lines, the
// same numbering JSONLReader uses for RowColumn, so that record i of a file
// gets id offset+i when offset is the sum of the counts of the files before
// it. Malformed lines count as records. For Parquet it is the row count
// recorded in the file's metadata. Empty files count zero.
func CountRecords(path string) (int64, error) {
	if FormatOf(path) == Parquet {
		p, err := openPQ(path)
		if err != nil {
			return 0, err
		}
		defer p.close()
		return p.numRows(), nil
	}
	in, err := openDecompressed(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	buf := make([]byte, 1<<20)
	var (
		n       int64
		content bool // the current line has a non-blank byte
	)
	for {
		m, err := in.Read(buf)
		chunk := buf[:m]
		for len(chunk) > 0 {
			nl := bytes.IndexByte(chunk, '\n')
			seg := chunk
			if nl >= 0 {
				seg = chunk[:nl]
			}
			if !content && !isBlank(seg) {
				content = true
			}
			if nl < 0 {
				break
			}
			if content {
				n++
			}
			content = false
			chunk = chunk[nl+1:]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("dataio: count records in %s: %w", path, err)
		}
	}
	if content {
		n++ // final line without a terminator
	}
	return n, nil
}
