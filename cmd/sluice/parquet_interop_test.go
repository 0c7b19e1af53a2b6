package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/sluice-data/sluice/internal/arrowtest"
)

// arrowInput writes arrowtest.AllTypes(n) to path with Arrow and returns
// what Arrow reads back from it.
func arrowInput(t *testing.T, path string, n int, o arrowtest.WriteOptions) *arrowtest.Table {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := arrowtest.AllTypes(n)
	defer rec.Release()
	if err := arrowtest.WriteParquet(path, rec, o); err != nil {
		t.Fatal(err)
	}
	tbl, err := arrowtest.ReadParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// checkKeptRows fails unless Arrow reads from out the schema of in and rows
// that are rows of in, in order, equal in every column (nulls included),
// matched by the id column. It returns the ids of the rows kept.
func checkKeptRows(t *testing.T, in *arrowtest.Table, outPath string) []int {
	t.Helper()
	out, err := arrowtest.ReadParquet(outPath)
	if err != nil {
		t.Fatalf("arrow cannot read sluice's output: %v", err)
	}
	if !out.Schema.Equal(in.Schema) {
		t.Fatalf("%s: schema changed:\nin  %s\nout %s", outPath, in.Schema, out.Schema)
	}
	for i, f := range in.Schema.Fields() {
		if g := out.Schema.Field(i); !g.Metadata.Equal(f.Metadata) {
			t.Errorf("%s: field %s: metadata %v, want %v", outPath, f.Name, g.Metadata, f.Metadata)
		}
	}
	var ids []int
	last := -1
	for _, row := range out.Rows {
		id, err := strconv.Atoi(row[0])
		if err != nil || id <= last || id >= len(in.Rows) {
			t.Fatalf("%s: row id %q out of order or range (previous %d)", outPath, row[0], last)
		}
		last = id
		if want := in.Rows[id]; !slices.Equal(row, want) {
			for j := range want {
				if row[j] != want[j] {
					t.Errorf("%s: id %d column %s: got %s, want %s", outPath, id, in.Schema.Field(j).Name, row[j], want[j])
				}
			}
			t.FailNow()
		}
		ids = append(ids, id)
	}
	return ids
}

// TestDedupFuzzyArrowParquet runs `sluice dedup fuzzy` on files written by
// Apache Arrow: every column type with nulls, nested columns, 0-row row
// groups before and between data, an empty table, dictionary encoding on
// and off, several codecs and both page versions. Rows 2k and 2k+1 hold
// the same text, so exactly one of each pair must be kept, unchanged.
func TestDedupFuzzyArrowParquet(t *testing.T) {
	cases := []arrowtest.WriteOptions{
		{Dictionary: true, Compression: "snappy", RowGroups: []int{0, 20, 0, 20}},
		{Dictionary: false, Compression: "zstd", PageVersion: 2, StoreSchema: true},
		{Dictionary: true, Compression: "gzip", RowGroups: []int{10, 30}, StoreSchema: true},
	}
	for i, o := range cases {
		t.Run(fmt.Sprintf("%d_dict=%v_%s", i, o.Dictionary, o.Compression), func(t *testing.T) {
			dir := t.TempDir()
			in := arrowInput(t, filepath.Join(dir, "in", "docs.parquet"), 40, o)
			empty := arrowInput(t, filepath.Join(dir, "in", "empty.parquet"), 0, arrowtest.WriteOptions{Dictionary: true, StoreSchema: true})
			out := filepath.Join(dir, "out")
			r := sluice("dedup", "fuzzy", "--input", filepath.Join(dir, "in"), "--output", out, "--workers", "2")
			if r.code != 0 {
				t.Fatal(r)
			}
			ids := checkKeptRows(t, in, filepath.Join(out, "deduplicated", "docs.parquet"))
			if len(ids) != 20 {
				t.Fatalf("kept ids %v, want one of each of the 20 pairs", ids)
			}
			for k, id := range ids {
				if id/2 != k {
					t.Fatalf("kept ids %v, want one of each pair", ids)
				}
			}
			if got := checkKeptRows(t, empty, filepath.Join(out, "deduplicated", "empty.parquet")); len(got) != 0 {
				t.Fatalf("empty table gained rows %v", got)
			}
		})
	}
}
