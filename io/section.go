package dataio

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// Section is part of one large file that a reader can read on its own, so
// that several readers read the file in parallel and still report the same
// record indexes (RowColumn) and positions as one reader would: a byte range
// of an uncompressed JSONL file that starts at a line boundary (SplitJSONL),
// or a run of row groups of a Parquet file (SplitParquet).
type Section struct {
	// Offset and Length delimit a JSONL section's bytes.
	Offset, Length int64
	// FirstRow is the record index of the section's first record; FirstLine
	// is the number of physical lines before a JSONL section.
	FirstRow, FirstLine int64
	// Rows is the number of records (non-blank lines, or rows) in the
	// section.
	Rows int64
	// FirstRowGroup and RowGroups delimit a Parquet section.
	FirstRowGroup, RowGroups int `json:",omitempty"`
}

// SplitJSONL cuts an uncompressed JSONL file into sections of about target
// bytes, each ending at a line boundary, and counts the records of each with
// CountRecords' rule. It reads the file once, without parsing it. A
// compressed file cannot be split: it is an error. An empty file gives no
// sections.
func SplitJSONL(path string, target int64) ([]Section, error) {
	return SplitJSONLContext(context.Background(), path, target)
}

// SplitJSONLContext is SplitJSONL that stops, with ctx's error, when ctx is
// done.
func SplitJSONLContext(ctx context.Context, path string, target int64) ([]Section, error) {
	if FormatOf(path) != JSONL || CompressionOf(path) != NoCompression {
		return nil, fmt.Errorf("dataio: split %s: only uncompressed JSONL files can be split", path)
	}
	if target <= 0 {
		return nil, fmt.Errorf("dataio: split %s: target size %d must be positive", path, target)
	}
	f, err := openDecompressed(path)
	if err != nil {
		return nil, fmt.Errorf("dataio: split: %w", err)
	}
	defer f.Close()
	secs, err := splitStream(ctxReader{ctx, f}, target, maxReadBuffer)
	if err != nil {
		return nil, fmt.Errorf("dataio: split %s: %w", path, err)
	}
	return secs, nil
}

// splitStream cuts the JSONL stream r into sections of at least target
// bytes ending at line boundaries, counting records (non-blank lines) the
// way JSONLReader numbers them, reading bufSize bytes at a time (through
// a shared buffer when that is small). CountRecords uses it with an
// unbounded target.
func splitStream(r io.Reader, target int64, bufSize int) ([]Section, error) {
	if bufSize <= pooledReadBuffer {
		b := getBytes()
		defer putBytes(b)
		return splitStreamBuf(r, target, *b)
	}
	return splitStreamBuf(r, target, make([]byte, bufSize))
}

func splitStreamBuf(r io.Reader, target int64, buf []byte) ([]Section, error) {
	var (
		out     []Section
		cur     Section
		pos     int64 // offset of the next byte to scan
		rows    int64 // records before the current line
		lines   int64 // physical lines before the current line
		content bool  // the current line has a non-blank byte
	)
	for {
		m, rerr := r.Read(buf)
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
				pos += int64(len(chunk))
				break
			}
			pos += int64(nl + 1)
			chunk = chunk[nl+1:]
			lines++
			if content {
				rows++
				cur.Rows++
			}
			content = false
			if pos-cur.Offset >= target {
				cur.Length = pos - cur.Offset
				out = append(out, cur)
				cur = Section{Offset: pos, FirstRow: rows, FirstLine: lines}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if content {
		cur.Rows++ // final line without a terminator
	}
	if pos > cur.Offset {
		cur.Length = pos - cur.Offset
		out = append(out, cur)
	}
	return out, nil
}

// NewJSONLSectionReader returns a reader over one section of an
// uncompressed JSONL file, numbering records and lines as a reader of the
// whole file would.
func NewJSONLSectionReader(path string, sec Section, opts ReadOptions) (*JSONLReader, error) {
	if CompressionOf(path) != NoCompression {
		return nil, fmt.Errorf("dataio: %s: sections need an uncompressed file", path)
	}
	if sec.Offset < 0 || sec.Length < 0 {
		return nil, fmt.Errorf("dataio: %s: bad section %+v", path, sec)
	}
	r, err := NewJSONLReader([]string{path}, opts)
	if err != nil {
		return nil, err
	}
	r.section = &sec
	return r, nil
}

// SplitParquet cuts a Parquet file into sections of whole row groups, each
// holding about target bytes of uncompressed column data (from the file's
// metadata; no data is read). A file with one row group gives one section,
// an empty file none.
func SplitParquet(path string, target int64) ([]Section, error) {
	if target <= 0 {
		return nil, fmt.Errorf("dataio: split %s: target size %d must be positive", path, target)
	}
	p, err := openPQ(path)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if p.pf == nil {
		return nil, nil
	}
	meta := p.pf.Metadata().RowGroups
	var out []Section
	var cur Section
	var bytes, row int64
	for i, rg := range meta {
		if cur.RowGroups == 0 {
			cur = Section{FirstRow: row, FirstRowGroup: i}
		}
		cur.RowGroups++
		cur.Rows += rg.NumRows
		row += rg.NumRows
		bytes += rg.TotalByteSize
		if bytes >= target {
			out = append(out, cur)
			cur, bytes = Section{}, 0
		}
	}
	if cur.RowGroups > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// NewParquetSectionReader returns a ParquetReader for one section of path
// (see SplitParquet): it reads only the section's row groups and numbers
// rows from sec.FirstRow.
func NewParquetSectionReader(path string, sec Section, opts ReadOptions) (*ParquetReader, error) {
	if sec.FirstRowGroup < 0 || sec.RowGroups < 1 || sec.FirstRow < 0 {
		return nil, fmt.Errorf("dataio: %s: bad section %+v", path, sec)
	}
	r, err := NewParquetReader([]string{path}, opts)
	if err != nil {
		return nil, err
	}
	r.section = &sec
	return r, nil
}
