//go:build linux

package dataio

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestOpenSeqCleanup: an unclosed seqFile's descriptor is closed once the
// seqFile is garbage, as an os.File's is.
func TestOpenSeqCleanup(t *testing.T) {
	p := writeFile(t, t.TempDir(), "c.jsonl", []byte("{}\n"))
	fd := func() int {
		f, err := openSeq(p)
		if err != nil {
			t.Fatal(err)
		}
		return f.(*seqFile).fd
	}()
	link := "/proc/self/fd/" + strconv.Itoa(fd)
	if target, err := os.Readlink(link); err != nil || target != p {
		t.Fatalf("descriptor %d: %q, %v", fd, target, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		target, err := os.Readlink(link)
		if err != nil || target != p {
			return // closed (the number may be reused by another file)
		}
		if time.Now().After(deadline) {
			t.Fatalf("descriptor %d of an unreachable seqFile still open", fd)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOpenLocalFileWorks: openLocalFile gives a working *os.File.
func TestOpenLocalFileWorks(t *testing.T) {
	p := writeFile(t, t.TempDir(), "w.jsonl", []byte("abc"))
	f, err := openLocalFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 3)
	if n, err := f.ReadAt(b, 0); n != 3 || err != nil || string(b) != "abc" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, b)
	}
	if f.Name() != p {
		t.Fatalf("Name = %q", f.Name())
	}
}
