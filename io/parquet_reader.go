package dataio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/sluice-data/sluice/task"
)

// ParquetReader reads Parquet files, in order, into DocumentBatches.
//
// Every top-level column (or those named by ReadOptions.Columns, plus the
// text column, minus those named by ReadOptions.DropColumns) becomes a
// column: string, enum and JSON become String; other binary becomes Bytes;
// signed and unsigned integers up to 32 bits and int64 become Int64; float
// and double become Float64; boolean becomes Bool; a list of uint32 whose
// elements cannot be null becomes Uint32List. Every other field (nested
// structs, lists and maps, timestamps, dates, decimals, uint64, int96,
// fixed-length binary, ...) becomes an Opaque column that carries the
// field's Parquet values unchanged, which a Parquet writer writes back
// as they were and the JSONL writer renders as JSON. Each column's
// SourceType records its Parquet type (repetition, logical type, field id,
// children), so that a Parquet writer keeps the schema.
//
// Nulls are kept: a null value (or a null list, struct or map) is a null
// row of its column (see task.Column.Nulls). A null in the text column is
// a bad record, as is text that is not valid UTF-8. The text column may be
// a string or plain binary column. FileColumn and RowColumn are appended
// to every batch.
//
// All files must have the same columns with the same types (in any order);
// the first file's order is used. A batch ends at the end of a file whose
// next file's columns have other Parquet types (such as int32 and int64),
// so that a column's SourceType holds for all of its rows. A zero-byte file
// and a file without rows count as empty files.
//
// A ParquetReader is not safe for concurrent use.
type ParquetReader struct {
	opts   ReadOptions
	want   map[string]bool // nil: all columns
	drop   map[string]bool
	paths  []string
	next   int
	cur    *pqFile
	stats  ReadStats
	err    error
	schema []pqColumn // the first file's columns, in output order
	first  string     // path that defined schema
	text   int        // index of the text column in schema
	// section, when set, restricts the (single) file to some row groups.
	section *Section
}

// NewParquetReader returns a reader over paths, read in the order given.
// Files are opened lazily by Next.
func NewParquetReader(paths []string, opts ReadOptions) (*ParquetReader, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &ParquetReader{opts: o, paths: slices.Clone(paths)}
	if o.Columns != nil {
		r.want = map[string]bool{o.TextField: true}
		for _, c := range o.Columns {
			r.want[c] = true
		}
	}
	if len(o.DropColumns) > 0 {
		r.drop = make(map[string]bool, len(o.DropColumns))
		for _, c := range o.DropColumns {
			if c == o.TextField {
				return nil, fmt.Errorf("dataio: cannot drop the text column %q", c)
			}
			if r.want[c] {
				return nil, fmt.Errorf("dataio: column %q is both read and dropped", c)
			}
			r.drop[c] = true
		}
	}
	return r, nil
}

// Stats implements BatchReader.
func (r *ParquetReader) Stats() ReadStats { return r.stats }

// Close implements BatchReader.
func (r *ParquetReader) Close() error {
	var err error
	if r.cur != nil {
		err = r.cur.close()
		r.cur = nil
	}
	if r.err == nil {
		r.err = errors.New("dataio: reader is closed")
	}
	if err != nil {
		return fmt.Errorf("dataio: close: %w", err)
	}
	return nil
}

// Next implements BatchReader.
func (r *ParquetReader) Next(ctx context.Context) (*task.DocumentBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	b, err := r.fill(ctx)
	if err != nil {
		r.err = err
		return nil, err
	}
	if b == nil {
		r.err = io.EOF
		return nil, io.EOF
	}
	return b, nil
}

func (r *ParquetReader) fill(ctx context.Context) (*task.DocumentBatch, error) {
	var (
		cols  []*task.Column
		files []string
		rows  []int64
		bad   []int // rows to drop (Skip policy)
		// fileMeta is the batch metadata FileMetadata asks for.
		fileMeta map[string]string
	)
	n := r.opts.BatchRows
	got := 0
	for got < n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.cur == nil {
			if r.next >= len(r.paths) || (got > 0 && r.opts.FileMetadata) {
				break
			}
			if err := r.open(r.paths[r.next]); err != nil {
				return nil, err
			}
			r.next++
		}
		if cols != nil && !sameSources(cols, r.cur.cols) {
			break // the next file's types differ: it starts the next batch
		}
		if cols == nil && r.schema != nil && r.cur.pf != nil {
			cols = emptyColumns(r.cur.cols, min(n, 4096))
			if r.opts.FileMetadata {
				fileMeta = r.fileMetadata()
			}
		}
		k, err := r.cur.readInto(cols, n-got, false)
		if err == io.EOF {
			if err := r.closeCurrent(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		firstRow := r.cur.row - int64(k)
		if bad, err = r.checkText(cols[r.text].Strings[got:got+k], firstRow, got, bad); err != nil {
			return nil, err
		}
		for i := 0; i < k; i++ {
			files = append(files, r.cur.path)
			rows = append(rows, firstRow+int64(i))
		}
		got += k
	}
	if got == 0 {
		return nil, nil
	}
	b := &task.DocumentBatch{Header: task.Header{DatasetName: r.opts.Dataset}, TextColumn: r.opts.TextField}
	for k, v := range fileMeta {
		b.Meta()[k] = v
	}
	b.Columns = append(cols,
		&task.Column{Name: FileColumn, Type: task.String, Strings: files},
		&task.Column{Name: RowColumn, Type: task.Int64, Ints: rows})
	if len(bad) > 0 {
		keep := make([]bool, got)
		for i := range keep {
			keep[i] = true
		}
		for _, i := range bad {
			keep[i] = false
		}
		b = b.Filter(keep)
	}
	r.stats.Rows += int64(b.NumRows())
	return b, nil
}

// closeCurrent closes the file that has been read to its end.
func (r *ParquetReader) closeCurrent() error {
	if r.cur.numRows() == 0 {
		r.stats.EmptyFiles++
	}
	err := r.cur.close()
	path := r.cur.path
	r.cur = nil
	if err != nil {
		return fmt.Errorf("dataio: close %s: %w", path, err)
	}
	return nil
}

// checkText handles the bad texts among texts, the rows just read (the
// first being row firstRow of the file, and row got of the batch): nulls
// the decoder reported, and invalid UTF-8. It returns bad with the batch
// rows to drop appended, or the error the Fail policy asks for.
func (r *ParquetReader) checkText(texts []string, firstRow int64, got int, bad []int) ([]int, error) {
	badText := make(map[int]string)
	for _, nl := range r.cur.nulls {
		badText[nl.row] = "null text"
	}
	for i, t := range texts {
		if _, isNull := badText[i]; !isNull && !utf8.ValidString(t) {
			badText[i] = "invalid UTF-8 in text"
		}
	}
	for i := range texts {
		if reason, isBad := badText[i]; isBad {
			rec := &BadRecordError{File: r.cur.path, Row: firstRow + int64(i), Field: r.opts.TextField, Reason: reason}
			if err := handleBad(r.opts, &r.stats, rec); err != nil {
				return bad, err
			}
			bad = append(bad, got+i)
		}
	}
	return bad, nil
}

// open opens path and checks its columns against the schema.
func (r *ParquetReader) open(path string) error {
	p, err := openPQ(path)
	if err != nil {
		return err
	}
	r.stats.Files++
	if err := r.bind(p); err != nil {
		p.close()
		return err
	}
	size := p.size
	if s := r.section; s != nil && p.pf != nil {
		meta := p.pf.Metadata().RowGroups
		if s.FirstRowGroup+s.RowGroups > len(meta) {
			p.close()
			return fmt.Errorf("dataio: parquet %s: section of row groups %d..%d, the file has %d", path, s.FirstRowGroup, s.FirstRowGroup+s.RowGroups-1, len(meta))
		}
		p.rg, p.rgEnd, p.row = s.FirstRowGroup, s.FirstRowGroup+s.RowGroups, s.FirstRow
		// A section reads its own row groups, as a JSONL section its own
		// byte range: count their compressed size, not the whole file's.
		size = 0
		for _, rg := range meta[s.FirstRowGroup : s.FirstRowGroup+s.RowGroups] {
			size += rg.TotalCompressedSize
		}
	}
	r.stats.FileBytes += size
	r.stats.Bytes += size
	r.cur = p
	return nil
}

func (r *ParquetReader) bind(p *pqFile) error {
	if p.pf == nil {
		return nil // zero-byte file: no columns, no rows
	}
	if err := p.selectColumns(r.want, r.drop); err != nil {
		return err
	}
	found := make(map[string]int, len(p.cols))
	for i, c := range p.cols {
		if c.name == FileColumn || c.name == RowColumn || c.name == RawColumn {
			return fmt.Errorf("dataio: parquet %s: column %q clashes with a provenance column; leave it out with ReadOptions.Columns", p.path, c.name)
		}
		found[c.name] = i
	}
	for name := range r.want {
		if _, ok := found[name]; !ok {
			return fmt.Errorf("dataio: parquet %s: no column %q", p.path, name)
		}
	}
	if err := r.checkDropped(p); err != nil {
		return err
	}
	ti, ok := found[r.opts.TextField]
	if !ok {
		return fmt.Errorf("dataio: parquet %s: no text column %q", p.path, r.opts.TextField)
	}
	tc := &p.cols[ti]
	switch {
	case tc.typ == task.String:
	case tc.typ == task.Bytes:
		tc.kind, tc.typ = pqString, task.String // validated as UTF-8 on read
	default:
		return fmt.Errorf("dataio: parquet %s: text column %q has type %s, want string", p.path, tc.name, describeNode(tc.node))
	}
	for i := range p.cols {
		src, err := encodeNode(p.cols[i].node)
		if err != nil {
			return fmt.Errorf("dataio: parquet %s: column %q: %w", p.path, p.cols[i].name, err)
		}
		p.cols[i].source = src
	}
	if r.schema == nil {
		r.schema = slices.Clone(p.cols)
		r.first = p.path
		r.text = ti
	} else {
		// Reorder p's columns to the first file's order.
		if len(p.cols) != len(r.schema) {
			return r.schemaMismatch(p)
		}
		ordered := make([]pqColumn, len(r.schema))
		for i, want := range r.schema {
			j, ok := found[want.name]
			if !ok || p.cols[j].typ != want.typ {
				return r.schemaMismatch(p)
			}
			if want.typ == task.Opaque && p.cols[j].source != want.source {
				return r.schemaMismatch(p)
			}
			ordered[i] = p.cols[j]
		}
		p.cols = ordered
	}
	p.setColumns(p.cols)
	p.strict[r.text] = true
	return nil
}

func (r *ParquetReader) schemaMismatch(p *pqFile) error {
	return fmt.Errorf("dataio: parquet %s: columns %s differ from those of %s: %s", p.path, describe(p.cols), r.first, describe(r.schema))
}

func describe(cols []pqColumn) string {
	s := "("
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += c.name + " " + describeNode(c.node)
	}
	return s + ")"
}

// checkDropped fails when DropColumns names a column p lacks (a typo would
// otherwise keep the column).
func (r *ParquetReader) checkDropped(p *pqFile) error {
	for name := range r.drop {
		found := false
		for _, f := range p.pf.Schema().Fields() {
			found = found || f.Name() == name
		}
		if !found {
			return fmt.Errorf("dataio: parquet %s: no column %q to drop", p.path, name)
		}
	}
	return nil
}

// sameSources reports whether the columns of a batch being filled have the
// source types of cols (a file's columns in the same order).
func sameSources(batch []*task.Column, cols []pqColumn) bool {
	if len(batch) != len(cols) {
		return false
	}
	for i, c := range batch {
		if c.SourceType != cols[i].source {
			return false
		}
	}
	return true
}

// Batch metadata keys set by a ParquetReader with ReadOptions.FileMetadata.
const (
	// MetaParquetKeyValue holds the source file's key/value metadata, a
	// JSON object.
	MetaParquetKeyValue = "parquet.key_value_metadata"
	// MetaParquetFields holds the names of the source file's top-level
	// fields, in order, a JSON array.
	MetaParquetFields = "parquet.fields"
)

// fileMetadata returns the batch metadata FileMetadata asks for, from the
// open file.
func (r *ParquetReader) fileMetadata() map[string]string {
	kv := make(map[string]string)
	for _, e := range r.cur.pf.Metadata().KeyValueMetadata {
		kv[e.Key] = e.Value
	}
	var fields []string
	for _, f := range r.cur.pf.Schema().Fields() {
		fields = append(fields, f.Name())
	}
	kvJSON, _ := json.Marshal(kv)
	fieldsJSON, _ := json.Marshal(fields)
	return map[string]string{MetaParquetKeyValue: string(kvJSON), MetaParquetFields: string(fieldsJSON)}
}
