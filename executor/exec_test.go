package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// counters are shared by every actor copy of a faulty stage.
type counters struct {
	setups, teardowns, calls atomic.Int64
	setupFails               atomic.Int64
	mu                       sync.Mutex
	perID                    map[string]int
}

// faulty is a plain stage for fault injection: it passes DocumentBatches
// through and misbehaves on request.
type faulty struct {
	stage.Base
	c *counters
	// errEvery: the first errTimes attempts of each batch whose first task id
	// is in errIDs return an error.
	errIDs   map[string]bool
	errTimes int
	// panicIDs: a batch containing one of these ids panics while calls for it
	// stay below panicTimes.
	panicIDs   map[string]bool
	panicTimes int
	hangIDs    map[string]bool
	hangTimes  int
	setupFail  int // the first setupFail setups fail
	sleep      time.Duration

	actorCalls int
}

func (f *faulty) Setup(ctx context.Context, w *stage.Worker) error {
	f.c.setups.Add(1)
	if f.c.setupFails.Add(1) <= int64(f.setupFail) {
		return errors.New("injected setup failure")
	}
	return nil
}

func (f *faulty) Teardown(ctx context.Context) error {
	f.c.teardowns.Add(1)
	return nil
}

func (f *faulty) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	f.c.calls.Add(1)
	f.actorCalls++
	key := ts[0].ID()
	f.c.mu.Lock()
	f.c.perID[key]++
	n := f.c.perID[key]
	f.c.mu.Unlock()
	if f.sleep > 0 {
		time.Sleep(f.sleep)
	}
	for _, t := range ts {
		id := t.ID()
		if f.panicIDs[id] && (f.panicTimes == 0 || n <= f.panicTimes) {
			panic("injected panic on " + id)
		}
		if f.hangIDs[id] && n <= f.hangTimes {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		if f.errIDs[id] && (f.errTimes == 0 || n <= f.errTimes) {
			return nil, fmt.Errorf("injected error on %s", id)
		}
	}
	out := make([]task.Task, len(ts))
	copy(out, ts)
	return out, nil
}

func newFaulty(name string, batch int) *faulty {
	return &faulty{Base: stage.Base{StageName: name, Batch: batch}, c: &counters{perID: map[string]int{}}}
}

func docs(n int) []task.Task {
	ts := make([]task.Task, n)
	for i := range ts {
		b := task.NewDocumentBatch("ds", "text", []string{"doc " + strconv.Itoa(i)})
		b.TaskID = "t" + strconv.Itoa(i)
		ts[i] = b
	}
	return ts
}

func newExec(t *testing.T, cfg executor.Config) *executor.Executor {
	t.Helper()
	return newExecWith(t, cfg, local.Options{})
}

// newIsolatedExec is newExec on a local runtime that sends every spec,
// call, result, error and shuffle batch through its wire form.
func newIsolatedExec(t *testing.T, cfg executor.Config) *executor.Executor {
	t.Helper()
	return newExecWith(t, cfg, local.Options{Isolate: true})
}

// execMaker makes an executor on some runtime.
type execMaker func(t *testing.T, cfg executor.Config) *executor.Executor

// forEachRuntime runs fn with the default local runtime and with the
// isolated one, as subtests.
func forEachRuntime(t *testing.T, fn func(t *testing.T, mk execMaker)) {
	t.Run("local", func(t *testing.T) { fn(t, newExec) })
	t.Run("isolated", func(t *testing.T) { fn(t, newIsolatedExec) })
}

func newExecWith(t *testing.T, cfg executor.Config, opts local.Options) *executor.Executor {
	t.Helper()
	if opts.CPUs == 0 {
		opts.CPUs = 4
	}
	if opts.ScratchDir == "" {
		opts.ScratchDir = t.TempDir()
	}
	rt, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	return executor.New(rt, cfg)
}

// texts returns the sorted texts of the output batches: the identity of the
// documents, independent of task ids.
func texts(ts []task.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.(*task.DocumentBatch).Texts()...)
	}
	slices.Sort(out)
	return out
}

func wantTexts(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "doc "+strconv.Itoa(i))
	}
	slices.Sort(out)
	return out
}

var modes = []executor.Mode{executor.Streaming, executor.StageByStage}

func TestPassThroughBothModes(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			a, b := newFaulty("a", 3), newFaulty("b", 5)
			ex := newExec(t, executor.Config{Mode: mode})
			out, err := ex.Execute(context.Background(), []stage.Stage{a, b}, docs(100))
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(out); !slices.Equal(got, wantTexts(100)) {
				t.Fatalf("outputs differ: %d docs", len(got))
			}
			rep := ex.Report()
			if rep.Stages[0].TasksIn != 100 || rep.Stages[1].TasksOut != 100 {
				t.Fatalf("report: %+v", rep.Stages)
			}
			for _, f := range []*faulty{a, b} {
				if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s == 0 || s != td {
					t.Errorf("stage %s: %d setups, %d teardowns", f.Name(), s, td)
				}
			}
		})
	}
}

func TestNoStagesAndEmptyInput(t *testing.T) {
	ex := newExec(t, executor.Config{})
	out, err := ex.Execute(context.Background(), nil, docs(3))
	if err != nil || out != nil {
		t.Fatalf("no stages: %v %v", out, err)
	}
	var got []string
	var mu sync.Mutex
	src := stage.Func("src", func(ctx context.Context, ts []task.Task) ([]task.Task, error) {
		mu.Lock()
		for _, t := range ts {
			got = append(got, t.Kind())
		}
		mu.Unlock()
		return []task.Task{task.NewFileGroup("ds", []string{"b", "a"}), task.NewFileGroup("ds", []string{"c"})}, nil
	})
	out, err = ex.Execute(context.Background(), []stage.Stage{src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{task.KindEmpty}) || len(out) != 2 {
		t.Fatalf("source stage saw %v, returned %d tasks", got, len(out))
	}
	if want := task.NewFileGroup("ds", []string{"a", "b"}).ContentID(); out[0].ID() != want && out[1].ID() != want {
		t.Fatalf("source outputs lack the content id %s: %s %s", want, out[0].ID(), out[1].ID())
	}
}

func TestStageWithNoTasksIsAnError(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			drop := stage.Func("drop-all", func(context.Context, []task.Task) ([]task.Task, error) { return nil, nil })
			ex := newExec(t, executor.Config{Mode: mode})
			_, err := ex.Execute(context.Background(), []stage.Stage{drop, newFaulty("after", 1)}, docs(5))
			if err == nil || !strings.Contains(err.Error(), "stage after: no tasks") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				f := newFaulty("flaky", 1)
				f.errIDs = map[string]bool{"t3": true, "t7": true, "t50": true}
				f.errTimes = 2 // fails twice, succeeds on the third attempt
				ex := mk(t, executor.Config{Mode: mode, MaxAttempts: 3})
				out, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(60))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(texts(out), wantTexts(60)) {
					t.Fatal("lost or duplicated outputs")
				}
				if r := ex.Report().Stages[0].Retries; r != 6 {
					t.Fatalf("retries = %d, want 6", r)
				}
			})
		}
	})
}

func TestPermanentFailuresGoToManifest(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				f := newFaulty("bad", 1)
				f.errIDs = map[string]bool{"t3": true, "t9": true}
				manifest := filepath.Join(t.TempDir(), "failed.jsonl")
				ex := mk(t, executor.Config{Mode: mode, MaxAttempts: 2, MaxFailedFraction: 0.1, FailedManifest: manifest})
				out, err := ex.Execute(context.Background(), []stage.Stage{f, newFaulty("next", 2)}, docs(40))
				var tf *executor.TasksFailedError
				if !errors.As(err, &tf) || tf.Failed != 2 {
					t.Fatalf("err = %v", err)
				}
				if len(out) != 38 {
					t.Fatalf("%d outputs, want 38", len(out))
				}
				b, rerr := os.ReadFile(manifest)
				if rerr != nil {
					t.Fatal(rerr)
				}
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				var ids []string
				for _, l := range lines {
					for _, id := range []string{"t3", "t9"} {
						if strings.Contains(l, `"task_id":"`+id+`"`) && strings.Contains(l, `"attempts":2`) && strings.Contains(l, `"stage":"bad"`) {
							ids = append(ids, id)
						}
					}
				}
				if len(lines) != 2 || len(ids) != 2 {
					t.Fatalf("manifest:\n%s", b)
				}
			})
		}
	})
}

func TestFailurePolicyAborts(t *testing.T) {
	f := newFaulty("bad", 1)
	f.errIDs = map[string]bool{"t1": true}
	ex := newExec(t, executor.Config{MaxAttempts: 1})
	_, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(20))
	if !errors.Is(err, executor.ErrTooManyFailures) {
		t.Fatalf("err = %v, want ErrTooManyFailures", err)
	}
	if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s != td {
		t.Fatalf("%d setups, %d teardowns", s, td)
	}
}

func TestPanicReplacesActor(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				f := newFaulty("panicky", 1)
				f.panicIDs = map[string]bool{"t5": true, "t20": true}
				f.panicTimes = 1
				ex := mk(t, executor.Config{Mode: mode})
				out, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(40))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(texts(out), wantTexts(40)) {
					t.Fatal("lost or duplicated outputs")
				}
				rep := ex.Report().Stages[0]
				if rep.ActorDeaths != 2 || rep.Retries != 2 {
					t.Fatalf("deaths=%d retries=%d", rep.ActorDeaths, rep.Retries)
				}
				// Each death is followed by a replacement: at least deaths+1 set-ups.
				if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s != td || s != int64(rep.ActorsStarted) || s < rep.ActorDeaths+1 {
					t.Fatalf("%d setups, %d teardowns, %d actors started, %d deaths", s, td, rep.ActorsStarted, rep.ActorDeaths)
				}
			})
		}
	})
}

func TestPoisonBatchFails(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		f := newFaulty("poison", 1)
		f.panicIDs = map[string]bool{"t2": true} // panics every time
		ex := mk(t, executor.Config{MaxActorDeaths: 3, MaxFailedFraction: 0.5})
		out, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(10))
		var tf *executor.TasksFailedError
		if !errors.As(err, &tf) || tf.Failed != 1 || len(out) != 9 {
			t.Fatalf("err=%v outputs=%d", err, len(out))
		}
		failed := ex.FailedTasks()
		if len(failed) != 1 || failed[0].ID() != "t2" || len(failed[0].Attempts) != 3 || failed[0].Attempts[0].Outcome != "panic" {
			t.Fatalf("failed = %+v", failed)
		}
		if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s != td {
			t.Fatalf("%d setups, %d teardowns", s, td)
		}
	})
}

func TestTimeoutAbandonsActor(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		f := newFaulty("slow", 1)
		f.hangIDs = map[string]bool{"t4": true}
		f.hangTimes = 1
		ex := mk(t, executor.Config{BatchTimeout: 100 * time.Millisecond})
		out, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(10))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(texts(out), wantTexts(10)) {
			t.Fatal("lost outputs")
		}
		if d := ex.Report().Stages[0].ActorDeaths; d != 1 {
			t.Fatalf("deaths = %d", d)
		}
		// The abandoned actor's Stop waits for its hung call to return (the
		// call's context is cancelled), which may be just after Execute
		// returns: its teardown is owed, and comes.
		deadline := time.Now().Add(5 * time.Second)
		for f.c.setups.Load() != f.c.teardowns.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s != td {
			t.Fatalf("%d setups, %d teardowns", s, td)
		}
	})
}

func TestSetupFailures(t *testing.T) {
	f := newFaulty("setup", 1)
	f.setupFail = 2
	ex := newExec(t, executor.Config{MaxSetupFailures: 3})
	out, err := ex.Execute(context.Background(), []stage.Stage{f}, docs(10))
	if err != nil || len(out) != 10 {
		t.Fatalf("transient setup failures: %v, %d outputs", err, len(out))
	}
	g := newFaulty("setup-always", 1)
	g.setupFail = 1000
	ex = newExec(t, executor.Config{MaxSetupFailures: 3})
	_, err = ex.Execute(context.Background(), []stage.Stage{g}, docs(10))
	if err == nil || !strings.Contains(err.Error(), "injected setup failure") || !strings.Contains(err.Error(), "setup-always") {
		t.Fatalf("err = %v", err)
	}
	if s, td := g.c.setups.Load(), g.c.teardowns.Load(); s != td {
		t.Fatalf("%d setups, %d teardowns", s, td)
	}
}

func TestCancellation(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			f := newFaulty("slow", 1)
			f.sleep = 5 * time.Millisecond
			ex := newExec(t, executor.Config{Mode: mode})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for f.c.calls.Load() < 5 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			_, err := ex.Execute(ctx, []stage.Stage{f, newFaulty("next", 1)}, docs(10000))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			if s, td := f.c.setups.Load(), f.c.teardowns.Load(); s != td {
				t.Fatalf("%d setups, %d teardowns", s, td)
			}
			if in := ex.Report().Stages[0].TasksOut; in >= 10000 {
				t.Fatalf("cancellation did not stop dispatch: %d tasks out", in)
			}
		})
	}
}

// permanentStage fails every batch with an error marked stage.Permanent.
type permanentStage struct {
	stage.Base
	calls *atomic.Int64
}

func (p *permanentStage) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	p.calls.Add(1)
	return nil, stage.Permanent(errors.New("malformed input"))
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, mk execMaker) {
		s := &permanentStage{Base: stage.Base{StageName: "perm", Batch: 1}, calls: new(atomic.Int64)}
		ex := mk(t, executor.Config{MaxAttempts: 5, MaxFailedFraction: 1})
		_, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(3))
		var tf *executor.TasksFailedError
		if !errors.As(err, &tf) || tf.Failed != 3 {
			t.Fatalf("err = %v", err)
		}
		if n := s.calls.Load(); n != 3 {
			t.Fatalf("%d calls for 3 batches: permanent errors were retried", n)
		}
		if r := ex.Report().Stages[0].Retries; r != 0 {
			t.Fatalf("retries = %d", r)
		}
	})
}
