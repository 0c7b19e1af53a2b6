package dataio

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-data/sluice/internal/arrowtest"
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
