package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

// TestRunParquetArrow runs `sluice run` with parquet_reader → chaos (which
// fails about a third of the batches, which ones depending on the temporary
// directory's name, and always panics on its third call, so retried
// batches cross the task codec) →
// parquet_writer on files written by Arrow, and has Arrow read every
// output file: each has the input's schema (types, nullability, nested
// columns, field ids and metadata), and together they hold every input
// row exactly once, every column equal, nulls included.
func TestRunParquetArrow(t *testing.T) {
	dir := t.TempDir()
	inputs := map[string]*arrowtest.Table{
		"a.parquet": arrowInput(t, filepath.Join(dir, "in", "a.parquet"), 30, arrowtest.WriteOptions{Dictionary: true, Compression: "snappy", StoreSchema: true, RowGroups: []int{0, 12, 0, 18}}),
		"b.parquet": arrowInput(t, filepath.Join(dir, "in", "b.parquet"), 17, arrowtest.WriteOptions{Dictionary: false, Compression: "zstd", PageVersion: 2}),
		"c.parquet": arrowInput(t, filepath.Join(dir, "in", "c.parquet"), 0, arrowtest.WriteOptions{Dictionary: true, StoreSchema: true}),
	}
	out := filepath.Join(dir, "out")
	yml := writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`name: pq
executor:
  max_attempts: 6
  retry_backoff: 1ms
stages:
  - type: parquet_reader
    name: read
    config: { dir: %s, batch_rows: 7 }
  - type: chaos
    name: chaos
    config: { seed: 7, error_fraction: 0.3, panic_on_call: 3 }
  - type: parquet_writer
    name: write
    config: { dir: %s, compression: gzip, row_group_rows: 3 }
`, filepath.Join(dir, "in"), out))
	sum := filepath.Join(dir, "summary.json")
	r := sluice("run", yml, "--summary-json", sum)
	if r.code != 0 {
		t.Fatal(r)
	}
	var s runSummary
	readJSON(t, sum, &s)
	if retries, _ := totals(s.Report); retries == 0 {
		t.Fatalf("chaos caused no retries: %+v", s.Report)
	}
	files, err := filepath.Glob(filepath.Join(out, "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("outputs %v %v", files, err)
	}
	seen := map[string]map[int]bool{}
	emptyFiles := 0
	for _, f := range files {
		tbl, err := arrowtest.ReadParquet(f)
		if err != nil {
			t.Fatalf("arrow cannot read %s: %v", f, err)
		}
		if !strings.HasPrefix(tbl.CreatedBy, "sluice version ") {
			t.Errorf("%s: created_by %q", f, tbl.CreatedBy)
		}
		if len(tbl.Rows) == 0 {
			emptyFiles++
			continue
		}
		// Find the input by its schema and first row.
		var name string
		for n, in := range inputs {
			id, _ := strconv.Atoi(tbl.Rows[0][0])
			if len(in.Rows) > id && in.Schema.Equal(tbl.Schema) && slices.Equal(in.Rows[id], tbl.Rows[0]) {
				name = n
			}
		}
		if name == "" {
			t.Fatalf("%s: first row %v matches no input row", f, tbl.Rows[0])
		}
		if seen[name] == nil {
			seen[name] = map[int]bool{}
		}
		for _, id := range checkKeptRows(t, inputs[name], f) {
			if seen[name][id] {
				t.Fatalf("%s row %d written twice", name, id)
			}
			seen[name][id] = true
		}
	}
	for name, in := range inputs {
		if len(seen[name]) != len(in.Rows) {
			t.Errorf("%s: %d of %d rows written", name, len(seen[name]), len(in.Rows))
		}
	}
	if emptyFiles != 0 {
		t.Errorf("%d files without rows (an empty input gives no batch)", emptyFiles)
	}
}

// TestRunParquetToJSONL: parquet_reader → jsonl_writer writes nulls as
// null and nested columns as JSON; a NaN fails the batch unless nan says
// how to write it; drop_columns leaves columns out.
func TestRunParquetToJSONL(t *testing.T) {
	dir := t.TempDir()
	arrowInput(t, filepath.Join(dir, "in", "a.parquet"), 8, arrowtest.WriteOptions{Dictionary: true})
	pipeline := func(name, readerExtra, writerExtra string) string {
		return writeFile(t, filepath.Join(dir, name+".yaml"), fmt.Sprintf(`name: %s
executor: { max_attempts: 1 }
stages:
  - type: parquet_reader
    name: read
    config: { dir: %s%s }
  - type: jsonl_writer
    name: write
    config: { dir: %s%s }
`, name, filepath.Join(dir, "in"), readerExtra, filepath.Join(dir, name), writerExtra))
	}
	// Row 3 holds a NaN in f64: the default policy fails, naming it.
	r := sluice("run", pipeline("nan-default", "", ""))
	if r.code != 1 || !strings.Contains(r.stderr, `column \"f64\", row 3: NaN has no JSON representation`) && !strings.Contains(r.stderr, `column "f64", row 3: NaN has no JSON representation`) {
		t.Fatalf("NaN with the default policy: want exit 1 naming the column:\n%s", r)
	}
	r = sluice("run", pipeline("nan-string", "", ", nan: string"))
	if r.code != 0 {
		t.Fatal(r)
	}
	lines := readLines(t, filepath.Join(dir, "nan-string"))
	if len(lines) != 8 {
		t.Fatalf("%d lines", len(lines))
	}
	rows := map[float64]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		rows[m["id"].(float64)] = m
	}
	// Column k of row i is null when (i+k)%4 == 1 (see arrowtest.AllTypes).
	for _, c := range []struct {
		id   float64
		col  string
		want any
	}{
		{3, "f64", "NaN"},
		{3, "s", nil},                   // column 2
		{3, "tags", nil},                // column 18
		{2, "tags", []any{"t2.0", nil}}, // a null element
		{3, "st", map[string]any{"a": nil, "b": "b3"}}, // a null field
		{2, "m", map[string]any{"k0": 0.0, "k1": nil}}, // a null value
		{4, "m", map[string]any{"k0": 0.0}},            // column 20
		{1, "dec", "-48.99"},                           // decimal(9,2) of -4899
		{1, "ts", "2023-11-14T22:13:21.000001Z"},       // timestamp(us, UTC)
		{5, "u64", 18446744073709551610.0},             // uint64 max - 5
	} {
		got, ok := rows[c.id][c.col]
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("row %v %s: got %#v, want %#v", c.id, c.col, got, c.want)
		}
	}
	// drop_columns leaves the NaN column out: the default policy passes.
	r = sluice("run", pipeline("dropped", ", drop_columns: [f64, st]", ""))
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, l := range readLines(t, filepath.Join(dir, "dropped")) {
		if strings.Contains(l, `"f64"`) || strings.Contains(l, `"st"`) {
			t.Fatalf("dropped columns written: %s", l)
		}
	}
}

// TestStagesListsParquet: `sluice stages` documents the Parquet stages'
// fields, and jsonl_writer's nan option.
func TestStagesListsParquet(t *testing.T) {
	r := sluice("stages", "parquet_reader", "parquet_writer", "jsonl_writer")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"drop_columns", "columns", "source_rows", "row_group_rows", "row_group_bytes", "compression", "page_version", "nan", "null, or string"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sluice stages lacks %q:\n%s", want, r.stdout)
		}
	}
}
