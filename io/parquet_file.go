package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/task"
)

// valueBufferSize is the number of parquet.Values buffered per column.
const valueBufferSize = 1024

// colCursor streams the values of one column chunk.
type colCursor struct {
	r      parquet.ColumnChunkValueReader
	buf    []parquet.Value
	pos, n int
	eof    bool
}

// peek returns the next value without consuming it, or io.EOF. The value
// stays valid until the cursor is refilled, so callers copy what they need
// before asking for the value after it.
func (c *colCursor) peek() (*parquet.Value, error) {
	for c.pos >= c.n {
		if c.eof {
			return nil, io.EOF
		}
		n, err := c.r.ReadValues(c.buf)
		c.pos, c.n = 0, n
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			return nil, err
		}
		if n == 0 && !c.eof {
			return nil, io.ErrNoProgress
		}
	}
	return &c.buf[c.pos], nil
}

func (c *colCursor) next() (*parquet.Value, error) {
	v, err := c.peek()
	if err == nil {
		c.pos++
	}
	return v, err
}

// pqFile is an open Parquet file read column by column, a bounded number of
// rows at a time.
type pqFile struct {
	path    string
	osf     io.Closer
	pf      *parquet.File // nil for a zero-byte file
	size    int64
	cols    []pqColumn
	rg      int   // index of the next row group to open
	rgEnd   int   // row groups from rgEnd on are not read; 0: read to the end
	rgLeft  int64 // rows left in the open row group
	cursors []colCursor
	lists   []*listCursor // per column; nil for scalar columns
	opaque  [][]colCursor // per column, one per leaf; nil for others
	arena   []byte        // holds opaque values
	row     int64         // index in the file of the next row to read
	// nulls lists, after readInto, the offsets (relative to the first row
	// read by that call) of rows where a strict column was null.
	nulls  []nullAt
	strict []bool
}

type nullAt struct {
	col int
	row int
}

// corruptError converts a panic inside the Parquet decoder into an error.
func corruptError(path string, p any) error {
	return fmt.Errorf("dataio: parquet %s: corrupt file: %v", path, p)
}

// hideEOF keeps io.EOF out of an error's chain, so that a damaged file is
// never mistaken for the end of the input by callers testing
// errors.Is(err, io.EOF).
func hideEOF(err error) error {
	if err == nil || !errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%s: %w", err.Error(), io.ErrUnexpectedEOF)
}

// openPQ opens path. A zero-byte file opens as an empty file without schema.
// Local files are os files; objects are read by ranged GETs (the footer,
// then the column chunks a read needs), with larger read buffers.
func openPQ(path string) (p *pqFile, err error) {
	var (
		f    io.ReaderAt
		c    io.Closer
		size int64
	)
	opts := []parquet.FileOption{parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true)}
	if !IsURL(path) {
		osf, err := openLocalFile(LocalPath(path))
		if err != nil {
			return nil, fmt.Errorf("dataio: open %s: %w", path, err)
		}
		fi, err := osf.Stat()
		if err != nil {
			osf.Close()
			return nil, fmt.Errorf("dataio: stat %s: %w", path, err)
		}
		f, c, size = osf, osf, fi.Size()
	} else {
		rf, err := Open(context.Background(), path)
		if err != nil {
			return nil, fmt.Errorf("dataio: open %s: %w", path, err)
		}
		f, c, size = rf, rf, rf.Size()
		opts = append(opts, parquet.ReadBufferSize(s3ParquetBuffer))
	}
	p = &pqFile{path: path, osf: c, size: size}
	if p.size == 0 {
		return p, nil
	}
	defer func() {
		if r := recover(); r != nil {
			c.Close()
			p, err = nil, corruptError(path, r)
		}
	}()
	pf, err := parquet.OpenFile(f, p.size, opts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dataio: parquet %s: %w", path, hideEOF(err))
	}
	p.pf = pf
	return p, nil
}

// numRows is the file's row count from its metadata.
func (p *pqFile) numRows() int64 {
	if p.pf == nil {
		return 0
	}
	return p.pf.NumRows()
}

// selectColumns maps the columns named in want (all when nil) but not in
// drop and makes them the columns readInto fills, in file order.
func (p *pqFile) selectColumns(want, drop map[string]bool) error {
	if p.pf == nil {
		p.cols = nil
		return nil
	}
	cols, err := mapSchema(p.path, p.pf.Schema(), want, drop)
	if err != nil {
		return err
	}
	p.setColumns(cols)
	return nil
}

func (p *pqFile) setColumns(cols []pqColumn) {
	p.cols = cols
	p.strict = make([]bool, len(cols))
}

func (p *pqFile) closeCursors() {
	for i := range p.cursors {
		if p.cursors[i].r != nil {
			p.cursors[i].r.Close()
		}
	}
	for _, l := range p.lists {
		if l != nil {
			l.close()
		}
	}
	for _, cs := range p.opaque {
		for i := range cs {
			cs[i].r.Close()
		}
	}
	p.cursors, p.lists, p.opaque = p.cursors[:0], p.lists[:0], p.opaque[:0]
}

func (p *pqFile) close() error {
	p.closeCursors()
	return p.osf.Close()
}

// readInto appends up to n rows to dst (one column per p.cols, in order) and
// returns how many it read, or io.EOF when the file is exhausted. With
// oneGroup it stops at the end of the row group it started in.
func (p *pqFile) readInto(dst []*task.Column, n int, oneGroup bool) (total int, err error) {
	p.nulls = p.nulls[:0]
	if p.pf == nil {
		return 0, io.EOF
	}
	defer func() {
		if r := recover(); r != nil {
			total, err = 0, corruptError(p.path, r)
		}
	}()
	groups := p.pf.RowGroups()
	if p.rgEnd > 0 {
		groups = groups[:p.rgEnd]
	}
	for total < n {
		if p.rgLeft == 0 {
			p.closeCursors()
			if (oneGroup && total > 0) || p.rg >= len(groups) {
				break
			}
			rg := groups[p.rg]
			p.rg++
			p.rgLeft = rg.NumRows()
			if err := p.openCursors(rg.ColumnChunks()); err != nil {
				return total, err
			}
			continue
		}
		k := int(min(int64(n-total), p.rgLeft))
		for i := range p.cols {
			if err := p.readColumn(i, dst[i], k, total); err != nil {
				return total, err
			}
		}
		total += k
		p.rgLeft -= int64(k)
		p.row += int64(k)
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// openCursors starts reading the columns' chunks of a new row group.
func (p *pqFile) openCursors(chunks []parquet.ColumnChunk) error {
	for _, c := range p.cols {
		if c.leaf+c.leaves > len(chunks) {
			return fmt.Errorf("dataio: parquet %s: row group %d has %d columns, want at least %d", p.path, p.rg-1, len(chunks), c.leaf+c.leaves)
		}
		var (
			cur  colCursor
			list *listCursor
			opq  []colCursor
		)
		switch {
		case c.typ == task.Opaque:
			opq = make([]colCursor, c.leaves)
			for j := range opq {
				opq[j] = colCursor{r: parquet.NewColumnChunkValueReader(chunks[c.leaf+j]), buf: make([]parquet.Value, opaqueBufferSize)}
			}
		case c.list:
			list = newListCursor(chunks[c.leaf])
		default:
			cur = colCursor{r: parquet.NewColumnChunkValueReader(chunks[c.leaf]), buf: make([]parquet.Value, valueBufferSize)}
		}
		p.cursors = append(p.cursors, cur)
		p.lists = append(p.lists, list)
		p.opaque = append(p.opaque, opq)
	}
	return nil
}

// opaqueBufferSize is the number of parquet.Values buffered per leaf of an
// opaque column; opaqueArenaChunk the size of the blocks their encoded
// values are kept in.
const (
	opaqueBufferSize = 256
	opaqueArenaChunk = 256 << 10
)

// readColumn appends k rows of column i to out; base is the offset of the
// first of them among the rows this readInto call reads.
func (p *pqFile) readColumn(i int, out *task.Column, k, base int) error {
	col := &p.cols[i]
	cur := &p.cursors[i]
	fail := func(row int, err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("dataio: parquet %s: column %q, row %d: %w", p.path, col.name, p.row+int64(row), err)
	}
	if col.list {
		l := p.lists[i]
		for r := 0; r < k; r++ {
			null, err := l.readRow(col, &out.U32s)
			if err != nil {
				return fail(r, err)
			}
			if null {
				out.SetNull(len(out.U32s) - 1)
			}
		}
		return nil
	}
	if col.typ == task.Opaque {
		for r := 0; r < k; r++ {
			if err := p.readOpaqueRow(i, out); err != nil {
				return fail(r, err)
			}
		}
		return nil
	}
	for r := 0; r < k; r++ {
		v, err := cur.next()
		if err != nil {
			return fail(r, err)
		}
		if v.RepetitionLevel() != 0 {
			return fail(r, errors.New("row does not start at repetition level 0"))
		}
		if v.IsNull() {
			if p.strict[i] {
				p.nulls = append(p.nulls, nullAt{col: i, row: base + r})
			}
			out.AppendNull()
			continue
		}
		switch col.kind {
		case pqBool:
			out.Bools = append(out.Bools, v.Boolean())
		case pqInt32:
			out.Ints = append(out.Ints, int64(v.Int32()))
		case pqUint32:
			out.Ints = append(out.Ints, int64(uint32(v.Int32())))
		case pqInt64:
			out.Ints = append(out.Ints, v.Int64())
		case pqFloat:
			out.Floats = append(out.Floats, float64(v.Float()))
		case pqDouble:
			out.Floats = append(out.Floats, v.Double())
		case pqString:
			out.Strings = append(out.Strings, string(v.ByteArray()))
		case pqBytes:
			b := v.ByteArray()
			out.Bytes = append(out.Bytes, append(make([]byte, 0, len(b)), b...))
		}
	}
	return nil
}

// readOpaqueRow appends the next row of opaque column i to out: every value
// of each of the field's leaves up to the next row, encoded (see
// appendOpaqueValue), or a null when the field itself is null.
func (p *pqFile) readOpaqueRow(i int, out *task.Column) error {
	col := &p.cols[i]
	start := len(p.arena)
	if cap(p.arena)-start < 1<<10 {
		p.arena = make([]byte, 0, opaqueArenaChunk)
		start = 0
	}
	null := false
	for j := range p.opaque[i] {
		cur := &p.opaque[i][j]
		v, err := cur.next()
		if err != nil {
			return err
		}
		if v.RepetitionLevel() != 0 {
			return errors.New("row does not start at repetition level 0")
		}
		if j == 0 {
			null = col.optional && v.DefinitionLevel() == 0
		}
		for {
			if !null {
				p.arena = appendOpaqueValue(p.arena, j, v)
			}
			if v, err = cur.peek(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			if v.RepetitionLevel() == 0 {
				break
			}
			cur.pos++
		}
	}
	if null {
		p.arena = p.arena[:start]
		out.AppendNull()
		return nil
	}
	out.Bytes = append(out.Bytes, p.arena[start:len(p.arena):len(p.arena)])
	return nil
}

// emptyColumns returns fresh columns for cols with capacity n.
func emptyColumns(cols []pqColumn, n int) []*task.Column {
	out := make([]*task.Column, len(cols))
	for i, c := range cols {
		tc := &task.Column{Name: c.name, Type: c.typ, SourceType: c.source}
		switch c.typ {
		case task.String:
			tc.Strings = make([]string, 0, n)
		case task.Bytes, task.Opaque:
			tc.Bytes = make([][]byte, 0, n)
		case task.Int64:
			tc.Ints = make([]int64, 0, n)
		case task.Float64:
			tc.Floats = make([]float64, 0, n)
		case task.Bool:
			tc.Bools = make([]bool, 0, n)
		case task.Uint32List:
			tc.U32s = make([][]uint32, 0, n)
		}
		out[i] = tc
	}
	return out
}
