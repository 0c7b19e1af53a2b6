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
	read := func(r BatchReader) (rows []int64, texts []string, bad []string) {
		t.Helper()
		for {
			b, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, b.Column(RowColumn).Ints...)
			texts = append(texts, b.Texts()...)
		}
		return rows, texts, bad
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

type memQuarantine struct{ recs []BadRecordError }

func (m *memQuarantine) Put(r *BadRecordError) error {
	m.recs = append(m.recs, *r)
	return nil
}
