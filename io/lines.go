package dataio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrStopScan, returned by the function ScanJSONLRecords calls, ends the
// scan early without an error.
var ErrStopScan = errors.New("dataio: stop scan")

// ScanJSONLRecords calls fn with the raw line (without its "\n") of every
// record of the (possibly compressed) JSONL file path, or of its section
// sec of an uncompressed file, numbered as JSONLReader numbers them: row is
// the record's index among the file's non-blank lines, from 0. It does not
// parse the lines, so it is several times cheaper than a reader for
// callers that look at a few records (a record's id for a report). The
// line is valid only during the call; fn returning ErrStopScan ends the
// scan without an error.
func ScanJSONLRecords(ctx context.Context, path string, sec *Section, fn func(row int64, line []byte) error) error {
	var (
		d   *decompressed
		err error
		row int64
	)
	if sec != nil {
		if CompressionOf(path) != NoCompression {
			return fmt.Errorf("dataio: %s: sections need an uncompressed file", path)
		}
		d, err = openDecompressedRange(path, sec.Offset, sec.Length)
		row = sec.FirstRow
	} else {
		d, err = openDecompressed(path)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	br := bufio.NewReaderSize(d, 1<<20)
	var long []byte
	for lines := 0; ; lines++ {
		if lines&4095 == 4095 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("dataio: read %s: %w", path, hideEOF(err))
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if len(line) > 0 && !isBlank(line) {
			if ferr := fn(row, line); ferr != nil {
				if ferr == ErrStopScan {
					return nil
				}
				return ferr
			}
			row++
		}
		if err == io.EOF {
			return nil
		}
	}
}
