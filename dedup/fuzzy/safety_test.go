package fuzzy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// lossyRemove is the real removal stage on a disk that loses data after a
// successful write: each file it writes is cut to its first line afterwards,
// while the stage still reports every kept record.
type lossyRemove struct {
	fuzzy.RemoveStage
}

func (l *lossyRemove) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	out, err := l.RemoveStage.ProcessBatch(ctx, ts)
	for _, t := range out {
		for _, p := range t.(*task.FileGroup).Paths {
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				return nil, rerr
			}
			if i := strings.IndexByte(string(b), '\n'); i >= 0 {
				if werr := os.WriteFile(p, b[:i+1], 0o644); werr != nil {
					return nil, werr
				}
			}
		}
	}
	return out, err
}

// TestAccountingAgainstDisk: the final accounting counts the records in the
// written files on disk; when they are fewer than the removal stage
// reported, the run fails and writes no summary.json claiming them.
func TestAccountingAgainstDisk(t *testing.T) {
	base := stage.NewRegistry()
	if err := fuzzy.Register(base); err != nil {
		t.Fatal(err)
	}
	reg := stage.NewRegistry()
	for _, typ := range base.Types() {
		if typ.Name == "fuzzy_remove" {
			typ.New = func(config []byte) (stage.Stage, error) {
				var c fuzzy.RemoveConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				r, err := fuzzy.NewRemoveStage(c)
				if err != nil {
					return nil, err
				}
				return &lossyRemove{RemoveStage: *r}, nil
			}
		}
		if err := reg.Register(typ); err != nil {
			t.Fatal(err)
		}
	}
	l := writeLayout(t, smallDocs(7, 40), 2)
	out := filepath.Join(t.TempDir(), "out")
	_, err := runWorkflow(t, quickConfig(l.dir, out), runOptions{reg: reg})
	if err == nil || !strings.Contains(err.Error(), "record accounting: removal reported") || !strings.Contains(err.Error(), "hold 2") {
		t.Fatalf("lost writes: want a record accounting error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed run wrote summary.json: %v", err)
	}
}

// TestWorkflowOutputRules: the workflow itself (not only the CLI) refuses
// an input inside its output before any work, refuses an output holding a
// finished run unless Overwrite, and replaces an interrupted run's files.
func TestWorkflowOutputRules(t *testing.T) {
	l := writeLayout(t, smallDocs(9, 20), 2)
	out := filepath.Join(t.TempDir(), "out")
	cfg := quickConfig(l.dir, out)
	mustRun(t, cfg)

	in := cfg
	in.Inputs = []string{filepath.Join(out, "deduplicated")}
	if _, err := runWorkflow(t, in, runOptions{}); !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), "lies inside --output") {
		t.Fatalf("input inside the output: %v", err)
	}
	if _, err := runWorkflow(t, cfg, runOptions{}); !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), "summary.json") {
		t.Fatalf("rerun into a finished output: %v", err)
	}
	// An interrupted run: no summary.json. The same configuration resumes.
	if err := os.Remove(filepath.Join(out, "summary.json")); err != nil {
		t.Fatal(err)
	}
	sum := mustRun(t, cfg)
	if !sum.Phases[0].Resumed {
		t.Fatalf("the rerun of an interrupted run did not resume: %+v", sum.Phases[0])
	}
}
