package flow

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultGroupingJoinsSmallFiles: with neither FilesPerPartition nor
// BlockSize, small files share file groups of about DefaultBlockSize, a
// file larger than that has a group of its own, and either setting
// replaces the default.
func TestDefaultGroupingJoinsSmallFiles(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%02d.jsonl", i)), []byte(`{"text":"a"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := filepath.Join(dir, "t-big.jsonl")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(DefaultBlockSize + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		c      IO
		groups int
	}{
		{"default", IO{}, 2},
		{"files-per-partition 1", IO{FilesPerPartition: 1}, 31},
		{"blocksize 8 bytes", IO{BlockSize: 8}, 31},
		{"in order, default", IO{InOrder: true}, 2},
	} {
		c := tc.c
		c.Inputs, c.Output, c.Cache = []string{dir}, filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "cache")
		if c.InOrder {
			c.Inputs, _ = filepath.Glob(filepath.Join(dir, "*.jsonl"))
		}
		files, groups, err := CheckInputs(c, log)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(files) != 31 || len(groups) != tc.groups {
			t.Fatalf("%s: %d files in %d groups, want 31 in %d", tc.name, len(files), len(groups), tc.groups)
		}
		if last := groups[len(groups)-1]; len(last) != 1 || !strings.HasSuffix(last[0], "t-big.jsonl") {
			t.Fatalf("%s: last group %v, want the large file alone", tc.name, last)
		}
	}
}
