package dataio

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitJSONLMatchesWholeFileRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	var sb strings.Builder
	for i := range 500 {
		switch i % 37 {
		case 5:
			sb.WriteString("\n") // blank line: no record index
		case 11:
			sb.WriteString("{bad json\n")
		}
		sb.WriteString(`{"id":` + strings.Repeat("1", i%7+1) + `,"text":"document number ` + strings.Repeat("x", i%50) + `"}` + "\n")
	}
	sb.WriteString(`{"id":0,"text":"last line without newline"}`)
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	whole, err := CountRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	read := func(r BatchReader) ([]int64, []string, []string) {
		rows, texts := readRowsTexts(t, r)
		return rows, texts, nil
	}
	q := &memQuarantine{}
	full, err := NewJSONLReader([]string{path}, ReadOptions{OnBadRecord: Skip, Quarantine: q})
	if err != nil {
		t.Fatal(err)
	}
	wantRows, wantTexts, _ := read(full)
	for _, target := range []int64{1, 100, 4096, 1 << 30} {
		secs, err := SplitJSONL(path, target)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		var rows []int64
		var texts []string
		sq := &memQuarantine{}
		for i, s := range secs {
			if i > 0 && s.Offset != secs[i-1].Offset+secs[i-1].Length {
				t.Fatalf("target %d: section %d not contiguous", target, i)
			}
			n += s.Rows
			r, err := NewJSONLSectionReader(path, s, ReadOptions{OnBadRecord: Skip, Quarantine: sq})
			if err != nil {
				t.Fatal(err)
			}
			rr, tt, _ := read(r)
			rows, texts = append(rows, rr...), append(texts, tt...)
		}
		if n != whole {
			t.Fatalf("target %d: sections count %d records, CountRecords %d", target, n, whole)
		}
		if !slices.Equal(rows, wantRows) || !slices.Equal(texts, wantTexts) {
			t.Fatalf("target %d: section reads differ from the whole-file read", target)
		}
		if len(sq.recs) != len(q.recs) {
			t.Fatalf("target %d: %d bad records, want %d", target, len(sq.recs), len(q.recs))
		}
		for i := range q.recs {
			if sq.recs[i].Line != q.recs[i].Line || sq.recs[i].Row != q.recs[i].Row {
				t.Fatalf("target %d: bad record at line %d row %d, want line %d row %d", target, sq.recs[i].Line, sq.recs[i].Row, q.recs[i].Line, q.recs[i].Row)
			}
		}
	}
	if _, err := SplitJSONL(filepath.Join(dir, "x.jsonl.gz"), 10); err == nil {
		t.Fatal("splitting a compressed file must fail")
	}
}

// readRowsTexts reads r to the end and returns every record's row index and
// text, in order.
func readRowsTexts(t *testing.T, r BatchReader) (rows []int64, texts []string) {
	t.Helper()
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return rows, texts
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, b.Column(RowColumn).Ints...)
		texts = append(texts, b.Texts()...)
	}
}

type memQuarantine struct{ recs []BadRecordError }

func (m *memQuarantine) Put(r *BadRecordError) error {
	m.recs = append(m.recs, *r)
	return nil
}

// TestSplitParquetMatchesWholeFileRead: a Parquet file written with small
// row groups (RowGroupBytes) splits into runs of row groups; reading every
// section gives the whole file's rows, texts and row indexes, in order,
// and bad text (invalid UTF-8) is reported at the same row either way.
func TestSplitParquetMatchesWholeFileRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	w, err := CreateParquet(path, ParquetWriterOptions{RowGroupBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		b := allTypesBatch(1500, 1500*k)
		if k == 2 {
			b.Texts()[700] = "bad \xff utf-8"
		}
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	groups := len(openParquetMeta(t, path).RowGroups())
	if groups < 4 {
		t.Fatalf("RowGroupBytes 4 KiB gave %d row groups for 7,500 rows, want several", groups)
	}
	read := func(r BatchReader) ([]int64, []string) { return readRowsTexts(t, r) }
	q := &memQuarantine{}
	full, err := NewParquetReader([]string{path}, ReadOptions{OnBadRecord: Skip, Quarantine: q})
	if err != nil {
		t.Fatal(err)
	}
	wantRows, wantTexts := read(full)
	if len(wantRows) != 7499 || len(q.recs) != 1 || q.recs[0].Row != 3700 {
		t.Fatalf("whole read: %d rows, bad records %+v; want 7,499 rows and row 3700 bad", len(wantRows), q.recs)
	}
	for _, target := range []int64{1, 20 << 10, 1 << 30} {
		secs, err := SplitParquet(path, target)
		if err != nil {
			t.Fatal(err)
		}
		if target == 1 && len(secs) != groups || target == 1<<30 && len(secs) != 1 {
			t.Fatalf("target %d: %d sections of %d row groups", target, len(secs), groups)
		}
		var n, bytes int64
		var rows []int64
		var texts []string
		sq := &memQuarantine{}
		for i, s := range secs {
			if i > 0 && (s.FirstRowGroup != secs[i-1].FirstRowGroup+secs[i-1].RowGroups || s.FirstRow != secs[i-1].FirstRow+secs[i-1].Rows) {
				t.Fatalf("target %d: section %d not contiguous: %+v after %+v", target, i, s, secs[i-1])
			}
			n += s.Rows
			r, err := NewParquetSectionReader(path, s, ReadOptions{OnBadRecord: Skip, Quarantine: sq})
			if err != nil {
				t.Fatal(err)
			}
			rr, tt := read(r)
			bytes += r.Stats().FileBytes
			r.Close()
			rows, texts = append(rows, rr...), append(texts, tt...)
		}
		if n != 7500 {
			t.Fatalf("target %d: sections count %d rows, want 7,500", target, n)
		}
		// Each section counts its own row groups' bytes, not the file's.
		if fi, err := os.Stat(path); err != nil || bytes <= 0 || bytes >= fi.Size() {
			t.Fatalf("target %d: sections report %d file bytes in all, want more than 0 and less than the file's size", target, bytes)
		}
		if !slices.Equal(rows, wantRows) || !slices.Equal(texts, wantTexts) {
			t.Fatalf("target %d: section reads differ from the whole-file read", target)
		}
		if len(sq.recs) != 1 || sq.recs[0].Row != 3700 {
			t.Fatalf("target %d: bad records %+v, want row 3700", target, sq.recs)
		}
	}
	// A section past the last row group fails when the file is opened, at
	// the first Next; an empty section at once.
	r, err := NewParquetSectionReader(path, Section{FirstRowGroup: groups, RowGroups: 1}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "section") {
		t.Fatalf("a section past the last row group: %v", err)
	}
	r.Close()
	if _, err := NewParquetSectionReader(path, Section{RowGroups: 0}, ReadOptions{}); err == nil {
		t.Fatal("a section of no row groups was accepted")
	}
}

// TestSplitAndCountStopOnCancel: scanning a file stops with the context's
// error once it is done (a run interrupted while it counts a huge file).
func TestSplitAndCountStopOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	if err := os.WriteFile(path, []byte(strings.Repeat(`{"text":"x"}`+"\n", 100_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CountRecordsContext(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("CountRecordsContext after cancel: %v", err)
	}
	if _, err := SplitJSONLContext(ctx, path, 1<<10); !errors.Is(err, context.Canceled) {
		t.Fatalf("SplitJSONLContext after cancel: %v", err)
	}
	if n, err := CountRecordsContext(context.Background(), path); err != nil || n != 100_000 {
		t.Fatalf("CountRecordsContext: %d, %v", n, err)
	}
}
