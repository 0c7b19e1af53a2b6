package dataio

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCountRecordsSplitMatches: one read gives what CountRecords and
// SplitJSONL give apart, for files above and below the split size, plain
// and compressed (never cut), and a missing file is named.
func TestCountRecordsSplitMatches(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 300 {
		if i%17 == 3 {
			sb.WriteString("  \n") // blank: no record
		}
		sb.WriteString(`{"text":"document ` + strings.Repeat("y", i%40) + `"}` + "\n")
	}
	sb.WriteString(`{"text":"no newline"}`)
	data := []byte(sb.String())
	ctx := context.Background()
	for _, name := range []string{"a.jsonl", "a.jsonl.gz", "a.jsonl.zst", "empty.jsonl"} {
		body := data
		if strings.HasPrefix(name, "empty") {
			body = nil
		}
		p := writeFile(t, dir, name, body)
		want, err := CountRecords(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, split := range []int64{0, 500, 1 << 30} {
			n, secs, err := CountRecordsSplit(ctx, p, split)
			if err != nil || n != want {
				t.Fatalf("%s split %d: %d, %v; want %d", name, split, n, err, want)
			}
			var wantSecs []Section
			if CompressionOf(p) == NoCompression && split > 0 && int64(len(body)) > split {
				if wantSecs, err = SplitJSONL(p, split); err != nil {
					t.Fatal(err)
				}
				if len(wantSecs) < 2 {
					t.Fatalf("%s: the test wants a file cut in several sections, got %d", name, len(wantSecs))
				}
			}
			if !reflect.DeepEqual(secs, wantSecs) {
				t.Fatalf("%s split %d: sections %+v, want %+v", name, split, secs, wantSecs)
			}
		}
	}
	missing := filepath.Join(dir, "missing.jsonl")
	if _, _, err := CountRecordsSplit(ctx, missing, 10); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := CountRecordsSplit(ctx, dir, 10); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("directory: %v", err)
	}
}

// TestSharedBuffersNotAliased: readers of many small files, some open at
// once, each read their own records (the buffers they share come back
// only when a reader is closed).
func TestSharedBuffersNotAliased(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 6 {
		paths = append(paths, writeFile(t, dir, "f"+string(rune('a'+i))+".jsonl",
			[]byte(`{"text":"esc\n`+strings.Repeat(string(rune('a'+i)), 10)+`"}`+"\n")))
	}
	ctx := context.Background()
	opts := ReadOptions{IDField: "-", OmitRaw: true}
	var open []*JSONLReader
	var got []string
	for round := range 3 {
		for _, p := range paths {
			r, err := NewJSONLReader([]string{p}, opts)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := r.NextRecord(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(rec.Text))
			if round == 1 {
				open = append(open, r) // held open across the next reads
				continue
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range open {
		if err := r.Close(); err != nil || r.Close() != nil {
			t.Fatalf("reader %d: close: %v", i, err)
		}
	}
	for i, s := range got {
		want := "esc\n" + strings.Repeat(string(rune('a'+i%len(paths))), 10)
		if s != want {
			t.Fatalf("record %d: %q, want %q", i, s, want)
		}
	}
}
