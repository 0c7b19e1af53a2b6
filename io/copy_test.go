package dataio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestCopyJSONLFiltered(t *testing.T) {
	lines := []string{
		`{"text":"r0"}`,
		``,
		`not json at all`, // a record (index 1) even though malformed
		"  \t\r",
		`{"text":"r2", "x": [1, 2]}` + "\r",
		`{"text":"` + strings.Repeat("long ", 500_000) + `"}`, // longer than the read buffer
		strings.Repeat(" ", 3<<20),                            // a long blank line
		`{"text":"r4"}`,
		`{"text":"r5 no newline"}`,
	}
	input := strings.Join(lines, "\n")
	// Records by index: r0, junk, r2, long, r4, r5.
	records := []string{lines[0], lines[2], lines[4], lines[5], lines[7], lines[8]}
	for _, names := range [][2]string{{"in.jsonl", "out.jsonl"}, {"in.jsonl.gz", "out.jsonl.zst"}, {"in.jsonl.zst", "out.jsonl.gz"}} {
		t.Run(names[0]+"->"+names[1], func(t *testing.T) {
			dir := t.TempDir()
			src := writeFile(t, dir, names[0], []byte(input))
			dst := filepath.Join(dir, names[1])
			dropped := map[int64]bool{1: true, 4: true}
			var asked []int64
			st, err := CopyJSONLFiltered(context.Background(), src, dst, func(row int64) bool {
				asked = append(asked, row)
				return dropped[row]
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(asked, []int64{0, 1, 2, 3, 4, 5}) {
				t.Fatalf("drop asked about %v", asked)
			}
			if st != (CopyStats{Kept: 4, Dropped: 2, BlankLines: 3}) {
				t.Fatalf("stats %+v", st)
			}
			var want strings.Builder
			for i, r := range records {
				if !dropped[int64(i)] {
					want.WriteString(r + "\n")
				}
			}
			if got := string(readDecompressed(t, dst)); got != want.String() {
				t.Fatalf("output differs (len %d, want %d)", len(got), want.Len())
			}
			n, err := CountRecords(src)
			if err != nil || n != int64(len(records)) {
				t.Fatalf("CountRecords = %d, %v; want %d", n, err, len(records))
			}
		})
	}
}

// TestCopyMatchesReaderRows checks that the record indexes the reader
// reports are the ones the copy drops, so dedup removal removes the right
// lines.
func TestCopyMatchesReaderRows(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 300 {
		switch i % 7 {
		case 3:
			b.WriteString("\n")
		case 5:
			b.WriteString("{broken\n")
		default:
			fmt.Fprintf(&b, "{\"text\":\"doc %d\",\"dup\":%v}\n", i, i%4 == 0)
		}
	}
	src := writeFile(t, dir, "in.jsonl.zst", []byte(b.String()))
	r, err := NewJSONLReader([]string{src}, ReadOptions{OnBadRecord: Skip, BatchRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	all := mustReadAll(t, r, 50)
	drop := map[int64]bool{}
	var keptTexts []string
	for i, raw := range col(t, all, RawColumn).Bytes {
		if strings.Contains(string(raw), `"dup":true`) {
			drop[col(t, all, RowColumn).Ints[i]] = true
		} else {
			keptTexts = append(keptTexts, all.Texts()[i])
		}
	}
	dst := filepath.Join(dir, "out.jsonl")
	if _, err := CopyFiltered(context.Background(), src, dst, func(row int64) bool { return drop[row] }); err != nil {
		t.Fatal(err)
	}
	r2, err := NewJSONLReader([]string{dst}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	out := mustReadAll(t, r2, DefaultBatchRows)
	if !slices.Equal(out.Texts(), keptTexts) || r2.Stats().BadRecords != r.Stats().BadRecords {
		t.Fatalf("kept %d texts, want %d; bad %d vs %d", out.NumRows(), len(keptTexts), r2.Stats().BadRecords, r.Stats().BadRecords)
	}
}

func TestCopyJSONLTruncatedInput(t *testing.T) {
	dir := t.TempDir()
	full := compressBytes(t, Gzip, []byte(strings.Repeat(`{"text":"abcdefghij"}`+"\n", 20000)))
	src := filepath.Join(dir, "in.jsonl.gz")
	if err := os.WriteFile(src, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := CopyJSONLFiltered(context.Background(), src, filepath.Join(dir, "out.jsonl"), func(int64) bool { return false })
	if err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("got %v", err)
	}
	if names := dirEntries(t, dir); !slices.Equal(names, []string{"in.jsonl.gz"}) {
		t.Fatalf("directory holds %v", names)
	}
}

func TestCopyParquetFiltered(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.parquet")
	w, err := CreateParquet(src, ParquetWriterOptions{RowGroupRows: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(allTypesBatch(100, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Row group 1 (rows 30..59) is dropped entirely.
	drop := func(row int64) bool { return row%3 == 1 || (row >= 30 && row < 60) }
	dst := filepath.Join(dir, "out.parquet")
	st, err := CopyFiltered(context.Background(), src, dst, drop)
	if err != nil {
		t.Fatal(err)
	}
	var keep []int
	for i := range 100 {
		if !drop(int64(i)) {
			keep = append(keep, i)
		}
	}
	if st.Kept != int64(len(keep)) || st.Dropped != int64(100-len(keep)) {
		t.Fatalf("stats %+v", st)
	}
	in, out := openParquetMeta(t, src), openParquetMeta(t, dst)
	if in.Schema().String() != out.Schema().String() {
		t.Fatalf("schema changed:\n%s\n%s", in.Schema(), out.Schema())
	}
	if len(out.RowGroups()) != 3 {
		t.Fatalf("%d row groups, want 3 (one source group emptied)", len(out.RowGroups()))
	}
	r, err := NewParquetReader([]string{dst}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := mustReadAll(t, r, DefaultBatchRows)
	want := allTypesBatch(100, 0).Take(keep)
	for _, c := range want.Columns {
		if !sameColumn(c, col(t, got, c.Name)) {
			t.Errorf("column %q differs", c.Name)
		}
	}

	// Dropping everything still yields a valid file with the schema.
	dst2 := filepath.Join(dir, "none.parquet")
	if _, err := CopyParquetFiltered(context.Background(), src, dst2, func(int64) bool { return true }, ParquetWriterOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := CountRecords(dst2); err != nil || n != 0 {
		t.Fatalf("CountRecords = %d, %v", n, err)
	}
	if openParquetMeta(t, dst2).Schema().String() != in.Schema().String() {
		t.Fatal("schema lost when every row is dropped")
	}
}

func TestCopyParquetKeepsForeignSchemaAndMetadata(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "foreign.parquet")
	var rows []foreignRow
	for i := range 10 {
		rows = append(rows, foreignRow{Text: ptr(fmt.Sprint(i)), I32: int32(i), Sig: []uint32{uint32(i)}, L64: []int64{int64(i)}, Nested: nested{A: int64(i)}})
	}
	writeForeign(t, src, rows, parquet.KeyValueMetadata("origin", "test"))
	dst := filepath.Join(dir, "out.parquet")
	if _, err := CopyParquetFiltered(context.Background(), src, dst, func(r int64) bool { return r%2 == 0 }, ParquetWriterOptions{}); err != nil {
		t.Fatal(err)
	}
	in, out := openParquetMeta(t, src), openParquetMeta(t, dst)
	if in.Schema().String() != out.Schema().String() {
		t.Fatalf("schema changed:\n%s\n%s", in.Schema(), out.Schema())
	}
	if v, ok := out.Lookup("origin"); !ok || v != "test" {
		t.Fatalf("key/value metadata lost: %q %v", v, ok)
	}
	r, err := NewParquetReader([]string{dst}, ReadOptions{Columns: []string{"i32", "sig"}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustReadAll(t, r, DefaultBatchRows)
	if !slices.Equal(got.Texts(), []string{"1", "3", "5", "7", "9"}) || !slices.Equal(col(t, got, "i32").Ints, []int64{1, 3, 5, 7, 9}) {
		t.Fatalf("texts %v", got.Texts())
	}
}

func TestCountRecords(t *testing.T) {
	dir := t.TempDir()
	content := "\n{\"text\":\"a\"}\r\n  \nbad\n{\"text\":\"b\"}"
	for _, name := range []string{"c.jsonl", "c.jsonl.gz", "c.jsonl.zst"} {
		p := writeFile(t, dir, name, []byte(content))
		if n, err := CountRecords(p); err != nil || n != 3 {
			t.Errorf("%s: %d, %v; want 3", name, n, err)
		}
	}
	empty := writeFile(t, dir, "e.jsonl", nil)
	if n, err := CountRecords(empty); err != nil || n != 0 {
		t.Errorf("empty: %d, %v", n, err)
	}
	pq := filepath.Join(dir, "c.parquet")
	w, err := CreateParquet(pq, ParquetWriterOptions{RowGroupRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(allTypesBatch(50, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := CountRecords(pq); err != nil || n != 50 {
		t.Errorf("parquet: %d, %v", n, err)
	}
	if _, err := CountRecords(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("missing file counted")
	}
	// Count agrees with reader rows + bad records for the sample.
	p := writeFile(t, dir, "s.jsonl", []byte(sample+"\n{oops\n"))
	r, err := NewJSONLReader([]string{p}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	mustReadAll(t, r, DefaultBatchRows)
	if n, _ := CountRecords(p); n != r.Stats().Rows+r.Stats().BadRecords {
		t.Errorf("count %d, reader %+v", n, r.Stats())
	}
}
