// Package arrowtest writes and reads Parquet files with Apache Arrow's Go
// implementation (github.com/apache/arrow-go), an implementation independent
// of the one Sluice uses, for interoperability tests. Only tests import it,
// so Sluice's binaries do not link Arrow.
package arrowtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// WriteOptions says how Arrow writes a file.
type WriteOptions struct {
	// Dictionary turns dictionary encoding on (Arrow's default) or off.
	Dictionary bool
	// Compression is "none" (default), "snappy", "gzip", "brotli", "zstd"
	// or "lz4" (LZ4_RAW).
	Compression string
	// PageVersion is the data page version, 1 (default) or 2.
	PageVersion int
	// RowGroups gives the rows of each row group, in order; a 0 writes an
	// empty row group. The counts must add up to the record's rows. Nil
	// writes the whole record as one row group (an empty record gives one
	// empty row group, as Arrow writes an empty table).
	RowGroups []int
	// StoreSchema stores the Arrow schema in the file's key/value
	// metadata (ARROW:schema), which keeps field metadata.
	StoreSchema bool
	// RequiredRoot marks the schema's root required; Arrow marks it
	// repeated by default.
	RequiredRoot bool
}

func codec(name string) (compress.Compression, error) {
	switch name {
	case "", "none":
		return compress.Codecs.Uncompressed, nil
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "brotli":
		return compress.Codecs.Brotli, nil
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "lz4":
		return compress.Codecs.Lz4Raw, nil
	}
	return 0, fmt.Errorf("arrowtest: unknown compression %q", name)
}

// WriteParquet writes rec to path with Arrow's Parquet writer.
func WriteParquet(path string, rec arrow.Record, o WriteOptions) error {
	c, err := codec(o.Compression)
	if err != nil {
		return err
	}
	pv := parquet.DataPageV1
	if o.PageVersion == 2 {
		pv = parquet.DataPageV2
	}
	props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(o.Dictionary), parquet.WithCompression(c),
		parquet.WithDataPageVersion(pv), parquet.WithMaxRowGroupLength(1<<20))
	if o.RequiredRoot {
		props = parquet.NewWriterProperties(parquet.WithDictionaryDefault(o.Dictionary), parquet.WithCompression(c),
			parquet.WithDataPageVersion(pv), parquet.WithMaxRowGroupLength(1<<20), parquet.WithRootRepetition(parquet.Repetitions.Required))
	}
	var aprops []pqarrow.WriterOption
	if o.StoreSchema {
		aprops = append(aprops, pqarrow.WithStoreSchema())
	}
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(rec.Schema(), &buf, props, pqarrow.NewArrowWriterProperties(aprops...))
	if err != nil {
		return err
	}
	groups := o.RowGroups
	if groups == nil {
		groups = []int{int(rec.NumRows())}
	}
	off := int64(0)
	for _, n := range groups {
		part := rec.NewSlice(off, off+int64(n))
		err := fw.Write(part)
		part.Release()
		if err != nil {
			return err
		}
		off += int64(n)
	}
	if off != rec.NumRows() {
		return fmt.Errorf("arrowtest: row groups hold %d rows, the record %d", off, rec.NumRows())
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Table is a file read back by Arrow: its schema and every row, each cell
// rendered by Render.
type Table struct {
	Schema *arrow.Schema
	Rows   [][]string
	// RowGroups is the number of row groups in the file.
	RowGroups int
	// CreatedBy is the file's created_by string.
	CreatedBy string
	// Metadata is the file's key/value metadata.
	Metadata map[string]string
}

// Column returns the index of the field named name, or -1.
func (t *Table) Column(name string) int {
	idx := t.Schema.FieldIndices(name)
	if len(idx) == 0 {
		return -1
	}
	return idx[0]
}

// ReadParquet reads path with Arrow's Parquet reader.
func ReadParquet(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("arrowtest: %s: %w", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("arrowtest: %s: %w", path, err)
	}
	schema, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("arrowtest: %s: %w", path, err)
	}
	meta := rdr.MetaData()
	t := &Table{Schema: schema, RowGroups: rdr.NumRowGroups(), CreatedBy: meta.GetCreatedBy(), Metadata: map[string]string{}}
	kv := meta.KeyValueMetadata()
	for i, k := range kv.Keys() {
		t.Metadata[k] = kv.Values()[i]
	}
	// A record reader reports decoding errors (ReadTable panics on some).
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("arrowtest: %s: %w", path, err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				row[j] = Render(rec.Column(j), i)
			}
			t.Rows = append(t.Rows, row)
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return nil, fmt.Errorf("arrowtest: %s: %w", path, err)
	}
	return t, nil
}

// Render renders value i of arr as text that tells every value apart,
// nulls included: a null is "null", a string is quoted, nested values are
// rendered element by element.
func Render(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "null"
	}
	switch a := arr.(type) {
	case *array.String:
		return strconv.Quote(a.Value(i))
	case *array.LargeString:
		return strconv.Quote(a.Value(i))
	case *array.Binary:
		return fmt.Sprintf("0x%x", a.Value(i))
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Dictionary:
		return Render(a.Dictionary(), a.GetValueIndex(i))
	case *array.Struct:
		parts := make([]string, a.NumField())
		st := a.DataType().(*arrow.StructType)
		for k := range parts {
			parts[k] = st.Field(k).Name + ":" + Render(a.Field(k), i)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case *array.Map:
		start, end := a.ValueOffsets(i)
		keys, items := a.Keys(), a.Items()
		var parts []string
		for k := int(start); k < int(end); k++ {
			parts = append(parts, Render(keys, k)+"=>"+Render(items, k))
		}
		return "map{" + strings.Join(parts, ",") + "}"
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		var parts []string
		for k := int(start); k < int(end); k++ {
			parts = append(parts, Render(a.ListValues(), k))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return arr.ValueStr(i)
}

// AllTypes returns a record of n rows with the columns "id" (int64, never
// null, the row number) and "text" (string, never null; rows 2k and 2k+1
// hold the same text, so half of them are exact duplicates), and then one
// column of each type below, each null in about a quarter of the rows at
// places that differ between columns:
//
//	s string (field metadata "comment", Parquet field id 7), i8, i16, i32,
//	i64, u8, u16, u32, u64, f32, f64 (with a NaN in row 3), b (bool), bin
//	(binary), ts (timestamp us UTC), d (date32), dec (decimal128(9,2)),
//	tags list<string> (with empty lists and null elements), st
//	struct<a int32, b string> (with null fields), m map<string, int64>.
func AllTypes(n int) arrow.Record {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "text", Type: arrow.BinaryTypes.String},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"comment", "PARQUET:field_id"}, []string{"a nullable string", "7"})},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range n {
		appendRow(b, i)
	}
	return b.NewRecord()
}

// Text returns the text of row i of AllTypes: about 300 bytes of words
// drawn from a generator seeded with i/2.
func Text(i int) string {
	rng := rand.New(rand.NewPCG(uint64(i/2), 99))
	words := strings.Fields("river stone lamp orbit maple quartz violet ember harbor cobalt meadow falcon copper lantern " +
		"willow granite saffron beacon tundra canyon glacier juniper marble nectar obsidian prairie quill zephyr")
	var sb strings.Builder
	for sb.Len() < 300 {
		sb.WriteString(words[rng.IntN(len(words))])
		sb.WriteByte(' ')
	}
	return fmt.Sprintf("doc %d: %s", i/2, sb.String())
}

func appendRow(b *array.RecordBuilder, i int) {
	null := func(col int) bool { return (i+col)%4 == 1 }
	b.Field(0).(*array.Int64Builder).Append(int64(i))
	b.Field(1).(*array.StringBuilder).Append(Text(i))
	for col := 2; col < b.Schema().NumFields(); col++ {
		fb := b.Field(col)
		if null(col) {
			fb.AppendNull()
			continue
		}
		appendValue(fb, i)
	}
}

func appendValue(fb array.Builder, i int) {
	switch f := fb.(type) {
	case *array.StringBuilder:
		f.Append(fmt.Sprintf("s%d \"é\"", i))
	case *array.Int8Builder:
		f.Append(int8(-i))
	case *array.Int16Builder:
		f.Append(int16(-300 * i))
	case *array.Int32Builder:
		f.Append(int32(-70000 * i))
	case *array.Int64Builder:
		f.Append(-int64(i) << 40)
	case *array.Uint8Builder:
		f.Append(uint8(200 + i%50))
	case *array.Uint16Builder:
		f.Append(uint16(60000 + i))
	case *array.Uint32Builder:
		f.Append(uint32(4_000_000_000 + i))
	case *array.Uint64Builder:
		f.Append(math.MaxUint64 - uint64(i))
	case *array.Float32Builder:
		f.Append(float32(i) / 3)
	case *array.Float64Builder:
		if i == 3 {
			f.Append(math.NaN())
		} else {
			f.Append(float64(i) / 7)
		}
	case *array.BooleanBuilder:
		f.Append(i%3 == 0)
	case *array.BinaryBuilder:
		f.Append([]byte{byte(i), 0, 0xff})
	case *array.TimestampBuilder:
		f.Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_001))
	case *array.Date32Builder:
		f.Append(arrow.Date32(19000 + i))
	case *array.Decimal128Builder:
		f.Append(decimal128.FromI64(int64(i)*101 - 5000))
	case *array.ListBuilder:
		f.Append(true)
		vb := f.ValueBuilder().(*array.StringBuilder)
		for k := range i % 4 { // i%4 == 0: an empty list
			if k == 1 {
				vb.AppendNull()
			} else {
				vb.Append(fmt.Sprintf("t%d.%d", i, k))
			}
		}
	case *array.StructBuilder:
		f.Append(true)
		if i%3 == 0 {
			f.FieldBuilder(0).AppendNull()
		} else {
			f.FieldBuilder(0).(*array.Int32Builder).Append(int32(i))
		}
		f.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("b%d", i))
	case *array.MapBuilder:
		f.Append(true)
		kb, ib := f.KeyBuilder().(*array.StringBuilder), f.ItemBuilder().(*array.Int64Builder)
		for k := range i % 3 {
			kb.Append(fmt.Sprintf("k%d", k))
			if k == 1 {
				ib.AppendNull()
			} else {
				ib.Append(int64(i * k))
			}
		}
	default:
		panic(fmt.Sprintf("arrowtest: no value for %T", fb))
	}
}
