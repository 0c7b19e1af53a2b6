package dataio

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Section is a byte range of an uncompressed JSONL file that starts at a
// line boundary, with the numbering of its first line, so that several
// readers can read one large file in parallel and still report the same
// record indexes (RowColumn) and file:line positions as one reader would.
type Section struct {
	// Offset and Length delimit the section's bytes.
	Offset, Length int64
	// FirstRow is the record index of the section's first record; FirstLine
	// is the number of physical lines before the section.
	FirstRow, FirstLine int64
	// Rows is the number of records (non-blank lines) in the section.
	Rows int64
}

// SplitJSONL cuts an uncompressed JSONL file into sections of about target
// bytes, each ending at a line boundary, and counts the records of each with
// CountRecords' rule. It reads the file once, without parsing it. A
// compressed file cannot be split: it is an error. An empty file gives no
// sections.
func SplitJSONL(path string, target int64) ([]Section, error) {
	if FormatOf(path) != JSONL || CompressionOf(path) != NoCompression {
		return nil, fmt.Errorf("dataio: split %s: only uncompressed JSONL files can be split", path)
	}
	if target <= 0 {
		return nil, fmt.Errorf("dataio: split %s: target size %d must be positive", path, target)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataio: split: %w", err)
	}
	defer f.Close()
	secs, err := splitStream(f, target)
	if err != nil {
		return nil, fmt.Errorf("dataio: split %s: %w", path, err)
	}
	return secs, nil
}

// splitStream cuts the JSONL stream r into sections of at least target
// bytes ending at line boundaries, counting records (non-blank lines) the
// way JSONLReader numbers them. CountRecords uses it with an unbounded
// target.
func splitStream(r io.Reader, target int64) ([]Section, error) {
	var (
		out     []Section
		cur     Section
		pos     int64 // offset of the next byte to scan
		rows    int64 // records before the current line
		lines   int64 // physical lines before the current line
		content bool  // the current line has a non-blank byte
	)
	buf := make([]byte, 1<<20)
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
