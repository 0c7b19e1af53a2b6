package task

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// ColumnType is the element type of a Column.
type ColumnType uint8

// Column types. Exactly one slice of a Column is used, chosen by its Type.
const (
	String ColumnType = iota + 1
	Bytes
	Int64
	Float64
	Bool
	Uint32List
	// Opaque columns hold values of a type that package task has no type
	// for (such as a nested Parquet struct, list or map, or a timestamp),
	// each row's value encoded as bytes, in Bytes, by the reader that
	// produced it; Column.SourceType says how. Stages pass them through;
	// writers that know the encoding write them back.
	Opaque
)

var columnTypeNames = [...]string{String: "string", Bytes: "bytes", Int64: "int64", Float64: "float64", Bool: "bool", Uint32List: "list<uint32>", Opaque: "opaque"}

// String returns the type's name, for example "int64".
func (t ColumnType) String() string {
	if int(t) < len(columnTypeNames) && columnTypeNames[t] != "" {
		return columnTypeNames[t]
	}
	return fmt.Sprintf("ColumnType(%d)", t)
}

// Column is one typed column of a DocumentBatch. Only the slice that matches
// Type is used (Bytes for Opaque); the others are nil.
//
// A row may be null: Nulls is the column's validity bitmap, kept inverted
// so that appending rows that hold values costs nothing. Bit i%64 of
// Nulls[i/64] is set when row i is null; rows past the end of Nulls (all
// rows, when it is nil) hold values. A null row's place in the value slice
// holds the zero value, so code that ignores Nulls sees "", 0, false or
// nil there; writers write a null.
type Column struct {
	Name    string
	Type    ColumnType
	Strings []string
	Bytes   [][]byte
	Ints    []int64
	Floats  []float64
	Bools   []bool
	U32s    [][]uint32
	Nulls   []uint64
	// SourceType describes the column's type in the file format it was
	// read from, in a form the reader of that format defines (for a
	// Parquet column, its schema node), so that a writer of the same
	// format can write the column back with its type unchanged (for
	// example int16 rather than int64, or a nested struct). Package task
	// does not look inside it. A stage that puts values of another kind
	// in a column should clear it.
	SourceType string
}

// IsNull reports whether row i is null.
func (c *Column) IsNull(i int) bool {
	w := i >> 6
	return w < len(c.Nulls) && c.Nulls[w]&(1<<(uint(i)&63)) != 0
}

// SetNull marks row i null. It does not change the row's value.
func (c *Column) SetNull(i int) {
	w := i >> 6
	for len(c.Nulls) <= w {
		c.Nulls = append(c.Nulls, 0)
	}
	c.Nulls[w] |= 1 << (uint(i) & 63)
}

// SetValid marks row i as holding a value.
func (c *Column) SetValid(i int) {
	if w := i >> 6; w < len(c.Nulls) {
		c.Nulls[w] &^= 1 << (uint(i) & 63)
	}
}

// AppendNull appends a null row: the zero value, marked null.
func (c *Column) AppendNull() {
	switch c.Type {
	case String:
		c.Strings = append(c.Strings, "")
	case Bytes, Opaque:
		c.Bytes = append(c.Bytes, nil)
	case Int64:
		c.Ints = append(c.Ints, 0)
	case Float64:
		c.Floats = append(c.Floats, 0)
	case Bool:
		c.Bools = append(c.Bools, false)
	case Uint32List:
		c.U32s = append(c.U32s, nil)
	default:
		return
	}
	c.SetNull(c.Len() - 1)
}

// NullCount is the number of null rows.
func (c *Column) NullCount() int {
	n, rows := 0, c.Len()
	for w, b := range c.Nulls {
		if w<<6 >= rows {
			break
		}
		if rest := rows - w<<6; rest < 64 {
			b &= 1<<uint(rest) - 1
		}
		n += bits.OnesCount64(b)
	}
	return n
}

// HasNulls reports whether any row is null.
func (c *Column) HasNulls() bool { return len(c.Nulls) > 0 && c.NullCount() > 0 }

// Len is the number of rows in the column.
func (c *Column) Len() int {
	switch c.Type {
	case String:
		return len(c.Strings)
	case Bytes, Opaque:
		return len(c.Bytes)
	case Int64:
		return len(c.Ints)
	case Float64:
		return len(c.Floats)
	case Bool:
		return len(c.Bools)
	case Uint32List:
		return len(c.U32s)
	}
	return 0
}

// take returns a new column holding the rows at idx, in that order.
func (c *Column) take(idx []int) *Column {
	out := &Column{Name: c.Name, Type: c.Type, SourceType: c.SourceType}
	if c.HasNulls() {
		for i, j := range idx {
			if c.IsNull(j) {
				out.SetNull(i)
			}
		}
	}
	switch c.Type {
	case String:
		out.Strings = pick(c.Strings, idx)
	case Bytes, Opaque:
		out.Bytes = pick(c.Bytes, idx)
	case Int64:
		out.Ints = pick(c.Ints, idx)
	case Float64:
		out.Floats = pick(c.Floats, idx)
	case Bool:
		out.Bools = pick(c.Bools, idx)
	case Uint32List:
		out.U32s = pick(c.U32s, idx)
	}
	return out
}

func pick[T any](s []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = s[j]
	}
	return out
}

// DocumentBatch is a columnar batch of documents. It has one text column,
// named by TextColumn, plus any number of other typed columns. Stages that do
// not know a column pass it through untouched.
type DocumentBatch struct {
	Header
	// TextColumn names the column that holds the document text (type String).
	TextColumn string
	Columns    []*Column
}

// NewDocumentBatch returns a batch whose text column is textColumn holding texts.
func NewDocumentBatch(dataset, textColumn string, texts []string) *DocumentBatch {
	return &DocumentBatch{
		Header:     Header{DatasetName: dataset},
		TextColumn: textColumn,
		Columns:    []*Column{{Name: textColumn, Type: String, Strings: texts}},
	}
}

// NumItems implements Task: the number of rows.
func (b *DocumentBatch) NumItems() int { return b.NumRows() }

// Kind implements Task.
func (*DocumentBatch) Kind() string { return KindDocumentBatch }

// NumRows is the number of documents in the batch.
func (b *DocumentBatch) NumRows() int {
	if len(b.Columns) == 0 {
		return 0
	}
	return b.Columns[0].Len()
}

// Column returns the column named name, or nil.
func (b *DocumentBatch) Column(name string) *Column {
	for _, c := range b.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Texts returns the text column's values, or nil if the batch has no text column.
func (b *DocumentBatch) Texts() []string {
	if c := b.Column(b.TextColumn); c != nil && c.Type == String {
		return c.Strings
	}
	return nil
}

// SetColumn adds c, or replaces the column with the same name.
func (b *DocumentBatch) SetColumn(c *Column) {
	for i, old := range b.Columns {
		if old.Name == c.Name {
			b.Columns[i] = c
			return
		}
	}
	b.Columns = append(b.Columns, c)
}

// ColumnNames returns the names of the columns, in order.
func (b *DocumentBatch) ColumnNames() []string {
	names := make([]string, len(b.Columns))
	for i, c := range b.Columns {
		names[i] = c.Name
	}
	return names
}

// Validate checks that every column has the same number of rows and no
// null marks past its end, and that the text column exists, holds strings
// and has no nulls.
func (b *DocumentBatch) Validate() error {
	n := b.NumRows()
	for _, c := range b.Columns {
		if c.Len() != n {
			return fmt.Errorf("document batch %s: column %q has %d rows, want %d", b.TaskID, c.Name, c.Len(), n)
		}
		if c.Type < String || c.Type > Opaque {
			return fmt.Errorf("document batch %s: column %q has unknown type %s", b.TaskID, c.Name, c.Type)
		}
		for w := n >> 6; w < len(c.Nulls); w++ {
			bits := c.Nulls[w]
			if w == n>>6 {
				bits &^= 1<<(uint(n)&63) - 1
			}
			if bits != 0 {
				return fmt.Errorf("document batch %s: column %q marks a row past its %d rows null", b.TaskID, c.Name, n)
			}
		}
	}
	if b.TextColumn != "" {
		c := b.Column(b.TextColumn)
		if c == nil {
			return fmt.Errorf("document batch %s: text column %q is missing", b.TaskID, b.TextColumn)
		}
		if c.Type != String {
			return fmt.Errorf("document batch %s: text column %q has type %s, want string", b.TaskID, b.TextColumn, c.Type)
		}
		if c.HasNulls() {
			return fmt.Errorf("document batch %s: text column %q has %d nulls", b.TaskID, b.TextColumn, c.NullCount())
		}
	}
	return nil
}

// RequireColumns returns an error naming every column in names that the batch lacks.
func (b *DocumentBatch) RequireColumns(names ...string) error {
	var missing []string
	for _, n := range names {
		if b.Column(n) == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("document batch %s: missing columns %s (has %s)", b.TaskID, strings.Join(missing, ", "), strings.Join(b.ColumnNames(), ", "))
	}
	return nil
}

// Filter returns a new batch with the rows where keep[i] is true. The header
// is copied; column data that is kept is shared, not copied.
func (b *DocumentBatch) Filter(keep []bool) *DocumentBatch {
	idx := make([]int, 0, len(keep))
	for i, k := range keep {
		if k {
			idx = append(idx, i)
		}
	}
	return b.Take(idx)
}

// Take returns a new batch holding the rows at idx, in that order.
func (b *DocumentBatch) Take(idx []int) *DocumentBatch {
	out := &DocumentBatch{Header: b.clone(), TextColumn: b.TextColumn, Columns: make([]*Column, len(b.Columns))}
	for i, c := range b.Columns {
		out.Columns[i] = c.take(idx)
	}
	return out
}

// Slice returns a new batch holding rows [from, to). Column data is shared.
func (b *DocumentBatch) Slice(from, to int) *DocumentBatch {
	idx := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		idx = append(idx, i)
	}
	return b.Take(idx)
}

// ConcatBatches joins batches with the same column names and types into one.
func ConcatBatches(bs []*DocumentBatch) (*DocumentBatch, error) {
	if len(bs) == 0 {
		return nil, fmt.Errorf("concat: no batches")
	}
	first := bs[0]
	out := &DocumentBatch{Header: first.clone(), TextColumn: first.TextColumn}
	for _, c := range first.Columns {
		out.Columns = append(out.Columns, &Column{Name: c.Name, Type: c.Type, SourceType: c.SourceType})
	}
	for _, b := range bs {
		if !slices.Equal(b.ColumnNames(), first.ColumnNames()) {
			return nil, fmt.Errorf("concat: batch %s has columns %v, want %v", b.TaskID, b.ColumnNames(), first.ColumnNames())
		}
		for i, c := range b.Columns {
			o := out.Columns[i]
			if c.Type != o.Type {
				return nil, fmt.Errorf("concat: batch %s column %q has type %s, want %s", b.TaskID, c.Name, c.Type, o.Type)
			}
			if c.Type == Opaque && c.SourceType != o.SourceType {
				return nil, fmt.Errorf("concat: batch %s column %q holds values of another source type", b.TaskID, c.Name)
			}
			if c.SourceType != o.SourceType {
				o.SourceType = "" // differing source types: none is right for all rows
			}
			if c.HasNulls() {
				base := o.Len()
				for i := range c.Len() {
					if c.IsNull(i) {
						o.SetNull(base + i)
					}
				}
			}
			o.Strings = append(o.Strings, c.Strings...)
			o.Bytes = append(o.Bytes, c.Bytes...)
			o.Ints = append(o.Ints, c.Ints...)
			o.Floats = append(o.Floats, c.Floats...)
			o.Bools = append(o.Bools, c.Bools...)
			o.U32s = append(o.U32s, c.U32s...)
		}
	}
	return out, nil
}
