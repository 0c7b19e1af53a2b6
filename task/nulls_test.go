package task

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// canonicalNulls gives c's bitmap the form the codec decodes: nil without
// nulls, else exactly one word per 64 rows.
func canonicalNulls(c *Column) {
	if !c.HasNulls() {
		c.Nulls = nil
		return
	}
	n := (c.Len() + 63) / 64
	out := make([]uint64, n)
	for i := range c.Len() {
		if c.IsNull(i) {
			out[i/64] |= 1 << (i % 64)
		}
	}
	c.Nulls = out
}

// nullBatch returns n rows with a column of every type, each null where
// its own pattern says, and an Opaque column with a source type.
func nullBatch(n int, rng *rand.Rand) *DocumentBatch {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = strings.Repeat("t", i%5)
	}
	b := NewDocumentBatch("ds", "text", texts)
	for ti, typ := range []ColumnType{String, Bytes, Int64, Float64, Bool, Uint32List, Opaque} {
		c := &Column{Name: typ.String(), Type: typ}
		if typ == Opaque {
			c.SourceType = "parquet:\x00binary node"
		}
		if typ == Int64 {
			c.SourceType = "int16"
		}
		for i := range n {
			if rng.IntN(3) == 0 || (ti == 0 && i == n-1) {
				c.AppendNull()
				continue
			}
			switch typ {
			case String:
				c.Strings = append(c.Strings, "s")
			case Bytes, Opaque:
				c.Bytes = append(c.Bytes, []byte{byte(i)})
			case Int64:
				c.Ints = append(c.Ints, int64(i))
			case Float64:
				c.Floats = append(c.Floats, float64(i))
			case Bool:
				c.Bools = append(c.Bools, true)
			case Uint32List:
				c.U32s = append(c.U32s, []uint32{uint32(i)})
			}
		}
		b.Columns = append(b.Columns, c)
	}
	return b
}

// TestNullsRoundTrip: nulls and source types survive the codec, Take,
// Filter and ConcatBatches, for every column type and for row counts
// around word boundaries.
func TestNullsRoundTrip(t *testing.T) {
	codecs := NewCodecs()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 63, 64, 65, 130} {
		b := nullBatch(n, rng)
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		enc, err := codecs.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codecs.Unmarshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range enc { // every strict prefix fails cleanly
			if _, err := codecs.Unmarshal(enc[:i]); err == nil {
				t.Fatalf("%d rows: truncated to %d of %d bytes decoded without error", n, i, len(enc))
			}
		}
		normalize(b)
		normalize(got)
		if n == 0 {
			gb := got.(*DocumentBatch)
			for i, c := range b.Columns {
				if g := gb.Columns[i]; g.Name != c.Name || g.Type != c.Type || g.SourceType != c.SourceType || g.Len() != 0 {
					t.Fatalf("empty batch column %d: got %+v, want %+v", i, g, c)
				}
			}
			continue
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("%d rows: codec round trip differs:\n got %+v\nwant %+v", n, got.(*DocumentBatch).Columns, b.Columns)
		}
		// Reverse the rows with Take, then concatenate two halves.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = n - 1 - i
		}
		rev := b.Take(idx)
		halves, err := ConcatBatches([]*DocumentBatch{rev.Slice(0, n/2), rev.Slice(n/2, n)})
		if err != nil {
			t.Fatal(err)
		}
		for ci, c := range b.Columns {
			h := halves.Columns[ci]
			if h.SourceType != c.SourceType {
				t.Errorf("%s: source type %q after take and concat", c.Name, h.SourceType)
			}
			for i := range n {
				if h.IsNull(n-1-i) != c.IsNull(i) {
					t.Fatalf("%d rows: column %s row %d: null %v after take and concat, want %v", n, c.Name, i, h.IsNull(n-1-i), c.IsNull(i))
				}
			}
			if h.NullCount() != c.NullCount() {
				t.Errorf("%s: %d nulls, want %d", c.Name, h.NullCount(), c.NullCount())
			}
		}
	}
}

func TestNullHelpers(t *testing.T) {
	c := &Column{Name: "x", Type: Int64, Ints: []int64{1, 2, 3}}
	if c.HasNulls() || c.IsNull(1) || c.IsNull(1000) || c.NullCount() != 0 {
		t.Fatal("fresh column has nulls")
	}
	c.AppendNull()
	c.SetNull(0)
	if c.Len() != 4 || !c.IsNull(3) || !c.IsNull(0) || c.IsNull(1) || c.NullCount() != 2 || c.Ints[3] != 0 {
		t.Fatalf("after AppendNull and SetNull: %+v", c)
	}
	c.SetValid(0)
	c.SetValid(500) // beyond the bitmap: no-op
	if c.IsNull(0) || c.NullCount() != 1 {
		t.Fatalf("SetValid: %+v", c)
	}
	// A mark past the last row is invalid; so is a null text.
	b := NewDocumentBatch("ds", "text", []string{"a", "b"})
	b.SetColumn(&Column{Name: "n", Type: Int64, Ints: []int64{1, 2}, Nulls: []uint64{1 << 2}})
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), `"n" marks a row past`) {
		t.Fatalf("Validate = %v", err)
	}
	b.Column("n").Nulls = []uint64{0, 1}
	if err := b.Validate(); err == nil {
		t.Fatal("a mark in a second word past the rows must be invalid")
	}
	b.Column("n").Nulls = []uint64{1 << 1}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	b.Column("text").SetNull(0)
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "text column") {
		t.Fatalf("null text: Validate = %v", err)
	}
	// Concatenating a column whose source types differ keeps none.
	x := NewDocumentBatch("ds", "text", []string{"a"})
	x.SetColumn(&Column{Name: "n", Type: Int64, Ints: []int64{1}, SourceType: "int16"})
	y := NewDocumentBatch("ds", "text", []string{"b"})
	y.SetColumn(&Column{Name: "n", Type: Int64, Ints: []int64{2}, SourceType: "int32"})
	xy, err := ConcatBatches([]*DocumentBatch{x, y})
	if err != nil || xy.Column("n").SourceType != "" {
		t.Fatalf("concat of differing source types: %v %+v", err, xy)
	}
	x.Column("n").Type, x.Column("n").Bytes, x.Column("n").Ints = Opaque, [][]byte{{1}}, nil
	y.Column("n").Type, y.Column("n").Bytes, y.Column("n").Ints = Opaque, [][]byte{{2}}, nil
	if _, err := ConcatBatches([]*DocumentBatch{x, y}); err == nil {
		t.Fatal("opaque values of different source types must not be concatenated")
	}
}
