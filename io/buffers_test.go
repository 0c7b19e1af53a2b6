package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadBuffersSizedToFiles: the JSONL reader's buffer is sized to each
// file and reused from file to file, and lines longer than the buffer (a
// small file's, or a highly compressed file's) still read whole, in order,
// with their file and row; copying and counting, which size their buffers
// the same way, agree.
func TestReadBuffersSizedToFiles(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("long text ", 30_000) // 300 KB: more than any small file's buffer
	files := []struct {
		name  string
		texts []string
	}{
		{"a.jsonl", []string{"one", "two"}},                     // 4 KiB buffer
		{"b.jsonl.gz", []string{long, "after the long line"}},   // compresses ~1000×: the line outgrows the buffer
		{"c.jsonl", []string{"three", long + "!", "four"}},      // a larger buffer
		{"d.jsonl.zst", []string{"five"}},                       // reuses c's
		{"e.jsonl", []string{strings.Repeat("é", 3000), "six"}}, // non-ASCII across a buffer boundary
	}
	var paths []string
	var want []string
	for _, f := range files {
		var sb strings.Builder
		for _, s := range f.texts {
			fmt.Fprintf(&sb, "{\"text\":%q}\n", s)
			want = append(want, fmt.Sprintf("%s:%d:%d", f.name, len(want), len(s)))
		}
		paths = append(paths, writeFile(t, dir, f.name, []byte(sb.String())))
	}
	r, err := NewJSONLReader(paths, ReadOptions{IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	texts := map[int]string{}
	for {
		rec, err := r.NextRecord(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		texts[len(got)] = string(rec.Text)
		got = append(got, fmt.Sprintf("%s:%d:%d", filepath.Base(rec.File), len(got), len(rec.Text)))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("records\n got %v\nwant %v", got, want)
	}
	if texts[2] != long || texts[5] != long+"!" {
		t.Fatal("a long line was not read whole")
	}
	if err := os.MkdirAll(filepath.Join(dir, "copy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		n, err := CountRecords(p)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "copy", filepath.Base(p))
		st, err := CopyJSONLFiltered(context.Background(), p, dst, func(int64) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		m, err := CountRecords(dst)
		if err != nil {
			t.Fatal(err)
		}
		if m != n || st.Kept != n {
			t.Fatalf("%s: %d records, copy reports %d and holds %d", p, n, st.Kept, m)
		}
	}
}
