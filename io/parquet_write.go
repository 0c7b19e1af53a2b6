package dataio

import (
	"bufio"
	"fmt"
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-data/sluice/task"
)

// pqOut says how one task.Column is written.
type pqOut struct {
	name   string
	typ    task.ColumnType
	source string // the first batch's SourceType
	// m maps the column's Parquet field the way a reader would: leaf
	// kind, first leaf, levels, leaves and whether it may be null.
	m pqColumn
	// lo and hi bound the Int64 values an integer field narrower than
	// int64 can hold.
	lo, hi int64
}

// pqWriter writes rows of task.Columns to an atomically created file.
type pqWriter struct {
	af   Writer
	bw   *bufio.Writer
	w    *parquet.GenericWriter[any]
	cols []pqOut
	rows []parquet.Row
	vals []parquet.Value // scratch for opaque values
	n    int64
	// rgBytes counts the value bytes written since the last row group
	// ended; maxRGBytes bounds it.
	rgBytes, maxRGBytes int64
}

// newPQWriter starts a file with a field per column of cols, in order. A
// column whose SourceType is a Parquet type is written with that type
// (repetition, logical type, field id, children); any other is written
// with the Parquet type of its task type (see ParquetWriter), optional
// when nullable is set and required otherwise.
func newPQWriter(af Writer, cols []*task.Column, opts ParquetWriterOptions, nullable bool) (*pqWriter, error) {
	wopts, err := opts.writerOptions()
	if err != nil {
		return nil, err
	}
	g := make(orderedGroup, 0, len(cols))
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c.Name] {
			return nil, fmt.Errorf("dataio: parquet %s: duplicate column %q", af.Name(), c.Name)
		}
		seen[c.Name] = true
		n, err := nodeOf(c, nullable)
		if err != nil {
			return nil, fmt.Errorf("dataio: parquet %s: column %q: %w", af.Name(), c.Name, err)
		}
		g = append(g, orderedField{Node: n, name: c.Name})
	}
	schema := parquet.NewSchema("sluice", g)
	w := &pqWriter{af: af, bw: bufio.NewWriterSize(af, 1<<20), maxRGBytes: opts.RowGroupBytes}
	if w.maxRGBytes <= 0 {
		w.maxRGBytes = DefaultRowGroupBytes
	}
	leaf := 0
	for i, f := range schema.Fields() {
		m, err := mapField(af.Name(), schema, f, leaf)
		if err != nil {
			return nil, err
		}
		c := cols[i]
		if !compatible(c.Type, m.typ) {
			return nil, fmt.Errorf("dataio: parquet %s: column %q holds %s values but its Parquet type (from its SourceType) is %s; a stage that changes a column's kind must clear its SourceType", af.Name(), c.Name, c.Type, describeNode(f))
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if f.Leaf() {
			lo, hi = intBounds(f.Type())
		}
		w.cols = append(w.cols, pqOut{name: c.Name, typ: c.Type, source: c.SourceType, m: m, lo: lo, hi: hi})
		leaf += m.leaves
	}
	w.w = parquet.NewGenericWriter[any](w.bw, append(wopts, schema)...)
	return w, nil
}

// nodeOf returns the Parquet node c is written as.
func nodeOf(c *task.Column, nullable bool) (parquet.Node, error) {
	n, ok, err := decodeNode(c.SourceType)
	if err != nil {
		return nil, err
	}
	if ok {
		return n, nil
	}
	if c.Type == task.Opaque {
		return nil, fmt.Errorf("opaque values without a Parquet type (source type %.20q)", c.SourceType)
	}
	n, err = nodeFor(c.Type)
	if err == nil && nullable {
		n = parquet.Optional(n)
	}
	return n, err
}

// compatible reports whether values of task type t can be written to a
// field read as task type mapped.
func compatible(t, mapped task.ColumnType) bool {
	if t == mapped {
		return true
	}
	return (t == task.String || t == task.Bytes) && (mapped == task.String || mapped == task.Bytes)
}

// intBounds returns the range of an integer Parquet type narrower than
// int64 ([MinInt64, MaxInt64] for others).
func intBounds(t parquet.Type) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if t.Kind() != parquet.Int32 {
		return lo, hi
	}
	bits, signed := 32, true
	if lt := t.LogicalType(); lt != nil {
		if it, ok := lt.Value.(*format.IntType); ok {
			bits, signed = int(it.BitWidth), it.IsSigned
		}
	}
	if signed {
		return -1 << (bits - 1), 1<<(bits-1) - 1
	}
	return 0, 1<<bits - 1
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
			if err := w.appendColumn(rows, &w.cols[j], c, from); err != nil {
				return fmt.Errorf("dataio: write parquet %s: %w", w.af.Name(), err)
			}
		}
		if _, err := w.w.WriteRows(rows); err != nil {
			return fmt.Errorf("dataio: write parquet %s: %w", w.af.Name(), err)
		}
		w.rgBytes += int64(8 * (to - from) * len(cols)) // fixed-width values, roughly
		if w.rgBytes >= w.maxRGBytes {
			if err := w.w.Flush(); err != nil {
				return fmt.Errorf("dataio: write parquet %s: %w", w.af.Name(), err)
			}
			w.rgBytes = 0
		}
	}
	w.n += int64(n)
	return nil
}

// appendColumn appends the values of c's rows from..from+len(rows) to rows.
func (w *pqWriter) appendColumn(rows []parquet.Row, o *pqOut, c *task.Column, from int) error {
	leaf, mayNull := o.m.leaf, len(c.Nulls) > 0
	for r := range rows {
		i := from + r
		row := rows[r]
		if mayNull && c.IsNull(i) {
			if !o.m.optional {
				return fmt.Errorf("column %q, row %d: null, but the column's Parquet type is required", o.name, i)
			}
			for k := range o.m.leaves {
				row = append(row, parquet.NullValue().Level(0, 0, leaf+k))
			}
			rows[r] = row
			continue
		}
		switch {
		case c.Type == task.Opaque:
			var err error
			w.vals, err = decodeOpaque(w.vals[:0], c.Bytes[i], leaf)
			if err != nil {
				return fmt.Errorf("column %q, row %d: %w", o.name, i, err)
			}
			w.rgBytes += int64(len(c.Bytes[i]))
			row = append(row, w.vals...)
		case c.Type == task.Uint32List:
			row = w.appendList(row, o, c.U32s[i])
		default:
			v, err := w.scalar(o, c, i)
			if err != nil {
				return err
			}
			row = append(row, v.Level(0, o.m.maxDef, leaf))
		}
		rows[r] = row
	}
	return nil
}

// scalar returns row i of c as a value of o's leaf type.
func (w *pqWriter) scalar(o *pqOut, c *task.Column, i int) (parquet.Value, error) {
	switch c.Type {
	case task.String:
		s := c.Strings[i]
		w.rgBytes += int64(len(s))
		// The writer copies the bytes before WriteRows returns, so viewing
		// the string's bytes without a copy is safe.
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
	case task.Bytes:
		w.rgBytes += int64(len(c.Bytes[i]))
		return parquet.ByteArrayValue(c.Bytes[i]), nil
	case task.Int64:
		x := c.Ints[i]
		if x < o.lo || x > o.hi {
			return parquet.Value{}, fmt.Errorf("column %q, row %d: %d does not fit its Parquet type %s", o.name, i, x, describeNode(o.m.node))
		}
		if o.m.kind == pqInt32 || o.m.kind == pqUint32 {
			return parquet.Int32Value(int32(x)), nil
		}
		return parquet.Int64Value(x), nil
	case task.Float64:
		if o.m.kind == pqFloat {
			return parquet.FloatValue(float32(c.Floats[i])), nil
		}
		return parquet.DoubleValue(c.Floats[i]), nil
	case task.Bool:
		return parquet.BooleanValue(c.Bools[i]), nil
	}
	return parquet.Value{}, fmt.Errorf("column %q: unknown type %s", o.name, c.Type)
}

// appendList appends a non-null list<uint32>: an empty list is one null
// value at the list's own definition level, elements are at elemDef.
func (w *pqWriter) appendList(row parquet.Row, o *pqOut, l []uint32) parquet.Row {
	leaf, def := o.m.leaf, o.m.elemDef
	w.rgBytes += int64(4 * len(l))
	if len(l) == 0 {
		return append(row, parquet.NullValue().Level(0, def-1, leaf))
	}
	for k, x := range l {
		rep := 1
		if k == 0 {
			rep = 0
		}
		row = append(row, parquet.Int32Value(int32(x)).Level(rep, def, leaf))
	}
	return row
}

// setKeyValue sets the file's key/value metadata.
func (w *pqWriter) setKeyValue(kv map[string]string) {
	for k, v := range kv {
		w.w.SetKeyValueMetadata(k, v)
	}
}

// commit writes the footer and moves the file into place.
func (w *pqWriter) commit() error {
	if err := w.w.Close(); err != nil {
		w.af.Abort()
		return fmt.Errorf("dataio: finish parquet %s: %w", w.af.Name(), err)
	}
	if err := w.bw.Flush(); err != nil {
		w.af.Abort()
		return fmt.Errorf("dataio: write parquet %s: %w", w.af.Name(), err)
	}
	return w.af.Commit()
}
