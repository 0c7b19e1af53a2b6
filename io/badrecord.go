package dataio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// BadRecordPolicy says what a reader does with a record it cannot use.
type BadRecordPolicy uint8

const (
	// Fail stops the read with a *BadRecordError. It is the default.
	Fail BadRecordPolicy = iota
	// Skip hands the record to the reader's Quarantine, counts it in
	// ReadStats.BadRecords and goes on.
	Skip
)

// String returns "fail" or "skip".
func (p BadRecordPolicy) String() string {
	if p == Skip {
		return "skip"
	}
	return "fail"
}

// BadRecordError describes one record a reader could not use. Readers return
// it (wrapped or not; use errors.As) under the Fail policy and hand it to the
// Quarantine under Skip.
type BadRecordError struct {
	// File is the path of the file holding the record.
	File string
	// Line is the 1-based physical line number in a JSONL file, or 0 for
	// Parquet.
	Line int64
	// Row is the record's 0-based index within its file (see RowColumn).
	Row int64
	// Field names the field at fault, or is empty when the record as a whole
	// is malformed.
	Field string
	// Reason says what is wrong, for example "invalid UTF-8 in text".
	Reason string
	// Raw holds the record's original bytes (the JSONL line without its
	// terminator), or nil for Parquet. Overlong lines are cut short; then
	// RawTruncated is set.
	Raw          []byte
	RawTruncated bool
}

// Error returns "file:line: field "text": reason" for JSONL records and
// "file: row N: ..." for Parquet records.
func (e *BadRecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d: ", e.Line)
	} else {
		fmt.Fprintf(&b, ": row %d: ", e.Row)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// A Quarantine receives the records a reader skips under the Skip policy.
// Implementations must be safe for concurrent use, since several readers may
// share one.
type Quarantine interface {
	Put(rec *BadRecordError) error
}

// QuarantineFile is a Quarantine that appends one JSON object per skipped
// record to a JSONL file:
//
//	{"file":"a.jsonl","line":7,"row":6,"field":"text","reason":"missing field","raw":"{\"id\":1}"}
//
// "raw" holds the original line when it is valid UTF-8; otherwise the line is
// stored base64-encoded under "raw_base64" so no byte is lost. The file is
// written atomically (it appears under its name on Close), and its
// compression follows its extension like any JSONL output.
type QuarantineFile struct {
	mu sync.Mutex
	w  *compressedWriter
	n  int64
}

// CreateQuarantineFile starts a quarantine file at path.
func CreateQuarantineFile(path string) (*QuarantineFile, error) {
	w, err := createCompressed(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return &QuarantineFile{w: w}, nil
}

type quarantineLine struct {
	File         string `json:"file"`
	Line         int64  `json:"line,omitempty"`
	Row          int64  `json:"row"`
	Field        string `json:"field,omitempty"`
	Reason       string `json:"reason"`
	Raw          string `json:"raw,omitempty"`
	RawBase64    []byte `json:"raw_base64,omitempty"`
	RawTruncated bool   `json:"raw_truncated,omitempty"`
}

// Put implements Quarantine.
func (q *QuarantineFile) Put(rec *BadRecordError) error {
	l := quarantineLine{File: rec.File, Line: rec.Line, Row: rec.Row, Field: rec.Field, Reason: rec.Reason, RawTruncated: rec.RawTruncated}
	if utf8.Valid(rec.Raw) {
		l.Raw = string(rec.Raw)
	} else {
		l.RawBase64 = rec.Raw
	}
	b, err := json.MarshalNoEscape(&l)
	if err != nil {
		return fmt.Errorf("dataio: quarantine: encode record from %s: %w", rec.File, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return errors.New("dataio: quarantine is closed")
	}
	b = append(b, '\n')
	if _, err := q.w.bw.Write(b); err != nil {
		return fmt.Errorf("dataio: quarantine %s: %w", q.w.af.Name(), err)
	}
	q.n++
	return nil
}

// Count returns the number of records put so far.
func (q *QuarantineFile) Count() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// abort discards the file.
func (q *QuarantineFile) abort() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w != nil {
		q.w.abort()
		q.w = nil
	}
}

// Close finishes the file and moves it into place.
func (q *QuarantineFile) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return nil
	}
	w := q.w
	q.w = nil
	return w.commit()
}
