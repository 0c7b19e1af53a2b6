package flow

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// TestRemoveStageReportsCopyErrors: errors of the removal copy and of
// mirroring an empty input reach the caller (they were once lost to a
// shadowed variable, and the run exited 0 with files missing), and a group
// that fails leaves none of its files, not even those copied before the
// error.
func TestRemoveStageReportsCopyErrors(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	notParquet := filepath.Join(in, "bad.parquet")
	empty := filepath.Join(in, "empty.jsonl")
	if err := os.WriteFile(notParquet, []byte("this is not a parquet file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(in, "good.jsonl")
	if err := os.WriteFile(good, []byte("{\"text\":\"a\"}\n{\"text\":\"b\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The empty file's mirror cannot be written: a directory is in the way.
	if err := os.MkdirAll(filepath.Join(out, "empty.jsonl", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := dataio.PrepareOutput(out, dataio.PrepareOptions{Mode: dataio.OutputOverwrite}); err != nil {
		t.Fatal(err)
	}
	s, err := NewRemoveStage("fuzzy_remove", RemoveConfig{OutputDir: out, InputRoot: in, OutputMode: string(dataio.OutputOverwrite)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setup(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []FileRange{{Path: notParquet, Count: 3, Base: 2}, {Path: empty}} {
		group := []FileRange{{Path: good, Count: 2}, f}
		b, _ := json.Marshal(group)
		g := task.NewFileGroup("", []string{good, f.Path})
		g.Meta()[MetaFiles] = string(b)
		g.Meta()[MetaGroup] = "0"
		_, err := s.ProcessBatch(context.Background(), []task.Task{g})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(f.Path)) {
			t.Errorf("%s: error %v, want one naming the file", f.Path, err)
		}
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "_sluice" && e.Name() != "empty.jsonl" {
				t.Errorf("%s: the failed group left %s in the output", f.Path, e.Name())
			}
		}
	}
}
