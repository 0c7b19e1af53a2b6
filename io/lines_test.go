package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestScanJSONLRecords: the scan numbers records as the reader does (blank
// and whitespace-only lines take no number, a last line without "\n"
// counts, compressed files too), sections start at their first row, a line
// longer than the buffer arrives whole, and ErrStopScan ends the scan.
func TestScanJSONLRecords(t *testing.T) {
	long := `{"text":"` + strings.Repeat("x", 3<<20) + `"}`
	body := "{\"text\":\"a\"}\n\n  \t\n{\"text\":\"b\"}\r\n" + long + "\n \n{\"text\":\"last\"}"
	dir := t.TempDir()
	for _, name := range []string{"p.jsonl", "p.jsonl.gz", "p.jsonl.zst"} {
		path := writeFile(t, dir, name, []byte(body))
		r, err := NewJSONLReader([]string{path}, ReadOptions{IDField: "-"})
		if err != nil {
			t.Fatal(err)
		}
		var wantRows []int64
		var wantLines []string
		for {
			b, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			wantRows = append(wantRows, b.Column(RowColumn).Ints...)
			for _, raw := range b.Column(RawColumn).Bytes {
				wantLines = append(wantLines, string(raw))
			}
		}
		r.Close()
		var rows []int64
		var lines []string
		err = ScanJSONLRecords(context.Background(), path, nil, func(row int64, line []byte) error {
			rows, lines = append(rows, row), append(lines, string(line))
			return nil
		})
		if err != nil || !slices.Equal(rows, wantRows) || !slices.Equal(lines, wantLines) || len(rows) != 4 {
			t.Fatalf("%s: rows %v (reader %v), %d lines equal: %v; err %v", name, rows, wantRows, len(lines), slices.Equal(lines, wantLines), err)
		}
	}
	path := writeFile(t, dir, "s.jsonl", []byte(body))
	secs, err := SplitJSONL(path, 20)
	if err != nil || len(secs) < 3 {
		t.Fatalf("sections %v (%v)", secs, err)
	}
	var rows []int64
	for i := range secs {
		err := ScanJSONLRecords(context.Background(), path, &secs[i], func(row int64, _ []byte) error {
			rows = append(rows, row)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(rows) != "[0 1 2 3]" {
		t.Fatalf("rows over sections: %v", rows)
	}
	n := 0
	err = ScanJSONLRecords(context.Background(), path, nil, func(row int64, _ []byte) error {
		n++
		if row == 1 {
			return ErrStopScan
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("stop after row 1: %d calls, %v", n, err)
	}
	boom := errors.New("boom")
	if err := ScanJSONLRecords(context.Background(), path, nil, func(int64, []byte) error { return boom }); err != boom {
		t.Fatalf("fn's error: %v", err)
	}
}
