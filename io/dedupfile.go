package dataio

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/task"
)

// Column names of the fuzzy-dedup intermediate files.
const (
	DedupIDColumn   = "_sluice_dedup_id"
	SignatureColumn = "_minhash_signature"
	GroupColumn     = "_group"
)

// typedWriter writes a fixed set of columns to a Parquet file.
type typedWriter struct {
	w   *pqWriter
	err error
}

func createTyped(path string, cols []*task.Column, opts ParquetWriterOptions) (*typedWriter, error) {
	af, err := createWriter(context.Background(), path)
	if err != nil {
		return nil, err
	}
	w, err := newPQWriter(af, cols, opts, false)
	if err != nil {
		af.Abort()
		return nil, err
	}
	return &typedWriter{w: w}, nil
}

func (t *typedWriter) write(cols ...*task.Column) error {
	if t.err != nil {
		return t.err
	}
	n := cols[0].Len()
	for _, c := range cols[1:] {
		if c.Len() != n {
			t.fail(fmt.Errorf("dataio: parquet %s: column %q has %d values, column %q has %d", t.w.af.Name(), cols[0].Name, n, c.Name, c.Len()))
			return t.err
		}
	}
	if err := t.w.write(cols); err != nil {
		t.fail(err)
	}
	return t.err
}

func (t *typedWriter) fail(err error) {
	t.err = err
	t.w.af.Abort()
}

func (t *typedWriter) close() error {
	if t.err != nil {
		return t.err
	}
	t.err = fmt.Errorf("dataio: parquet %s: writer is closed", t.w.af.Name())
	return t.w.commit()
}

func (t *typedWriter) abort() {
	if t.err == nil {
		t.err = fmt.Errorf("dataio: parquet %s: writer is aborted", t.w.af.Name())
	}
	t.w.af.Abort()
}

// typedReader streams fixed columns of a Parquet file, one row group (or
// maxRows rows of it) per call.
type typedReader struct {
	p       *pqFile
	maxRows int
}

// openTyped opens path and checks that it has the named columns with the
// given types. Nulls in any of them are errors.
func openTyped(path string, maxRows int, names []string, types []task.ColumnType) (*typedReader, error) {
	p, err := openPQ(path)
	if err != nil {
		return nil, err
	}
	if p.pf == nil {
		return &typedReader{p: p, maxRows: maxRows}, nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	if err := p.selectColumns(want, nil); err != nil {
		p.close()
		return nil, err
	}
	ordered := make([]pqColumn, len(names))
	for i, n := range names {
		found := false
		for _, c := range p.cols {
			if c.name == n {
				if c.typ != types[i] {
					p.close()
					return nil, fmt.Errorf("dataio: parquet %s: column %q has type %s, want %s", path, n, c.typ, types[i])
				}
				ordered[i], found = c, true
			}
		}
		if !found {
			p.close()
			return nil, fmt.Errorf("dataio: parquet %s: no column %q", path, n)
		}
	}
	p.setColumns(ordered)
	for i := range p.strict {
		p.strict[i] = true
	}
	return &typedReader{p: p, maxRows: maxRows}, nil
}

// next reads the next chunk into fresh columns.
func (t *typedReader) next() ([]*task.Column, error) {
	n := t.maxRows
	if n <= 0 {
		n = int(min(t.p.rgLeftOrNext(), 1<<30))
	}
	cols := emptyColumns(t.p.cols, min(n, 1<<16))
	if _, err := t.p.readInto(cols, n, true); err != nil {
		return nil, err
	}
	if len(t.p.nulls) > 0 {
		nl := t.p.nulls[0]
		return nil, fmt.Errorf("dataio: parquet %s: column %q, row %d: null value", t.p.path, t.p.cols[nl.col].name, t.p.row-int64(cols[0].Len())+int64(nl.row))
	}
	return cols, nil
}

// rgLeftOrNext returns the rows left in the open row group or, when none is
// open, the rows of the next one (at least 1).
func (p *pqFile) rgLeftOrNext() int64 {
	if p.rgLeft > 0 {
		return p.rgLeft
	}
	if p.pf != nil && p.rg < len(p.pf.RowGroups()) {
		return max(p.pf.RowGroups()[p.rg].NumRows(), 1)
	}
	return 1
}

// sigRow and groupRow are the row layouts of the signature and group files.
// parquet-go's struct writer fills column buffers directly, several times
// faster than building parquet.Values for list columns.
type sigRow struct {
	ID  int64    `parquet:"_sluice_dedup_id"`
	Sig []uint32 `parquet:"_minhash_signature,list"`
}

type groupRow struct {
	ID    int64 `parquet:"_sluice_dedup_id"`
	Group int64 `parquet:"_group"`
}

// structWriter writes rows of a struct type T to an atomically created file.
type structWriter[T any] struct {
	af  Writer
	bw  *bufio.Writer
	w   *parquet.GenericWriter[T]
	buf []T
	n   int64
	err error
}

func createStruct[T any](path string, opts ParquetWriterOptions) (*structWriter[T], error) {
	wopts, err := opts.writerOptions()
	if err != nil {
		return nil, err
	}
	af, err := createWriter(context.Background(), path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(af, 1<<20)
	return &structWriter[T]{af: af, bw: bw, w: parquet.NewGenericWriter[T](bw, wopts...)}, nil
}

// write appends n rows, built by fill into a reused buffer 1024 at a time.
func (s *structWriter[T]) write(n int, fill func(dst []T, from int)) error {
	if s.err != nil {
		return s.err
	}
	if s.buf == nil {
		s.buf = make([]T, 1024)
	}
	for from := 0; from < n; from += len(s.buf) {
		chunk := s.buf[:min(len(s.buf), n-from)]
		fill(chunk, from)
		if _, err := s.w.Write(chunk); err != nil {
			s.fail(fmt.Errorf("dataio: write parquet %s: %w", s.af.Name(), err))
			return s.err
		}
	}
	clear(s.buf) // drop references to the caller's slices
	s.n += int64(n)
	return nil
}

func (s *structWriter[T]) fail(err error) {
	s.err = err
	s.af.Abort()
}

func (s *structWriter[T]) close() error {
	if s.err != nil {
		return s.err
	}
	s.err = fmt.Errorf("dataio: parquet %s: writer is closed", s.af.Name())
	if err := s.w.Close(); err != nil {
		s.af.Abort()
		return fmt.Errorf("dataio: finish parquet %s: %w", s.af.Name(), err)
	}
	if err := s.bw.Flush(); err != nil {
		s.af.Abort()
		return fmt.Errorf("dataio: write parquet %s: %w", s.af.Name(), err)
	}
	return s.af.Commit()
}

func (s *structWriter[T]) abort() {
	if s.err == nil {
		s.err = fmt.Errorf("dataio: parquet %s: writer is aborted", s.af.Name())
	}
	s.af.Abort()
}

// SignatureWriter writes a MinHash signature file: Parquet with columns
// DedupIDColumn (int64) and SignatureColumn (list<uint32>), the same layout
// ParquetWriter uses for those column types.
type SignatureWriter struct{ s *structWriter[sigRow] }

// CreateSignatureFile starts a signature file at path. It appears there when
// Close succeeds.
func CreateSignatureFile(path string, opts ParquetWriterOptions) (*SignatureWriter, error) {
	s, err := createStruct[sigRow](path, opts)
	if err != nil {
		return nil, err
	}
	return &SignatureWriter{s}, nil
}

// Write appends rows (ids[i], sigs[i]). The slices must have equal lengths.
func (w *SignatureWriter) Write(ids []int64, sigs [][]uint32) error {
	if len(ids) != len(sigs) {
		w.s.fail(fmt.Errorf("dataio: parquet %s: %d ids but %d signatures", w.s.af.Name(), len(ids), len(sigs)))
		return w.s.err
	}
	return w.s.write(len(ids), func(dst []sigRow, from int) {
		for i := range dst {
			dst[i] = sigRow{ids[from+i], sigs[from+i]}
		}
	})
}

// Rows returns the number of rows written so far.
func (w *SignatureWriter) Rows() int64 { return w.s.n }

// Close finishes the file and moves it into place.
func (w *SignatureWriter) Close() error { return w.s.close() }

// Abort discards the file.
func (w *SignatureWriter) Abort() { w.s.abort() }

// SignatureReader streams a signature file.
type SignatureReader struct{ t *typedReader }

// OpenSignatureFile opens a signature file. Next returns at most maxRows rows
// at a time, never spanning two row groups; maxRows <= 0 means whole row
// groups.
func OpenSignatureFile(path string, maxRows int) (*SignatureReader, error) {
	t, err := openTyped(path, maxRows, []string{DedupIDColumn, SignatureColumn}, []task.ColumnType{task.Int64, task.Uint32List})
	if err != nil {
		return nil, err
	}
	return &SignatureReader{t}, nil
}

// NumRows is the file's row count from its metadata.
func (r *SignatureReader) NumRows() int64 { return r.t.p.numRows() }

// Next returns the next rows, or io.EOF after the last.
func (r *SignatureReader) Next() (ids []int64, sigs [][]uint32, err error) {
	cols, err := r.t.next()
	if err != nil {
		return nil, nil, err
	}
	return cols[0].Ints, cols[1].U32s, nil
}

// Close closes the file.
func (r *SignatureReader) Close() error { return r.t.p.close() }

// GroupWriter writes a group-assignment file: Parquet with columns
// DedupIDColumn (int64) and GroupColumn (int64).
type GroupWriter struct{ s *structWriter[groupRow] }

// CreateGroupFile starts a group file at path. It appears there when Close
// succeeds.
func CreateGroupFile(path string, opts ParquetWriterOptions) (*GroupWriter, error) {
	s, err := createStruct[groupRow](path, opts)
	if err != nil {
		return nil, err
	}
	return &GroupWriter{s}, nil
}

// Write appends rows (ids[i], groups[i]). The slices must have equal lengths.
func (w *GroupWriter) Write(ids, groups []int64) error {
	if len(ids) != len(groups) {
		w.s.fail(fmt.Errorf("dataio: parquet %s: %d ids but %d groups", w.s.af.Name(), len(ids), len(groups)))
		return w.s.err
	}
	return w.s.write(len(ids), func(dst []groupRow, from int) {
		for i := range dst {
			dst[i] = groupRow{ids[from+i], groups[from+i]}
		}
	})
}

// Rows returns the number of rows written so far.
func (w *GroupWriter) Rows() int64 { return w.s.n }

// Close finishes the file and moves it into place.
func (w *GroupWriter) Close() error { return w.s.close() }

// Abort discards the file.
func (w *GroupWriter) Abort() { w.s.abort() }

// GroupReader streams a group file.
type GroupReader struct{ t *typedReader }

// OpenGroupFile opens a group file; maxRows is as for OpenSignatureFile.
func OpenGroupFile(path string, maxRows int) (*GroupReader, error) {
	t, err := openTyped(path, maxRows, []string{DedupIDColumn, GroupColumn}, []task.ColumnType{task.Int64, task.Int64})
	if err != nil {
		return nil, err
	}
	return &GroupReader{t}, nil
}

// NumRows is the file's row count from its metadata.
func (r *GroupReader) NumRows() int64 { return r.t.p.numRows() }

// Next returns the next rows, or io.EOF after the last.
func (r *GroupReader) Next() (ids, groups []int64, err error) {
	cols, err := r.t.next()
	if err != nil {
		return nil, nil, err
	}
	return cols[0].Ints, cols[1].Ints, nil
}

// Close closes the file.
func (r *GroupReader) Close() error { return r.t.p.close() }

// IDListWriter writes a Parquet file with a single int64 column, for lists
// of document ids (for example the ids to remove).
type IDListWriter struct {
	t      *typedWriter
	column string
}

// CreateIDListFile starts an id-list file at path whose column is named
// column (DedupIDColumn when empty). It appears there when Close succeeds.
func CreateIDListFile(path, column string, opts ParquetWriterOptions) (*IDListWriter, error) {
	if column == "" {
		column = DedupIDColumn
	}
	t, err := createTyped(path, []*task.Column{{Name: column, Type: task.Int64}}, opts)
	if err != nil {
		return nil, err
	}
	return &IDListWriter{t: t, column: column}, nil
}

// Write appends ids.
func (w *IDListWriter) Write(ids []int64) error {
	return w.t.write(&task.Column{Name: w.column, Type: task.Int64, Ints: ids})
}

// Rows returns the number of ids written so far.
func (w *IDListWriter) Rows() int64 { return w.t.w.n }

// Close finishes the file and moves it into place.
func (w *IDListWriter) Close() error { return w.t.close() }

// Abort discards the file.
func (w *IDListWriter) Abort() { w.t.abort() }

// IDListReader streams an id-list file.
type IDListReader struct{ t *typedReader }

// OpenIDListFile opens an id-list file and reads its int64 column named
// column (DedupIDColumn when empty); maxRows is as for OpenSignatureFile.
func OpenIDListFile(path, column string, maxRows int) (*IDListReader, error) {
	if column == "" {
		column = DedupIDColumn
	}
	t, err := openTyped(path, maxRows, []string{column}, []task.ColumnType{task.Int64})
	if err != nil {
		return nil, err
	}
	return &IDListReader{t}, nil
}

// NumRows is the file's row count from its metadata.
func (r *IDListReader) NumRows() int64 { return r.t.p.numRows() }

// Next returns the next ids, or io.EOF after the last.
func (r *IDListReader) Next() ([]int64, error) {
	cols, err := r.t.next()
	if err != nil {
		return nil, err
	}
	return cols[0].Ints, nil
}

// Close closes the file.
func (r *IDListReader) Close() error { return r.t.p.close() }

// ReadAllIDs reads every id of an id-list file into memory; for files known
// to be small.
func ReadAllIDs(path, column string) ([]int64, error) {
	r, err := OpenIDListFile(path, column, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var all []int64
	for {
		ids, err := r.Next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, ids...)
	}
}
