package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// fileReader and fileWriter declare the paths they read and write, as the
// jsonl and parquet stages do.
type fileReader struct {
	pass
	paths []string
}

func (r *fileReader) InputPaths() []string { return r.paths }

type fileWriter struct {
	pass
	target dataio.OutputTarget
}

func (w *fileWriter) OutputTarget() dataio.OutputTarget { return w.target }

// countingExec counts Execute calls.
type countingExec struct{ calls int }

func (e *countingExec) Execute(_ context.Context, _ []stage.Stage, in []task.Task) ([]task.Task, error) {
	e.calls++
	return in, nil
}

func reader(paths ...string) *fileReader {
	return &fileReader{pass: *mk("read", kinds(task.KindEmpty), kinds(task.KindEmpty)), paths: paths}
}

func writer(name, dir string, mode dataio.OutputMode) *fileWriter {
	return &fileWriter{pass: *mk(name, kinds(task.KindEmpty), kinds(task.KindEmpty)), target: dataio.OutputTarget{Dir: dir, Mode: mode}}
}

// TestPrepareOutputs: Run checks and prepares every writer's directory
// before executing anything; overlapping and occupied outputs are refused
// with errors that name the stage and wrap dataio.ErrOutputRejected.
func TestPrepareOutputs(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	cases := []struct {
		name   string
		stages []any
		want   string
	}{
		{"writer inside input", []any{reader(in), writer("write", filepath.Join(in, "o"), "")}, "(dir of stage write) lies inside " + in + " (paths of stage read)"},
		{"input inside writer", []any{reader(filepath.Join(out, "x.jsonl")), writer("write", out, "")}, "lies inside " + out + " (dir of stage write)"},
		{"two writers", []any{reader(in), writer("a", out, ""), writer("b", filepath.Join(out, "b"), "")}, "(dir of stage a) and " + filepath.Join(out, "b") + " (dir of stage b) overlap"},
	}
	for _, c := range cases {
		ex := &countingExec{}
		_, err := New("p", c.stages...).Run(context.Background(), ex, nil)
		if !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), c.want) || ex.calls != 0 {
			t.Errorf("%s: err %v (want %q), %d executions", c.name, err, c.want, ex.calls)
		}
	}

	ex := &countingExec{}
	if _, err := New("p", reader(in), writer("write", out, "")).Run(context.Background(), ex, nil); err != nil || ex.calls != 1 {
		t.Fatalf("a clean run: %v, %d executions", err, ex.calls)
	}
	if _, err := os.Stat(filepath.Join(out, dataio.RecordsDir, "run.json")); err != nil {
		t.Fatalf("Run did not prepare the output: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "theirs.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ex = &countingExec{}
	_, err := New("p", reader(in), writer("write", out, "")).Run(context.Background(), ex, nil)
	if !errors.Is(err, dataio.ErrOutputRejected) || !strings.Contains(err.Error(), "theirs.jsonl") ||
		!strings.Contains(err.Error(), "mode: overwrite") || !strings.Contains(err.Error(), "stage write") || ex.calls != 0 {
		t.Fatalf("occupied output: %v, %d executions", err, ex.calls)
	}
	p := New("p", reader(in), writer("write", out, dataio.OutputOverwrite))
	if err := p.PrepareOutputs(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ex, nil); err != nil || ex.calls != 1 {
		t.Fatalf("overwrite: %v, %d executions", err, ex.calls)
	}
}
