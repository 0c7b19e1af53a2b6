package fuzzy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTruncatedSignatureStore: a signature store cut short in the cache
// (a damaged disk, a copy interrupted) fails the LSH phase that reads it
// with an error naming the store and the record, rather than bucketing
// what is left.
func TestTruncatedSignatureStore(t *testing.T) {
	l := writeLayout(t, smallDocs(5, 40), 2)
	c := quickConfig(l.dir, filepath.Join(t.TempDir(), "out"))
	sum := mustRun(t, c)
	stores, _ := filepath.Glob(filepath.Join(sum.CacheDir, "minhash", "*.sig"))
	if len(stores) == 0 {
		t.Fatal("no signature stores in the cache")
	}
	fi, err := os.Stat(stores[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(stores[0], fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	// The LSH phase runs again from the cached MinHash phase.
	lsh, _ := filepath.Glob(filepath.Join(sum.CacheDir, "lsh-*"))
	for _, d := range lsh {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	c.Overwrite = true
	_, err = runWorkflow(t, c, runOptions{})
	if err == nil {
		t.Fatal("a truncated signature store: no error")
	}
	t.Logf("error: %v", err)
	if msg := err.Error(); !strings.Contains(msg, filepath.Base(stores[0])) || !strings.Contains(msg, "record") {
		t.Fatalf("error %q does not name the store and the record", msg)
	}
}
