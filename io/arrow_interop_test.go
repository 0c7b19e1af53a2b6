package dataio

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-data/sluice/internal/arrowtest"
	"github.com/sluice-data/sluice/task"
)

// writeArrow writes arrowtest.AllTypes(n) to dir/name with Arrow and reads
// it back with Arrow.
func writeArrow(t *testing.T, dir, name string, n int, o arrowtest.WriteOptions) (string, *arrowtest.Table) {
	t.Helper()
	rec := arrowtest.AllTypes(n)
	defer rec.Release()
	path := filepath.Join(dir, name)
	if err := arrowtest.WriteParquet(path, rec, o); err != nil {
		t.Fatal(err)
	}
	tbl, err := arrowtest.ReadParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Rows) != n {
		t.Fatalf("arrow reads %d rows back from its own file, want %d", len(tbl.Rows), n)
	}
	return path, tbl
}

// sameSchema fails unless Arrow sees the same fields (names, types,
// nullability, metadata) in got as in want.
func sameSchema(t *testing.T, want, got *arrowtest.Table) {
	t.Helper()
	if !got.Schema.Equal(want.Schema) {
		t.Fatalf("schema changed:\nwant %s\ngot  %s", want.Schema, got.Schema)
	}
	for i, f := range want.Schema.Fields() {
		if g := got.Schema.Field(i); !g.Metadata.Equal(f.Metadata) {
			t.Errorf("field %s: metadata %v, want %v", f.Name, g.Metadata, f.Metadata)
		}
	}
}

// sameKeptRows fails unless got holds exactly the rows of want whose id
// (column 0, the row number) keep accepts, in order, every column equal.
func sameKeptRows(t *testing.T, want, got *arrowtest.Table, keep func(id int) bool) {
	t.Helper()
	var exp [][]string
	for i, r := range want.Rows {
		if keep(i) {
			exp = append(exp, r)
		}
	}
	if len(got.Rows) != len(exp) {
		t.Fatalf("output has %d rows, want %d", len(got.Rows), len(exp))
	}
	for i := range exp {
		if !slices.Equal(got.Rows[i], exp[i]) {
			for j := range exp[i] {
				if got.Rows[i][j] != exp[i][j] {
					t.Errorf("row %d (id %s) column %s: got %s, want %s", i, exp[i][0], want.Schema.Field(j).Name, got.Rows[i][j], exp[i][j])
				}
			}
			t.FailNow()
		}
	}
}

func odd(id int) bool { return id%2 == 1 }

// TestCopyParquetArrowEmptyRowGroups copies Arrow files holding 0-row row
// groups (which Arrow writes as column chunks of a dictionary page only,
// data_page_offset 0) before, between and after data row groups.
func TestCopyParquetArrowEmptyRowGroups(t *testing.T) {
	dir := t.TempDir()
	src, in := writeArrow(t, dir, "in.parquet", 40, arrowtest.WriteOptions{Dictionary: true, RowGroups: []int{0, 20, 0, 20, 0}})
	if in.RowGroups != 5 {
		t.Fatalf("arrow wrote %d row groups, want 5", in.RowGroups)
	}
	dst := filepath.Join(dir, "out.parquet")
	st, err := CopyParquetFiltered(context.Background(), src, dst, func(row int64) bool { return row%2 == 0 }, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept != 20 || st.Dropped != 20 {
		t.Fatalf("kept %d dropped %d, want 20 and 20", st.Kept, st.Dropped)
	}
	out, err := arrowtest.ReadParquet(dst)
	if err != nil {
		t.Fatal(err)
	}
	sameSchema(t, in, out)
	sameKeptRows(t, in, out, odd)
}

// TestCopyParquetArrowEmptyTable copies the file Arrow writes for an empty
// table (one 0-row row group): the copy is a file with the same schema and
// no rows.
func TestCopyParquetArrowEmptyTable(t *testing.T) {
	for _, dict := range []bool{true, false} {
		t.Run(fmt.Sprintf("dictionary=%v", dict), func(t *testing.T) {
			dir := t.TempDir()
			src, in := writeArrow(t, dir, "in.parquet", 0, arrowtest.WriteOptions{Dictionary: dict, StoreSchema: true})
			if in.RowGroups != 1 {
				t.Fatalf("arrow wrote %d row groups, want 1", in.RowGroups)
			}
			dst := filepath.Join(dir, "out.parquet")
			st, err := CopyParquetFiltered(context.Background(), src, dst, func(int64) bool { return false }, ParquetWriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Kept != 0 || st.Dropped != 0 {
				t.Fatalf("kept %d dropped %d, want 0 and 0", st.Kept, st.Dropped)
			}
			out, err := arrowtest.ReadParquet(dst)
			if err != nil {
				t.Fatal(err)
			}
			sameSchema(t, in, out)
			if len(out.Rows) != 0 {
				t.Fatalf("copy has %d rows", len(out.Rows))
			}
		})
	}
}

// TestCopyParquetArrowVariants copies files written by Arrow with every
// column type holding nulls, nested columns, dictionary encoding on and
// off, several codecs and both data page versions, and compares every
// column of every kept row as Arrow reads them.
func TestCopyParquetArrowVariants(t *testing.T) {
	type variant struct {
		dict  bool
		codec string
		pv    int
		root  bool // a required root (Arrow's default is repeated)
	}
	var vs []variant
	for _, c := range []string{"none", "snappy", "gzip", "brotli", "zstd", "lz4"} {
		vs = append(vs, variant{c != "gzip", c, 1, false})
	}
	vs = append(vs, variant{true, "zstd", 2, false}, variant{false, "snappy", 2, false}, variant{true, "snappy", 1, true})
	for _, v := range vs {
		t.Run(fmt.Sprintf("dict=%v,%s,v%d,requiredroot=%v", v.dict, v.codec, v.pv, v.root), func(t *testing.T) {
			dir := t.TempDir()
			src, in := writeArrow(t, dir, "in.parquet", 30, arrowtest.WriteOptions{Dictionary: v.dict, Compression: v.codec, PageVersion: v.pv, StoreSchema: true, RequiredRoot: v.root, RowGroups: []int{12, 0, 18}})
			dst := filepath.Join(dir, "out.parquet")
			if _, err := CopyParquetFiltered(context.Background(), src, dst, func(row int64) bool { return row%2 == 0 }, ParquetWriterOptions{}); err != nil {
				t.Fatal(err)
			}
			out, err := arrowtest.ReadParquet(dst)
			if err != nil {
				t.Fatal(err)
			}
			sameSchema(t, in, out)
			sameKeptRows(t, in, out, odd)
			if out.Metadata["ARROW:schema"] != in.Metadata["ARROW:schema"] {
				t.Error("ARROW:schema metadata not copied")
			}
			if !strings.HasPrefix(out.CreatedBy, "sluice version ") {
				t.Errorf("created_by %q", out.CreatedBy)
			}
			checkPageVersion(t, dst, 1)
		})
	}
}

// checkPageVersion fails unless every data page of path has the version
// given, as the column chunks' encoding statistics record it.
func checkPageVersion(t *testing.T, path string, v int) {
	t.Helper()
	want := format.DataPage
	if v == 2 {
		want = format.DataPageV2
	}
	pf := openParquetMeta(t, path)
	for gi, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			for _, es := range c.MetaData.EncodingStats {
				if es.PageType != format.DictionaryPage && es.PageType != want {
					t.Fatalf("%s: row group %d column %v has %v pages, want %v", path, gi, c.MetaData.PathInSchema, es.PageType, want)
				}
			}
		}
	}
}

// TestParquetWriterPageVersion: files are written with data page v1 unless
// asked for v2, and created_by names Sluice's version in the form the
// Parquet specification gives.
func TestParquetWriterPageVersion(t *testing.T) {
	dir := t.TempDir()
	for _, pv := range []int{0, 1, 2} {
		path := filepath.Join(dir, fmt.Sprintf("v%d.parquet", pv))
		w, err := CreateParquet(path, ParquetWriterOptions{PageVersion: pv})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(allTypesBatch(10, 0)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		checkPageVersion(t, path, max(pv, 1))
		tbl, err := arrowtest.ReadParquet(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tbl.CreatedBy, "sluice version ") || len(tbl.Rows) != 10 {
			t.Fatalf("created_by %q, %d rows", tbl.CreatedBy, len(tbl.Rows))
		}
	}
	if _, err := CreateParquet(filepath.Join(dir, "v3.parquet"), ParquetWriterOptions{PageVersion: 3}); err == nil || !strings.Contains(err.Error(), "page version 3") {
		t.Fatalf("page version 3: %v", err)
	}
}

// TestParquetArrowThroughBatches reads Arrow files into DocumentBatches,
// moves them through the task codec (as between processes), writes them
// with ParquetWriter and has Arrow read the result: the schema (types,
// nullability, nested columns, field ids and metadata) and every value,
// nulls included, must be unchanged.
func TestParquetArrowThroughBatches(t *testing.T) {
	codecs := task.NewCodecs()
	for _, o := range []arrowtest.WriteOptions{
		{Dictionary: true, Compression: "snappy", StoreSchema: true, RowGroups: []int{0, 13, 0, 20}},
		{Dictionary: false, Compression: "zstd", PageVersion: 2, StoreSchema: true},
		{Dictionary: true, Compression: "gzip"},
	} {
		t.Run(fmt.Sprintf("dict=%v,%s", o.Dictionary, o.Compression), func(t *testing.T) {
			dir := t.TempDir()
			src, in := writeArrow(t, dir, "in.parquet", 33, o)
			r, err := NewParquetReader([]string{src}, ReadOptions{BatchRows: 8, IDField: "-", FileMetadata: true})
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, "out.parquet")
			w, err := CreateParquet(dst, ParquetWriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			nulls := 0
			for {
				b, err := r.Next(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				enc, err := codecs.Marshal(b)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := codecs.Unmarshal(enc)
				if err != nil {
					t.Fatal(err)
				}
				b = dec.(*task.DocumentBatch)
				for _, c := range b.Columns {
					nulls += c.NullCount()
				}
				if err := w.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if nulls < 33*19/4-19 {
				t.Fatalf("only %d nulls came through the batches", nulls)
			}
			out, err := arrowtest.ReadParquet(dst)
			if err != nil {
				t.Fatal(err)
			}
			sameSchema(t, in, out)
			sameKeptRows(t, in, out, func(int) bool { return true })
			if o.StoreSchema && out.Metadata["ARROW:schema"] != in.Metadata["ARROW:schema"] {
				t.Error("ARROW:schema not kept")
			}
			checkPageVersion(t, dst, 1)
		})
	}
}

// TestParquetWriterRefusesWhatItCannotWrite: a null in a column whose
// Parquet type is required, an integer too large for its narrower Parquet
// type, and opaque values without a Parquet type are errors naming the
// column, never silently changed data.
func TestParquetWriterRefusesWhatItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	src, _ := writeArrow(t, dir, "in.parquet", 4, arrowtest.WriteOptions{})
	r, err := NewParquetReader([]string{src}, ReadOptions{IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	for _, c := range []struct {
		name   string
		change func(b *task.DocumentBatch)
		want   string
	}{
		{"null in required", func(b *task.DocumentBatch) { b.Column("id").SetNull(1) }, `column "id", row 1: null, but the column's Parquet type is required`},
		{"out of range", func(b *task.DocumentBatch) { b.Column("i16").Ints[0] = 40000 }, `column "i16", row 0: 40000 does not fit its Parquet type int16`},
		{"opaque without type", func(b *task.DocumentBatch) { b.Column("st").SourceType = "" }, `column "st": opaque values without a Parquet type`},
		{"kind changed", func(b *task.DocumentBatch) {
			b.SetColumn(&task.Column{Name: "i8", Type: task.String, Strings: make([]string, 4), SourceType: b.Column("i8").SourceType})
		}, `column "i8" holds string values but its Parquet type (from its SourceType) is int8`},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := task.NewCodecs().Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := task.NewCodecs().Unmarshal(enc)
			if err != nil {
				t.Fatal(err)
			}
			bb := dec.(*task.DocumentBatch)
			c.change(bb)
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".parquet")
			w, err := CreateParquet(path, ParquetWriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write(bb)
			if err == nil {
				err = w.Close()
			} else {
				w.Abort()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("a failed write left %s: %v", path, err)
			}
		})
	}
}
