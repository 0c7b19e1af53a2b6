package flow

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInputKeyAndMarker: the input key keeps its format (path, size and
// modification time of each file; "?" for one that cannot be stat'ed), and
// the cache marker records absolute paths with the same sizes and times,
// for relative and absolute inputs alike.
func TestInputKeyAndMarker(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("rel.jsonl", []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "sub", "..", "abs.jsonl")
	if err := os.WriteFile(abs, []byte("{}\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{"rel.jsonl", abs}
	var want strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&want, "%s\x00%d\x00%d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
	missing := filepath.Join(dir, "missing.jsonl")
	fmt.Fprintf(&want, "%s\x00?\n", missing)
	inputs := StatInputs(append(files, missing))
	if got := InputKeyOf(inputs); got != want.String() {
		t.Fatalf("InputKeyOf = %q, want %q", got, want.String())
	}
	if got := InputKey(append(files, missing)); got != want.String() {
		t.Fatalf("InputKey = %q", got)
	}
	if err := WriteCacheEntry(filepath.Join(dir, "cache", "e1"), inputs); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("marker with a missing input: %v", err)
	}
	root := filepath.Join(dir, "cache", "e2")
	if err := WriteCacheEntry(root, inputs[:2]); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, entryMarker))
	if err != nil {
		t.Fatal(err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{filepath.Join(dir, "rel.jsonl"), filepath.Join(dir, "abs.jsonl")}
	if len(e.Inputs) != 2 {
		t.Fatalf("marker inputs %+v", e.Inputs)
	}
	for i, in := range e.Inputs {
		if in.Path != wantPaths[i] || in.Size != inputs[i].Info.Size || in.MtimeNS != inputs[i].Info.ModTime.UnixNano() {
			t.Fatalf("marker input %d = %+v, want %s of %d bytes", i, in, wantPaths[i], inputs[i].Info.Size)
		}
	}
	if reason, ok := staleReason(root); !ok || reason != "" {
		t.Fatalf("fresh entry: stale %q, %v", reason, ok)
	}
}
