package dataio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluice-data/sluice/internal/version"
	"github.com/sluice-data/sluice/task"
)

// DefaultRowGroupRows is the default row-group bound of Parquet writers.
const DefaultRowGroupRows = 128 * 1024

// DefaultRowGroupBytes is the default bound on the uncompressed bytes of a
// row group: a writer buffers a whole row group in memory, and row groups
// are the unit that readers (such as the fuzzy MinHash phase) can split a
// file at.
const DefaultRowGroupBytes = 32 << 20

// ErrNoSchema is returned by ParquetWriter.Close when no batch was written,
// so the file's schema is unknown. No file is created in that case. Writing
// a batch with zero rows is enough to fix the schema.
var ErrNoSchema = errors.New("dataio: no batch written, parquet schema unknown")

// ParquetWriterOptions configures Parquet writers. The zero value writes
// zstd-compressed row groups of at most DefaultRowGroupRows rows and about
// DefaultRowGroupBytes bytes.
type ParquetWriterOptions struct {
	// RowGroupRows bounds the rows per row group. Default DefaultRowGroupRows.
	RowGroupRows int64
	// RowGroupBytes ends a row group once the values written to it reach
	// about this many uncompressed bytes (checked every 1,024 rows).
	// Default DefaultRowGroupBytes.
	RowGroupBytes int64
	// Compression is "zstd" (default), "snappy", "gzip", "lz4" or "none".
	Compression string
	// IncludeInternal writes columns whose names start with InternalPrefix,
	// which are left out by default.
	IncludeInternal bool
	// PageVersion is the data page version written: 1 (default), which
	// every Parquet reader reads, or 2.
	PageVersion int
}

// createdBy is the created_by string of the files Sluice writes, in the
// form the Parquet specification gives ("sluice version V (build R)"), so
// that readers which parse it (to work around known writer bugs) can.
func createdBy() parquet.WriterOption {
	v, rev := version.Module()
	if v == "(devel)" {
		v = "devel" // parenthesised, it would not parse as a version
	}
	return parquet.CreatedBy("sluice", v, rev)
}

// Check reports an invalid option (an unknown compression or page
// version).
func (o ParquetWriterOptions) Check() error {
	_, err := o.writerOptions()
	return err
}

func (o ParquetWriterOptions) writerOptions() ([]parquet.WriterOption, error) {
	rows := o.RowGroupRows
	if rows <= 0 {
		rows = DefaultRowGroupRows
	}
	var codec compress.Codec
	switch strings.ToLower(o.Compression) {
	case "", "zstd":
		codec = &parquet.Zstd
	case "snappy":
		codec = &parquet.Snappy
	case "gzip":
		codec = &parquet.Gzip
	case "lz4":
		codec = &parquet.Lz4Raw
	case "none", "uncompressed":
		codec = &parquet.Uncompressed
	default:
		return nil, fmt.Errorf("dataio: unknown parquet compression %q", o.Compression)
	}
	pv := o.PageVersion
	switch pv {
	case 0:
		pv = 1
	case 1, 2:
	default:
		return nil, fmt.Errorf("dataio: parquet data page version %d: want 1 or 2", o.PageVersion)
	}
	return []parquet.WriterOption{parquet.Compression(codec), parquet.MaxRowsPerRowGroup(rows), parquet.DataPageVersion(pv), createdBy()}, nil
}

// align verifies that cols match the writer's columns by name and type
// (and, for opaque values, Parquet type) and returns them in the writer's
// order.
func (w *pqWriter) align(cols []*task.Column) ([]*task.Column, error) {
	mismatch := func() error {
		want := make([]string, len(w.cols))
		for i, o := range w.cols {
			want[i] = o.name + " " + o.typ.String()
		}
		return fmt.Errorf("dataio: parquet %s: batch has columns %s, want %s", w.af.Name(), colNames(cols), strings.Join(want, ", "))
	}
	if len(cols) != len(w.cols) {
		return nil, mismatch()
	}
	out := make([]*task.Column, len(cols))
	for i, o := range w.cols {
		var c *task.Column
		for _, cand := range cols {
			if cand.Name == o.name {
				c = cand
				break
			}
		}
		if c == nil || c.Type != o.typ {
			return nil, mismatch()
		}
		if c.Type == task.Opaque && c.SourceType != o.source {
			return nil, fmt.Errorf("dataio: parquet %s: column %q holds values of another Parquet type than the file's first batch", w.af.Name(), c.Name)
		}
		out[i] = c
	}
	return out, nil
}

func colNames(cols []*task.Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.Name + " " + c.Type.String()
	}
	return strings.Join(s, ", ")
}

// ParquetWriter writes DocumentBatches to one Parquet file. The schema is
// taken from the first batch's columns, in order. A column read from
// Parquet (its SourceType holds a Parquet type) is written with that type:
// repetition, logical type (int16, timestamp, ...), field id and, for
// Opaque columns, nested fields, all as read. Any other column is
// optional (it may hold nulls) and typed by its task type: String as
// string, Bytes as binary, Int64 as int64, Float64 as double, Bool as
// boolean and Uint32List as list<uint32>. Nulls are written as nulls; a
// null in a column whose Parquet type is required, or an integer that does
// not fit a narrower Parquet type, is an error naming the column and row.
// Later batches must have the same columns and types (in any order).
// Columns whose names start with InternalPrefix are left out unless
// IncludeInternal is set.
//
// String columns that hold raw JSON text (those the batch's metadata lists
// under MetaRawJSONColumns, such as the JSONL reader's id column) are
// written as what the text means: a JSON string as the string, null or a
// missing value as a null, any other value as its JSON text.
//
// When the first batch carries the key/value metadata of the Parquet file
// it was read from (ReadOptions.FileMetadata), the file gets it too; keys
// that describe the columns (ARROW:schema, pandas) only when the columns
// written are the source file's, in its order, with their Parquet types.
//
// The file appears at its path only when Close succeeds.
type ParquetWriter struct {
	path string
	opts ParquetWriterOptions
	af   Writer
	w    *pqWriter
	err  error
}

// CreateParquet starts a Parquet file at path.
func CreateParquet(path string, opts ParquetWriterOptions) (*ParquetWriter, error) {
	if _, err := opts.writerOptions(); err != nil {
		return nil, err
	}
	af, err := createWriter(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return &ParquetWriter{path: path, opts: opts, af: af}, nil
}

// Write appends the rows of b.
func (w *ParquetWriter) Write(b *task.DocumentBatch) error {
	if w.err != nil {
		return w.err
	}
	if err := b.Validate(); err != nil {
		return w.fail(fmt.Errorf("dataio: parquet %s: %w", w.path, err))
	}
	var raw map[string]bool
	if m := b.Metadata[MetaRawJSONColumns]; m != "" {
		raw = make(map[string]bool)
		for _, name := range strings.Split(m, ",") {
			raw[name] = true
		}
	}
	var cols []*task.Column
	for _, c := range b.Columns {
		if w.opts.IncludeInternal || !strings.HasPrefix(c.Name, InternalPrefix) {
			if raw[c.Name] && c.Type == task.String {
				c = fromRawJSON(c)
			}
			cols = append(cols, c)
		}
	}
	if w.w == nil {
		pw, err := newPQWriter(w.af, cols, w.opts, true)
		if err != nil {
			return w.fail(err)
		}
		w.w = pw
		kv, err := keyValueFor(b, cols)
		if err != nil {
			return w.fail(fmt.Errorf("dataio: parquet %s: %w", w.path, err))
		}
		pw.setKeyValue(kv)
	}
	cols, err := w.w.align(cols)
	if err != nil {
		return w.fail(err)
	}
	if err := w.w.write(cols); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *ParquetWriter) fail(err error) error {
	w.err = err
	w.af.Abort()
	return err
}

// Rows returns the number of rows written so far.
func (w *ParquetWriter) Rows() int64 {
	if w.w == nil {
		return 0
	}
	return w.w.n
}

// Close finishes the file and renames it into place. It returns ErrNoSchema,
// creating nothing, if no batch was written. After a failed Write, Close
// returns that error and nothing is created.
func (w *ParquetWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errors.New("dataio: parquet writer is closed")
	if w.w == nil {
		w.af.Abort()
		return ErrNoSchema
	}
	return w.w.commit()
}

// Abort discards the output. It is a no-op after Close.
func (w *ParquetWriter) Abort() {
	if w.err == nil {
		w.err = errors.New("dataio: parquet writer is aborted")
	}
	w.af.Abort()
}

// schemaKeys are key/value metadata keys that describe a file's columns,
// written back only when the columns are unchanged.
var schemaKeys = []string{"ARROW:schema", "pandas"}

// keyValueFor returns the key/value metadata to write for a file whose
// first batch is b and whose columns are cols (see ParquetWriter).
func keyValueFor(b *task.DocumentBatch, cols []*task.Column) (map[string]string, error) {
	raw := b.Metadata[MetaParquetKeyValue]
	if raw == "" {
		return nil, nil
	}
	var kv map[string]string
	if err := json.Unmarshal([]byte(raw), &kv); err != nil {
		return nil, fmt.Errorf("batch metadata %s: %w", MetaParquetKeyValue, err)
	}
	var fields []string
	_ = json.Unmarshal([]byte(b.Metadata[MetaParquetFields]), &fields)
	same := len(fields) == len(cols)
	for i, c := range cols {
		same = same && c.Name == fields[i] && strings.HasPrefix(c.SourceType, parquetSourcePrefix)
	}
	if !same {
		for _, k := range schemaKeys {
			delete(kv, k)
		}
	}
	return kv, nil
}

// fromRawJSON returns a copy of c, a column of raw JSON text (the JSONL
// reader's id column), holding what the text means: a JSON string becomes
// the string, null or a missing value ("") becomes a null, any other JSON
// value (a number, an object) keeps its text.
func fromRawJSON(c *task.Column) *task.Column {
	out := &task.Column{Name: c.Name, Type: task.String, Strings: make([]string, len(c.Strings)), SourceType: c.SourceType}
	for i, v := range c.Strings {
		var s string
		switch {
		case c.IsNull(i) || v == "" || v == "null":
			out.SetNull(i)
		case v[0] == '"' && json.Unmarshal([]byte(v), &s) == nil:
			out.Strings[i] = s
		default:
			out.Strings[i] = v
		}
	}
	return out
}
