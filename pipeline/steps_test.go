package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// source turns the start task into three batches of 10 documents.
type source struct{ stage.Base }

func (*source) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	var out []task.Task
	for range 3 {
		texts := make([]string, 10)
		for i := range texts {
			texts[i] = strings.Repeat("x", i)
		}
		out = append(out, task.NewDocumentBatch("", "text", texts))
	}
	return out, nil
}

// dropShort drops texts shorter than 3 characters.
type dropShort struct{ stage.Base }

func (*dropShort) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	var out []task.Task
	for _, t := range ts {
		b := t.(*task.DocumentBatch)
		keep := make([]bool, b.NumRows())
		for i, s := range b.Texts() {
			keep[i] = len(s) >= 3
		}
		out = append(out, b.Filter(keep))
	}
	return out, nil
}

// toFiles and toDocs stand in for a step's spool and read stages: a file
// group "holds" its batch's rows in its metadata.
type toFiles struct{ stage.Base }

func (*toFiles) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	var out []task.Task
	for _, t := range ts {
		fg := task.NewFileGroup("", []string{"f"})
		fg.Meta()["rows"] = strconv.Itoa(t.NumItems())
		out = append(out, fg)
	}
	return out, nil
}

type toDocs struct{ stage.Base }

func (*toDocs) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	var out []task.Task
	for _, t := range ts {
		n, _ := strconv.Atoi(t.Meta()["rows"])
		out = append(out, task.NewDocumentBatch("", "text", make([]string, n)))
	}
	return out, nil
}

// fakeStep removes one document per file group; lie makes it misreport
// the documents it read.
type fakeStep struct {
	stage.Base
	lie  bool
	dirs []string
}

func (s *fakeStep) SpoolStage(name, dir string) (stage.Stage, error) {
	s.dirs = append(s.dirs, dir)
	return &toFiles{stage.Base{StageName: name, In: kinds(task.KindDocumentBatch), Out: kinds(task.KindFileGroup)}}, nil
}

func (s *fakeStep) ReadStage(name string) (stage.Stage, error) {
	return &toDocs{stage.Base{StageName: name, StageKind: stage.FanOut, In: kinds(task.KindFileGroup), Out: kinds(task.KindDocumentBatch)}}, nil
}

func (s *fakeStep) RunStep(_ context.Context, env StepEnv, in []task.Task) (*StepResult, error) {
	res := &StepResult{}
	s.dirs = append(s.dirs, env.WorkDir)
	for _, t := range in {
		n, _ := strconv.Atoi(t.Meta()["rows"])
		fg := task.NewFileGroup("", []string{"f"})
		fg.Meta()["rows"] = strconv.Itoa(max(n-1, 0))
		res.Out = append(res.Out, fg)
		res.DocumentsIn += int64(n)
		res.DocumentsOut += int64(max(n-1, 0))
	}
	if s.lie {
		res.DocumentsIn++
	}
	return res, nil
}

func (*fakeStep) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("a step runs in the driver")
}

func newFakeStep(name string) *fakeStep {
	return &fakeStep{Base: stage.Base{StageName: name, In: kinds(task.KindFileGroup), Out: kinds(task.KindFileGroup)}}
}

// TestSteps: Build puts spool and read stages around steps (none between
// two steps), Describe shows the steps, Execute runs the segments and the
// steps in order and accounts for every document, a step whose counts
// disagree with its spool stage fails the run, and Run refuses steps.
func TestSteps(t *testing.T) {
	mkPipeline := func(s1, s2 *fakeStep) *Pipeline {
		return New("p",
			&source{stage.Base{StageName: "src", StageKind: stage.FanOut, In: kinds(task.KindEmpty), Out: kinds(task.KindDocumentBatch)}},
			&dropShort{stage.Base{StageName: "short", In: kinds(task.KindDocumentBatch), Out: kinds(task.KindDocumentBatch)}},
			s1, s2, mk("end", kinds(task.KindDocumentBatch), kinds(task.KindDocumentBatch)))
	}
	s1, s2 := newFakeStep("one"), newFakeStep("two")
	p := mkPipeline(s1, s2)
	if err := p.Build(); err == nil || !strings.Contains(err.Error(), "cache: DIR") {
		t.Fatalf("steps without a writer or cache: %v", err)
	}
	cache := t.TempDir()
	p.SetCache(cache)
	if err := p.Build(); err != nil {
		t.Fatal(err)
	}
	if got := names(p.Stages()); got != "src,short,one_spool,one,two,two_read,end" {
		t.Fatalf("stages %s", got)
	}
	if d := p.Describe(); strings.Count(d, " step ") != 2 {
		t.Fatalf("Describe does not show the steps:\n%s", d)
	}
	rt, err := local.New(local.Options{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := p.Run(context.Background(), executor.New(rt, executor.Config{}), nil); err == nil || !strings.Contains(err.Error(), "Execute") {
		t.Fatalf("Run with steps: %v", err)
	}
	res, err := p.Execute(context.Background(), Runner{Runtime: rt}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 30 read; 9 short ones dropped (3 per batch); each step removes one
	// per file group (3); 15 kept.
	r := res.Records
	if r.Read != 30 || r.Kept != 15 || !r.Complete || !r.Balanced() || len(r.Removed) != 3 ||
		r.Removed[0] != (Removed{"short", "stage", 9}) || r.Removed[1] != (Removed{"one", "step", 3}) || r.Removed[2] != (Removed{"two", "step", 3}) {
		t.Fatalf("records %+v", r)
	}
	if want := []string{filepath.Join(cache, "one", "input"), filepath.Join(cache, "one"), filepath.Join(cache, "two")}; strings.Join(append(s1.dirs, s2.dirs...), " ") != strings.Join(want, " ") {
		t.Fatalf("work dirs %v %v, want %v", s1.dirs, s2.dirs, want)
	}
	if rows := res.Report.Stages; len(rows) != 7 || rows[3].Name != "one" || rows[3].Kind != "step" || rows[3].ItemsIn != 21 || rows[3].ItemsOut != 18 {
		t.Fatalf("report %+v", rows)
	}

	liar := newFakeStep("one")
	liar.lie = true
	p = mkPipeline(liar, newFakeStep("two")).SetCache(cache)
	if _, err := p.Execute(context.Background(), Runner{Runtime: rt}, nil); err == nil || !strings.Contains(err.Error(), "step one read 22 documents, but its spool stage received 21") {
		t.Fatalf("a step that miscounts: %v", err)
	}
}

// TestHiddenInside: a writer may sit in another's _ or . directory (a
// step's spool in OUTPUT/_cache), not elsewhere inside it.
func TestHiddenInside(t *testing.T) {
	for _, c := range []struct {
		dir, path string
		want      bool
	}{
		{"out", "out/_cache/step/input", true},
		{"out", "out/.work", true},
		{"out", "out/sub/_cache", false},
		{"out", "out", false},
		{"out", "other/_cache", false},
	} {
		if got := hiddenInside(c.dir, c.path); got != c.want {
			t.Errorf("hiddenInside(%s, %s) = %v", c.dir, c.path, got)
		}
	}
	w := func(name, dir string) stage.Stage {
		return &outStage{mk(name, kinds(task.KindDocumentBatch), kinds(task.KindDocumentBatch)), dir}
	}
	dir := t.TempDir()
	p := New("p", mk("src", kinds(task.KindEmpty), kinds(task.KindDocumentBatch)), w("a", dir), w("b", filepath.Join(dir, "_cache", "x")))
	if err := p.PrepareOutputs(nil); err != nil {
		t.Fatalf("a writer in another's _cache: %v", err)
	}
	p = New("p", mk("src", kinds(task.KindEmpty), kinds(task.KindDocumentBatch)), w("a", dir), w("b", filepath.Join(dir, "x")))
	if err := p.PrepareOutputs(nil); !errors.Is(err, dataio.ErrOutputRejected) {
		t.Fatalf("a writer inside another: %v", err)
	}
}

// outStage is a stage that declares an output directory.
type outStage struct {
	*pass
	dir string
}

func (o *outStage) OutputTarget() dataio.OutputTarget {
	return dataio.OutputTarget{Dir: o.dir, Mode: dataio.OutputOverwrite}
}

// writingFilter is a filter that also declares an output directory (as a
// filter writing its rejected documents would).
type writingFilter struct {
	dropShort
	dir string
}

func (w *writingFilter) OutputTarget() dataio.OutputTarget {
	return dataio.OutputTarget{Dir: w.dir, Mode: dataio.OutputOverwrite}
}

// TestRecordsFilterThatWrites: a stage that takes and outputs documents
// counts as a filter even when it writes files; documents that reach the
// end in the last stage's batches are kept.
func TestRecordsFilterThatWrites(t *testing.T) {
	p := New("p",
		&source{stage.Base{StageName: "src", StageKind: stage.FanOut, In: kinds(task.KindEmpty), Out: kinds(task.KindDocumentBatch)}},
		&writingFilter{dropShort{stage.Base{StageName: "short", In: kinds(task.KindDocumentBatch), Out: kinds(task.KindDocumentBatch)}}, t.TempDir()})
	rt, err := local.New(local.Options{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	res, err := p.Execute(context.Background(), Runner{Runtime: rt}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Records; r.Read != 30 || r.Kept != 21 || len(r.Removed) != 1 || r.Removed[0] != (Removed{"short", "stage", 9}) || !r.Balanced() {
		t.Fatalf("records %+v", r)
	}
}
