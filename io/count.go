package dataio

import (
	"context"
	"fmt"
	"io"
	"math"
)

// CountRecords returns the number of records in path without parsing them.
// For JSONL (plain or compressed) that is the number of non-blank lines, the
// same numbering JSONLReader uses for RowColumn, so that record i of a file
// gets id offset+i when offset is the sum of the counts of the files before
// it. Malformed lines count as records. For Parquet it is the row count
// recorded in the file's metadata. Empty files count zero.
func CountRecords(path string) (int64, error) {
	return CountRecordsContext(context.Background(), path)
}

// CountRecordsContext is CountRecords that stops, with ctx's error, when ctx
// is done.
func CountRecordsContext(ctx context.Context, path string) (int64, error) {
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
	secs, err := splitStream(ctxReader{ctx, in}, math.MaxInt64, readBufferSize(in.size, CompressionOf(path)))
	if err != nil {
		return 0, fmt.Errorf("dataio: count records in %s: %w", path, err)
	}
	return sumRows(secs), nil
}

// CountRecordsSplit counts the records of path as CountRecordsContext
// does and, when path is an uncompressed JSONL file of more than splitBytes
// bytes, also cuts it into sections of about splitBytes in the same read,
// as SplitJSONLContext does (secs is nil for a file not cut). It opens the
// file once, for callers that count many files, most of them small.
// Parquet files are counted, never cut (see SplitParquet); splitBytes <= 0
// cuts nothing.
func CountRecordsSplit(ctx context.Context, path string, splitBytes int64) (n int64, secs []Section, err error) {
	if FormatOf(path) == Parquet {
		n, err = CountRecordsContext(ctx, path)
		return n, nil, err
	}
	in, err := openDecompressed(path)
	if err != nil {
		return 0, nil, err
	}
	defer in.Close()
	size, c := in.size, CompressionOf(path)
	if size < 0 && c == NoCompression {
		fi, err := Stat(ctx, path)
		if err != nil {
			return 0, nil, fmt.Errorf("dataio: stat %s: %w", path, err)
		}
		size = fi.Size
	}
	if c != NoCompression || size <= splitBytes || splitBytes <= 0 {
		secs, err := splitStream(ctxReader{ctx, in}, math.MaxInt64, readBufferSize(in.size, c))
		if err != nil {
			return 0, nil, fmt.Errorf("dataio: count records in %s: %w", path, err)
		}
		return sumRows(secs), nil, nil
	}
	secs, err = splitStream(ctxReader{ctx, in}, splitBytes, maxReadBuffer)
	if err != nil {
		return 0, nil, fmt.Errorf("dataio: split %s: %w", path, err)
	}
	return sumRows(secs), secs, nil
}

func sumRows(secs []Section) int64 {
	var n int64
	for _, s := range secs {
		n += s.Rows
	}
	return n
}

// ctxReader fails reads with ctx's error once ctx is done, so that a long
// scan of a large file stops promptly when a run is interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
