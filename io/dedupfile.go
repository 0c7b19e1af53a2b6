package dataio

import (
	"fmt"
	"io"

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
	af, err := createAtomic(path)
	if err != nil {
		return nil, err
	}
	w, err := newPQWriter(af, cols, opts)
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
			t.fail(fmt.Errorf("dataio: parquet %s: column %q has %d values, column %q has %d", t.w.af.final, cols[0].Name, n, c.Name, c.Len()))
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
	t.err = fmt.Errorf("dataio: parquet %s: writer is closed", t.w.af.final)
	return t.w.commit()
}

func (t *typedWriter) abort() {
	if t.err == nil {
		t.err = fmt.Errorf("dataio: parquet %s: writer is aborted", t.w.af.final)
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
	if err := p.selectColumns(want); err != nil {
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

// SignatureWriter writes a MinHash signature file: Parquet with columns
// DedupIDColumn (int64) and SignatureColumn (list<uint32>).
type SignatureWriter struct{ t *typedWriter }

// CreateSignatureFile starts a signature file at path. It appears there when
// Close succeeds.
func CreateSignatureFile(path string, opts ParquetWriterOptions) (*SignatureWriter, error) {
	t, err := createTyped(path, []*task.Column{
		{Name: DedupIDColumn, Type: task.Int64},
		{Name: SignatureColumn, Type: task.Uint32List},
	}, opts)
	if err != nil {
		return nil, err
	}
	return &SignatureWriter{t}, nil
}

// Write appends rows (ids[i], sigs[i]). The slices must have equal lengths.
func (w *SignatureWriter) Write(ids []int64, sigs [][]uint32) error {
	return w.t.write(&task.Column{Name: DedupIDColumn, Type: task.Int64, Ints: ids},
		&task.Column{Name: SignatureColumn, Type: task.Uint32List, U32s: sigs})
}

// Rows returns the number of rows written so far.
func (w *SignatureWriter) Rows() int64 { return w.t.w.n }

// Close finishes the file and moves it into place.
func (w *SignatureWriter) Close() error { return w.t.close() }

// Abort discards the file.
func (w *SignatureWriter) Abort() { w.t.abort() }

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
type GroupWriter struct{ t *typedWriter }

// CreateGroupFile starts a group file at path. It appears there when Close
// succeeds.
func CreateGroupFile(path string, opts ParquetWriterOptions) (*GroupWriter, error) {
	t, err := createTyped(path, []*task.Column{
		{Name: DedupIDColumn, Type: task.Int64},
		{Name: GroupColumn, Type: task.Int64},
	}, opts)
	if err != nil {
		return nil, err
	}
	return &GroupWriter{t}, nil
}

// Write appends rows (ids[i], groups[i]). The slices must have equal lengths.
func (w *GroupWriter) Write(ids, groups []int64) error {
	return w.t.write(&task.Column{Name: DedupIDColumn, Type: task.Int64, Ints: ids},
		&task.Column{Name: GroupColumn, Type: task.Int64, Ints: groups})
}

// Rows returns the number of rows written so far.
func (w *GroupWriter) Rows() int64 { return w.t.w.n }

// Close finishes the file and moves it into place.
func (w *GroupWriter) Close() error { return w.t.close() }

// Abort discards the file.
func (w *GroupWriter) Abort() { w.t.abort() }

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
