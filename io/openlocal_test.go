package dataio

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openErrCases are paths that cannot be opened, for every reason the
// tests can produce as any user.
func openErrCases(t *testing.T) map[string]string {
	dir := t.TempDir()
	file := writeFile(t, dir, "f.jsonl", []byte("{}\n"))
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"missing":         filepath.Join(dir, "missing.jsonl"),
		"not a directory": filepath.Join(file, "x.jsonl"),
		"symlink loop":    loop,
		"name too long":   filepath.Join(dir, strings.Repeat("n", 300)),
	}
}

// TestOpenLocalErrors: the cheap opens fail exactly as os.Open does,
// naming the file.
func TestOpenLocalErrors(t *testing.T) {
	for name, p := range openErrCases(t) {
		_, want := os.Open(p)
		if want == nil {
			t.Fatalf("%s: os.Open(%s) succeeded", name, p)
		}
		_, err1 := openSeq(p)
		_, err2 := openLocalFile(p)
		for _, err := range []error{err1, err2} {
			if err == nil || err.Error() != want.Error() {
				t.Errorf("%s: got %v, want %v", name, err, want)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != p {
				t.Errorf("%s: %v is not a *fs.PathError naming %s", name, err, p)
			}
			if errors.Is(want, fs.ErrNotExist) != errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: errors.Is(ErrNotExist) differs from os.Open's", name)
			}
		}
	}
}

// TestOpenLocalPermission: a file the user may not read fails as os.Open
// does, with fs.ErrPermission (root reads everything, so the check needs
// another user).
func TestOpenLocalPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may read any file")
	}
	p := writeFile(t, t.TempDir(), "secret.jsonl", []byte("{}\n"))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, want := os.Open(p)
	_, err := openSeq(p)
	if err == nil || !errors.Is(err, fs.ErrPermission) || err.Error() != want.Error() {
		t.Fatalf("got %v, want %v", err, want)
	}
	if _, err := CountRecords(p); err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("CountRecords: %v", err)
	}
}

// TestOpenSeqDirectory: a directory opens, and reading it fails as an
// os.File's read does, naming it; the counters report that error.
func TestOpenSeqDirectory(t *testing.T) {
	dir := t.TempDir()
	of, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	_, want := of.Read(make([]byte, 16))
	f, err := openSeq(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, got := f.Read(make([]byte, 16))
	if got == nil || want == nil || got.Error() != want.Error() {
		t.Fatalf("read of a directory: got %v, want %v", got, want)
	}
	_, err = CountRecords(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("CountRecords(dir) = %v", err)
	}
}

// TestOpenSeqReads: Read, ReadAt and Size agree with an os.File, and a
// closed file refuses everything as an os.File does.
func TestOpenSeqReads(t *testing.T) {
	data := []byte("0123456789abcdef")
	p := writeFile(t, t.TempDir(), "d.jsonl", data)
	f, err := openSeq(p)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Size(); err != nil || n != int64(len(data)) {
		t.Fatalf("Size = %d, %v", n, err)
	}
	got, err := io.ReadAll(f)
	if err != nil || string(got) != string(data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := f.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v", n, err)
	}
	if n, err := f.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v", n, err)
	}
	b := make([]byte, 4)
	if n, err := f.ReadAt(b, 3); n != 4 || err != nil || string(b) != "3456" {
		t.Fatalf("ReadAt(3) = %d, %v, %q", n, err, b)
	}
	if n, err := f.ReadAt(b, 14); n != 2 || err != io.EOF || string(b[:2]) != "ef" {
		t.Fatalf("ReadAt past the end = %d, %v, %q", n, err, b[:n])
	}
	if _, err := f.ReadAt(b, -1); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadAt(-1) = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(b); !errors.Is(err, os.ErrClosed) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Read after Close = %v", err)
	}
	if _, err := f.ReadAt(b, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ReadAt after Close = %v", err)
	}
	if _, err := f.Size(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Size after Close = %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// TestLocalReadsNameMissingFile: every local read path reports a missing
// file by name, as fs.ErrNotExist.
func TestLocalReadsNameMissingFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, name := range []string{"gone.jsonl", "gone.jsonl.gz", "gone.jsonl.zst", "gone.parquet"} {
		p := filepath.Join(dir, name)
		_, err1 := CountRecords(p)
		_, err2 := OpenStream(ctx, p, 0, -1)
		_, err3 := OpenStream(ctx, p, 2, 5)
		_, err4 := Open(ctx, p)
		_, err5 := ReadFile(ctx, p)
		r, _ := NewReader([]string{p}, ReadOptions{})
		_, err6 := r.Next(ctx)
		for i, err := range []error{err1, err2, err3, err4, err5, err6} {
			if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: read path %d: %v", name, i+1, err)
			}
		}
	}
}
