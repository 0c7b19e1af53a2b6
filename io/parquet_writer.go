package dataio

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"unsafe"

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

// pqWriter writes rows of task.Columns to an atomically created file.
type pqWriter struct {
	af    *atomicFile
	bw    *bufio.Writer
	w     *parquet.Writer
	types []task.ColumnType
	names []string
	leaf  []int
	rows  []parquet.Row
	n     int64
	// rgBytes counts the value bytes written since the last row group
	// ended; maxRGBytes bounds it.
	rgBytes, maxRGBytes int64
}

// newPQWriter starts a file at path with the schema of cols.
func newPQWriter(af *atomicFile, cols []*task.Column, opts ParquetWriterOptions) (*pqWriter, error) {
	wopts, err := opts.writerOptions()
	if err != nil {
		return nil, err
	}
	schema, err := schemaFor(cols)
	if err != nil {
		return nil, fmt.Errorf("dataio: parquet %s: %w", af.final, err)
	}
	w := &pqWriter{af: af, bw: bufio.NewWriterSize(af, 1<<20), maxRGBytes: opts.RowGroupBytes}
	if w.maxRGBytes <= 0 {
		w.maxRGBytes = DefaultRowGroupBytes
	}
	leaf := 0
	for _, c := range cols {
		w.types = append(w.types, c.Type)
		w.names = append(w.names, c.Name)
		w.leaf = append(w.leaf, leaf)
		leaf++ // every column type we write has exactly one leaf
	}
	w.w = parquet.NewWriter(w.bw, append(wopts, schema)...)
	return w, nil
}

// write appends the rows of cols (aligned with the writer's columns).
func (w *pqWriter) write(cols []*task.Column) error {
	if len(cols) == 0 {
		return nil
	}
	n := cols[0].Len()
	const chunk = 1024
	if w.rows == nil {
		w.rows = make([]parquet.Row, chunk)
	}
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		rows := w.rows[:to-from]
		for i := range rows {
			rows[i] = rows[i][:0]
		}
		for j, c := range cols {
			leaf := w.leaf[j]
			for i := from; i < to; i++ {
				row := rows[i-from]
				switch c.Type {
				case task.String:
					s := c.Strings[i]
					w.rgBytes += int64(len(s))
					// The writer copies the bytes before WriteRows returns,
					// so viewing the string's bytes without a copy is safe.
					row = append(row, parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))).Level(0, 0, leaf))
				case task.Bytes:
					w.rgBytes += int64(len(c.Bytes[i]))
					row = append(row, parquet.ByteArrayValue(c.Bytes[i]).Level(0, 0, leaf))
				case task.Int64:
					row = append(row, parquet.Int64Value(c.Ints[i]).Level(0, 0, leaf))
				case task.Float64:
					row = append(row, parquet.DoubleValue(c.Floats[i]).Level(0, 0, leaf))
				case task.Bool:
					row = append(row, parquet.BooleanValue(c.Bools[i]).Level(0, 0, leaf))
				case task.Uint32List:
					l := c.U32s[i]
					w.rgBytes += int64(4 * len(l))
					if len(l) == 0 {
						row = append(row, parquet.NullValue().Level(0, 0, leaf))
					}
					for k, x := range l {
						rep := 1
						if k == 0 {
							rep = 0
						}
						row = append(row, parquet.Int32Value(int32(x)).Level(rep, 1, leaf))
					}
				}
				rows[i-from] = row
			}
		}
		if _, err := w.w.WriteRows(rows); err != nil {
			return fmt.Errorf("dataio: write parquet %s: %w", w.af.final, err)
		}
		w.rgBytes += int64(8 * (to - from) * len(cols)) // fixed-width values, roughly
		if w.rgBytes >= w.maxRGBytes {
			if err := w.w.Flush(); err != nil {
				return fmt.Errorf("dataio: write parquet %s: %w", w.af.final, err)
			}
			w.rgBytes = 0
		}
	}
	w.n += int64(n)
	return nil
}

// commit writes the footer and moves the file into place.
func (w *pqWriter) commit() error {
	if err := w.w.Close(); err != nil {
		w.af.Abort()
		return fmt.Errorf("dataio: finish parquet %s: %w", w.af.final, err)
	}
	if err := w.bw.Flush(); err != nil {
		w.af.Abort()
		return fmt.Errorf("dataio: write parquet %s: %w", w.af.final, err)
	}
	return w.af.Commit()
}

// checkColumns verifies that cols match the writer's schema by name and
// type and returns them in schema order.
func (w *pqWriter) align(cols []*task.Column) ([]*task.Column, error) {
	if len(cols) != len(w.names) {
		return nil, fmt.Errorf("dataio: parquet %s: batch has columns %s, want %s", w.af.final, colNames(cols), strings.Join(w.names, ", "))
	}
	out := make([]*task.Column, len(cols))
	for i, name := range w.names {
		var c *task.Column
		for _, cand := range cols {
			if cand.Name == name {
				c = cand
				break
			}
		}
		if c == nil || c.Type != w.types[i] {
			return nil, fmt.Errorf("dataio: parquet %s: batch has columns %s, want %s", w.af.final, colNames(cols), strings.Join(w.names, ", "))
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
// taken from the first batch's columns, in order, every column required (no
// nulls): String as string, Bytes as binary, Int64 as int64, Float64 as
// double, Bool as boolean and Uint32List as list<uint32>. Later batches must
// have the same columns and types (in any order). Columns whose names start
// with InternalPrefix are left out unless IncludeInternal is set.
//
// The file appears at its path only when Close succeeds.
type ParquetWriter struct {
	path string
	opts ParquetWriterOptions
	af   *atomicFile
	w    *pqWriter
	err  error
}

// CreateParquet starts a Parquet file at path.
func CreateParquet(path string, opts ParquetWriterOptions) (*ParquetWriter, error) {
	if _, err := opts.writerOptions(); err != nil {
		return nil, err
	}
	af, err := createAtomic(path)
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
	var cols []*task.Column
	for _, c := range b.Columns {
		if w.opts.IncludeInternal || !strings.HasPrefix(c.Name, InternalPrefix) {
			cols = append(cols, c)
		}
	}
	if w.w == nil {
		pw, err := newPQWriter(w.af, cols, w.opts)
		if err != nil {
			return w.fail(err)
		}
		w.w = pw
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
