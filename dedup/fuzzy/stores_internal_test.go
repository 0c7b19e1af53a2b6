package fuzzy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Two attempts writing the same signature store, shingle store and edge
// file at once (the second started while an actor given up for dead still
// writes) never write into the same file: what ends at each path is one
// attempt's complete file, and no temporary file is left.
func TestStoresOfTwoAttemptsDoNotMix(t *testing.T) {
	dir := t.TempDir()
	sig, shd, shx, edges := filepath.Join(dir, "p.sig"), filepath.Join(dir, "p.shingles"), filepath.Join(dir, "p.shidx"), filepath.Join(dir, "part.0.parquet")
	type attempt struct {
		s  *sigStoreWriter
		sh *shingleWriter
		e  *edgeWriter
	}
	var as [2]attempt
	for i := range as {
		var err error
		if as[i].s, err = createSigStore(sig, 10, 4); err != nil {
			t.Fatal(err)
		}
		if as[i].sh, err = createShingleStore(shd, shx, 10); err != nil {
			t.Fatal(err)
		}
		if as[i].e, err = createEdgeFile(edges); err != nil {
			t.Fatal(err)
		}
	}
	// Interleaved writes: attempt i writes records filled with byte i+1.
	for id := int64(10); id < 13; id++ {
		for i, a := range as {
			if err := a.s.write(id, bytes.Repeat([]byte{byte(i + 1)}, 4)); err != nil {
				t.Fatal(err)
			}
			if err := a.sh.write(id, []uint32{uint32(i + 1), uint32(id)}); err != nil {
				t.Fatal(err)
			}
			if err := a.e.add(id, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, a := range as {
		if err := a.s.close(3); err != nil {
			t.Fatal(err)
		}
		if err := a.sh.close(3); err != nil {
			t.Fatal(err)
		}
		if err := a.e.close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{sig, shd, shx, edges} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v, %v: want mode 0644, as the other files of the cache", p, st, err)
		}
	}
	b, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, bytes.Repeat([]byte{2}, 12)) {
		t.Fatalf("signature store holds %v: the attempts' records mixed", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files left: %v", names)
	}
	// An aborted store leaves nothing.
	w, err := createSigStore(filepath.Join(dir, "q.sig"), 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	w.abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Fatalf("an aborted store left %d files", len(entries)-4)
	}
}
