package dataio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestSkipTo: after SkipTo(row), NextRecord returns record row (the next
// good one when row is a bad record) with the text a full read gives,
// whatever lies between: blank lines, escapes, a byte order mark, CRLF,
// malformed records, a line longer than the buffer; past the end, io.EOF.
func TestSkipTo(t *testing.T) {
	long := strings.Repeat("x", 70_000)
	lines := []string{
		"\ufeff{\"text\":\"first\"}",
		"",
		"{\"text\":\"esc\\\"aped\\n\"}\r",
		"not json",
		"   ",
		"{\"text\":\"" + long + "\"}",
		"{\"id\":1}",
		"{\"text\":\"last\"}",
	}
	path := writeFile(t, t.TempDir(), "s.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	opts := ReadOptions{IDField: "-", OnBadRecord: Skip}
	full := map[int64]string{}
	r, err := NewJSONLReader([]string{path}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	for {
		rec, err := r.NextRecord(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		full[rec.Row] = string(rec.Text)
		order = append(order, rec.Row)
	}
	r.Close()
	if len(order) != 4 || full[0] != "first" || full[1] != "esc\"aped\n" || full[3] != long || full[5] != "last" {
		t.Fatalf("full read: rows %v", order)
	}
	// Rows 0–5 are the non-blank lines; 2 and 4 are bad records.
	for row, want := range map[int64]int64{0: 0, 1: 1, 2: 3, 3: 3, 4: 5, 5: 5, 6: -1} {
		r, err := NewJSONLReader([]string{path}, opts)
		if err != nil {
			t.Fatal(err)
		}
		err = r.SkipTo(context.Background(), row)
		var rec Record
		if err == nil {
			rec, err = r.NextRecord(context.Background())
		}
		switch {
		case want < 0:
			if !errors.Is(err, io.EOF) {
				t.Errorf("SkipTo(%d) past the end: %v, want io.EOF", row, err)
			}
		case err != nil:
			t.Errorf("SkipTo(%d): %v", row, err)
		case rec.Row != want || string(rec.Text) != full[want]:
			t.Errorf("SkipTo(%d) then NextRecord: row %d (%d bytes), want row %d", row, rec.Row, len(rec.Text), want)
		}
		r.Close()
	}
}
