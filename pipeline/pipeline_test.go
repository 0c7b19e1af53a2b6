package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/chaos"
	"github.com/sluice-data/sluice/task"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pass is a plain stage that returns its input, with declared specs.
type pass struct{ stage.Base }

func (*pass) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

func mk(name string, in, out stage.Spec) *pass {
	return &pass{stage.Base{StageName: name, In: in, Out: out}}
}

func kinds(k ...string) stage.Spec { return stage.Spec{Kinds: k} }

func docs(cols ...string) stage.Spec {
	return stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: cols}
}

// twoPart is a composite that names its parts after itself.
type twoPart struct {
	stage.Base
	fail bool
}

func (c *twoPart) Decompose() ([]stage.Stage, error) {
	if c.fail {
		return nil, errors.New("bad config")
	}
	return []stage.Stage{
		mk(c.Name()+".partition", kinds(task.KindEmpty), kinds(task.KindFileGroup)),
		mk(c.Name(), kinds(task.KindFileGroup), docs("text", "id")),
	}, nil
}

func (c *twoPart) Rename(name string) stage.Composite {
	cp := *c
	cp.StageName = name
	return &cp
}

func (*twoPart) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("composite must be decomposed")
}

func names(ss []stage.Stage) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name())
	}
	return strings.Join(n, ",")
}

func TestBuildExpandsComposites(t *testing.T) {
	renamed := stage.With(&twoPart{Base: stage.Base{StageName: "reader"}}, stage.WithName("read2"), stage.WithEnv(map[string]string{"K": "v"}))
	p := New("p", renamed, mk("filter", docs("text"), docs()), mk("write", docs("id"), kinds(task.KindFileGroup)))
	if err := p.Build(); err != nil {
		t.Fatal(err)
	}
	if got := names(p.Stages()); got != "read2.partition,read2,filter,write" {
		t.Fatalf("stages = %s", got)
	}
	for _, s := range p.Stages()[:2] {
		if s.Env()["K"] != "v" {
			t.Errorf("env of composite not applied to part %s: %v", s.Name(), s.Env())
		}
	}
	desc := p.Describe()
	for _, want := range []string{"pipeline p: 4 stages", "read2.partition", "*pipeline.pass", "cpus=1", "document_batch[text,id]", "empty", "auto"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	reader := func() *twoPart { return &twoPart{Base: stage.Base{StageName: "read"}} }
	cases := []struct {
		name string
		p    *Pipeline
		want []string
	}{
		{"empty", New("p"), []string{"no stages"}},
		{"duplicate", New("p", mk("a", stage.Spec{}, stage.Spec{}), mk("b", stage.Spec{}, stage.Spec{}), mk("a", stage.Spec{}, stage.Spec{})),
			[]string{`duplicate stage name "a"`, "stages 0 and 2"}},
		{"duplicate from composites", New("p", reader(), reader()), []string{`duplicate stage name "read.partition"`}},
		{"unnamed", New("p", mk("", stage.Spec{}, stage.Spec{})), []string{"has no name"}},
		{"kinds", New("p", mk("src", stage.Spec{}, kinds(task.KindFileGroup)), mk("filter", docs(), docs())),
			[]string{"stage filter accepts task kinds document_batch", "src, outputs file_group"}},
		{"columns", New("p", reader(), mk("dedup", docs("text", "hash", "lang"), docs())),
			[]string{"stage dedup requires columns hash, lang", "available: id, text"}},
		{"columns with no producer", New("p", mk("dedup", docs("hash"), docs())), []string{"requires columns hash", "available: none"}},
		{"not a stage", New("p", 42), []string{"int is neither"}},
		{"nil", New("p", nil), []string{"nil stage"}},
		{"decompose error", New("p", &twoPart{Base: stage.Base{StageName: "r"}, fail: true}), []string{"composite r: decompose: bad config"}},
		{"composite overrides", New("p", stage.With(reader(), stage.WithBatchSize(4))), []string{"stage read is a composite"}},
		{"rename unsupported", New("p", stage.With(&plainComposite{stage.Base{StageName: "c"}}, stage.WithName("d"))), []string{"composite c cannot be renamed to d"}},
	}
	for _, c := range cases {
		err := c.p.Build()
		if err == nil {
			t.Errorf("%s: Build succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

// plainComposite cannot be renamed.
type plainComposite struct{ stage.Base }

func (c *plainComposite) Decompose() ([]stage.Stage, error) {
	return []stage.Stage{mk("x", stage.Spec{}, stage.Spec{})}, nil
}

func (*plainComposite) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, nil
}

func TestKindsAndColumnsAccepted(t *testing.T) {
	// Undeclared kinds match anything; columns flow through pass-through stages.
	p := New("p",
		mk("src", kinds(task.KindEmpty), docs("text")),
		mk("chaos", stage.Spec{}, stage.Spec{}),
		mk("score", docs("text"), stage.Spec{Columns: []string{"score"}}),
		mk("filter", stage.Spec{Kinds: []string{task.KindFileGroup, task.KindDocumentBatch}, Columns: []string{"text", "score"}}, docs()),
	)
	if err := p.Build(); err != nil {
		t.Fatal(err)
	}
}

// recorder is an Executor that records what it was asked to run.
type recorder struct {
	stages  []stage.Stage
	initial []task.Task
}

func (r *recorder) Execute(_ context.Context, stages []stage.Stage, initial []task.Task) ([]task.Task, error) {
	r.stages, r.initial = stages, initial
	return initial, nil
}

func TestRun(t *testing.T) {
	p := New("p", &twoPart{Base: stage.Base{StageName: "read"}}, mk("w", stage.Spec{}, stage.Spec{}))
	var r recorder
	out, err := p.Run(context.Background(), &r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if names(r.stages) != "read.partition,read,w" || len(out) != 1 || out[0].Kind() != task.KindEmpty {
		t.Fatalf("ran %s with %v", names(r.stages), r.initial)
	}
	// The initial tasks must suit the first stage.
	fg := task.NewFileGroup("ds", []string{"a"})
	if _, err := p.Run(context.Background(), &r, []task.Task{fg}); err == nil || !strings.Contains(err.Error(), "has kind file_group") {
		t.Fatalf("wrong initial kind: err = %v", err)
	}
	// Run builds, so build errors surface.
	if _, err := New("bad").Run(context.Background(), &r, nil); err == nil {
		t.Fatal("Run of an empty pipeline succeeded")
	}
}

func TestRunWithExecutor(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var initial []task.Task
	for i := range 5 {
		b := task.NewDocumentBatch("ds", "text", []string{"x"})
		b.TaskID = fmt.Sprintf("b%d", i)
		initial = append(initial, b)
	}
	faults, err := chaos.New(chaos.Config{ErrorIDs: []string{"b3"}})
	if err != nil {
		t.Fatal(err)
	}
	count := stage.Func("count", func(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil })
	p := New("p", faults, count)
	ex := executor.New(rt, executor.Config{MaxFailedFraction: 0.5, RetryBackoff: time.Millisecond})
	out, err := p.Run(context.Background(), ex, initial)
	var tfe *executor.TasksFailedError
	if !errors.As(err, &tfe) || tfe.Failed != 1 || len(out) != 4 {
		t.Fatalf("err = %v, %d outputs", err, len(out))
	}
	if f := ex.FailedTasks(); len(f) != 1 || f[0].ID() != "b3" || f[0].Stage != "chaos" {
		t.Fatalf("failed %v", f)
	}
}
