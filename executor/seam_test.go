package executor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// countingRuntime counts what the executor asks of a runtime.
type countingRuntime struct {
	runtime.Runtime
	spawns, nodeSetups atomic.Int64
}

func (c *countingRuntime) Spawn(ctx context.Context, spec runtime.ActorSpec) (runtime.Actor, error) {
	c.spawns.Add(1)
	return c.Runtime.Spawn(ctx, spec)
}

func (c *countingRuntime) SetupNode(ctx context.Context, spec runtime.ActorSpec, n stage.Node) error {
	c.nodeSetups.Add(1)
	return c.Runtime.SetupNode(ctx, spec, n)
}

func echoRegistry(t *testing.T) *stage.Registry {
	t.Helper()
	reg := stage.NewRegistry()
	reg.MustRegister(stage.Type{Name: "echo", New: func([]byte) (stage.Stage, error) {
		return stage.Func("echo", func(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }), nil
	}})
	return reg
}

// TestUnregisteredStageRefusedBeforeSpawning (issue 8, item 1): a runtime
// that builds stages from their descriptors gets nothing to spawn when a
// stage has none; the error names the stage.
func TestUnregisteredStageRefusedBeforeSpawning(t *testing.T) {
	reg := echoRegistry(t)
	lrt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir(), Isolate: true, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer lrt.Close()
	rt := &countingRuntime{Runtime: lrt}
	echo, err := reg.Build(stage.Descriptor{Type: "echo", Name: "first"})
	if err != nil {
		t.Fatal(err)
	}
	adhoc := stage.Func("adhoc", func(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil })
	_, err = executor.New(rt, executor.Config{}).Execute(context.Background(), []stage.Stage{echo, adhoc}, docs(3))
	if err == nil || !strings.Contains(err.Error(), "stage adhoc") || strings.Contains(err.Error(), "first") {
		t.Fatalf("err = %v, want one naming stage adhoc only", err)
	}
	if n := rt.spawns.Load() + rt.nodeSetups.Load(); n != 0 {
		t.Fatalf("%d spawns and node set-ups before the refusal", n)
	}
	out, err := executor.New(rt, executor.Config{}).Execute(context.Background(), []stage.Stage{echo}, docs(3))
	if err != nil || len(out) != 3 || rt.spawns.Load() == 0 {
		t.Fatalf("registered pipeline: %v, %d outputs, %d spawns", err, len(out), rt.spawns.Load())
	}
}

// envMutator changes its own Env in Setup and checks it in every call: with
// a map shared between actors, one actor would see another's value.
type envMutator struct {
	stage.Base
	w   *stage.Worker
	bad *atomic.Int64
}

func (s *envMutator) Setup(_ context.Context, w *stage.Worker) error {
	s.w = w
	w.Env["MINE"] = w.ID
	return nil
}

func (s *envMutator) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	time.Sleep(100 * time.Microsecond)
	if s.w.Env["MINE"] != s.w.ID || s.w.Env["FROM_STAGE"] != "1" {
		s.bad.Add(1)
	}
	return ts, nil
}

// TestEnvIsPerActor (issue 8, item 1): every actor gets its own copy of the
// merged environment.
func TestEnvIsPerActor(t *testing.T) {
	env := map[string]string{"FROM_STAGE": "1"}
	s := &envMutator{Base: stage.Base{StageName: "env", Batch: 1, EnvVars: env}, bad: new(atomic.Int64)}
	ex := newExec(t, executor.Config{Mode: executor.StageByStage})
	if _, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(200)); err != nil {
		t.Fatal(err)
	}
	if n := s.bad.Load(); n != 0 || len(env) != 1 {
		t.Fatalf("%d calls saw another actor's env; stage env now %v", n, env)
	}
	if a := ex.Report().Stages[0].Actors; a < 2 {
		t.Fatalf("only %d actors: the test needs several", a)
	}
}

// mutator modifies its inputs on a batch's first attempt, then fails; on
// later attempts it reports any leftover of that.
type mutator struct {
	stage.Base
	leaks *atomic.Int64
}

func (m *mutator) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	if stage.Attempt(ctx) == 1 {
		for _, t := range ts {
			t.SetID(t.ID() + "-dirty")
			t.AddPerf(task.PerfRecord{Stage: "dirty"})
			t.Meta()["dirty"] = "1"
			b := t.(*task.DocumentBatch)
			b.SetColumn(&task.Column{Name: "text", Type: task.String, Strings: []string{"dirty"}})
		}
		return nil, errors.New("first attempt fails after modifying its inputs")
	}
	for _, t := range ts {
		if strings.HasSuffix(t.ID(), "-dirty") || t.Meta()["dirty"] != "" || len(t.Perf()) != 0 || t.(*task.DocumentBatch).Texts()[0] == "dirty" {
			m.leaks.Add(1)
		}
	}
	return ts, nil
}

// TestFailedAttemptDoesNotLeakIntoRetry (issue 8, item 2): with a runtime
// that enforces ownership (runtime/local with Isolate, as any runtime across
// processes), a retry gets the batch as it was, outputs are fresh (the
// caller's input tasks keep their ids: nothing aliases them) and carry one
// performance record.
func TestFailedAttemptDoesNotLeakIntoRetry(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			m := &mutator{Base: stage.Base{StageName: "mut", Batch: 2}, leaks: new(atomic.Int64)}
			ex := newIsolatedExec(t, executor.Config{Mode: mode})
			in := docs(20)
			out, err := ex.Execute(context.Background(), []stage.Stage{m}, in)
			if err != nil {
				t.Fatal(err)
			}
			if m.leaks.Load() != 0 {
				t.Fatalf("%d retries saw the failed attempt's changes", m.leaks.Load())
			}
			if !slices.Equal(texts(out), wantTexts(20)) {
				t.Fatal("lost or changed outputs")
			}
			for i, tk := range in {
				if tk.ID() != "t"+strconv.Itoa(i) || len(tk.Perf()) != 0 {
					t.Fatalf("caller's task %d became %s with %d records: outputs alias inputs", i, tk.ID(), len(tk.Perf()))
				}
			}
			for _, o := range out {
				if !strings.HasSuffix(o.ID(), "_0") || len(o.Perf()) != 1 || o.Perf()[0].Stage != "mut" {
					t.Fatalf("output %s with records %+v", o.ID(), o.Perf())
				}
			}
		})
	}
}

// lateWriter hangs on a batch's first attempt; when the executor abandons
// the call it keeps writing to its inputs for a while, as a stuck native
// call might. The retry must not share those tasks (the race detector
// would see it) nor see the writes.
type lateWriter struct {
	stage.Base
	leaks *atomic.Int64
	done  *sync.WaitGroup
}

func (l *lateWriter) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	if stage.Attempt(ctx) == 1 && ts[0].ID() == "t3" {
		l.done.Add(1)
		defer l.done.Done()
		<-ctx.Done()
		for i := range 200 {
			ts[0].Meta()["late"] = strconv.Itoa(i)
			ts[0].SetID("late")
			time.Sleep(50 * time.Microsecond)
		}
		return nil, ctx.Err()
	}
	for _, t := range ts {
		if t.Meta()["late"] != "" || t.ID() == "late" {
			l.leaks.Add(1)
		}
	}
	return ts, nil
}

// TestAbandonedCallDoesNotTouchRetry (issue 8, item 2): the executor keeps
// no defensive copies; runtime/local gives a call with a deadline its own
// copies of the tasks, so that an abandoned call never shares them with the
// retry.
func TestAbandonedCallDoesNotTouchRetry(t *testing.T) {
	l := &lateWriter{Base: stage.Base{StageName: "late", Batch: 1}, leaks: new(atomic.Int64), done: new(sync.WaitGroup)}
	ex := newExec(t, executor.Config{BatchTimeout: 200 * time.Millisecond})
	out, err := ex.Execute(context.Background(), []stage.Stage{l}, docs(8))
	l.done.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if l.leaks.Load() != 0 || !slices.Equal(texts(out), wantTexts(8)) {
		t.Fatalf("%d leaks; outputs %v", l.leaks.Load(), texts(out))
	}
	if d := ex.Report().Stages[0].ActorDeaths; d < 1 {
		t.Fatalf("deaths = %d, want the timeout", d)
	}
}

// point is a task type that the built-in codecs do not know.
type point struct {
	task.Header
	X, Y int64
}

func (*point) NumItems() int { return 1 }
func (*point) Kind() string  { return "point" }

var pointCodec = task.Codec{
	Kind: "point",
	Encode: func(w *task.Writer, t task.Task) error {
		p := t.(*point)
		w.Varint(p.X)
		w.Varint(p.Y)
		return nil
	},
	Decode: func(r *task.Reader, h task.Header) (task.Task, error) {
		return &point{Header: h, X: r.Varint(), Y: r.Varint()}, nil
	},
}

func pointRegistry(t *testing.T, withCodec bool) *stage.Registry {
	t.Helper()
	reg := stage.NewRegistry()
	reg.MustRegister(stage.Type{Name: "points", New: func([]byte) (stage.Stage, error) {
		return stage.With(stage.Func("points", func(_ context.Context, ts []task.Task) ([]task.Task, error) {
			var out []task.Task
			for i := range 10 {
				out = append(out, &point{X: int64(i), Y: int64(i * i)})
			}
			return out, nil
		}), stage.WithBatchSize(1)), nil
	}})
	reg.MustRegister(stage.Type{Name: "shift", New: func([]byte) (stage.Stage, error) {
		return stage.Func("shift", func(_ context.Context, ts []task.Task) ([]task.Task, error) {
			for _, t := range ts {
				t.(*point).X += 100
			}
			return ts, nil
		}), nil
	}})
	if withCodec {
		if err := reg.RegisterTask(pointCodec); err != nil {
			t.Fatal(err)
		}
		if err := reg.RegisterTask(pointCodec); err == nil {
			t.Fatal("a task kind registered twice")
		}
	}
	return reg
}

// TestCustomTaskTypeCrosses (issue 8, item 3): a task type registered
// beside the stage types crosses the wire; without its codec the error
// names the kind.
func TestCustomTaskTypeCrosses(t *testing.T) {
	for _, withCodec := range []bool{true, false} {
		reg := pointRegistry(t, withCodec)
		rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir(), Isolate: true, Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		src, _ := reg.Build(stage.Descriptor{Type: "points"})
		shift, _ := reg.Build(stage.Descriptor{Type: "shift"})
		ex := executor.New(rt, executor.Config{})
		out, err := ex.Execute(context.Background(), []stage.Stage{src, shift}, nil)
		rt.Close()
		if !withCodec {
			// The outputs cannot be encoded: a permanent failure, not retried.
			f := ex.FailedTasks()
			if err == nil || len(f) != 1 || len(f[0].Attempts) != 1 || !strings.Contains(f[0].Err, `no codec registered for kind "point"`) {
				t.Fatalf("without the codec: err = %v, failed %+v", err, f)
			}
			continue
		}
		if err != nil || len(out) != 10 {
			t.Fatalf("err = %v, %d outputs", err, len(out))
		}
		var xs []int64
		for _, o := range out {
			xs = append(xs, o.(*point).X)
		}
		slices.Sort(xs)
		if xs[0] != 100 || xs[9] != 109 {
			t.Fatalf("xs = %v", xs)
		}
	}
}

// deviceTracker records which live actor holds which GPU device.
type deviceTracker struct {
	mu       sync.Mutex
	holders  map[int][]string
	shared   []string
	assigned []string
}

type gpuStage struct {
	stage.Base
	tr    *deviceTracker
	w     *stage.Worker
	sleep time.Duration
}

func (g *gpuStage) Setup(_ context.Context, w *stage.Worker) error {
	g.w = w
	g.tr.mu.Lock()
	defer g.tr.mu.Unlock()
	g.tr.assigned = append(g.tr.assigned, fmt.Sprintf("%s=%v", w.StageName, w.DeviceIDs))
	for _, d := range w.DeviceIDs {
		if len(g.tr.holders[d]) > 0 {
			g.tr.shared = append(g.tr.shared, fmt.Sprintf("%s got device %d held by %v", w.ID, d, g.tr.holders[d]))
		}
		g.tr.holders[d] = append(g.tr.holders[d], w.ID)
	}
	if len(w.DeviceIDs) != 1 || w.Env["CUDA_VISIBLE_DEVICES"] != strconv.Itoa(w.DeviceIDs[0]) {
		g.tr.shared = append(g.tr.shared, fmt.Sprintf("%s: devices %v env %q", w.ID, w.DeviceIDs, w.Env["CUDA_VISIBLE_DEVICES"]))
	}
	return nil
}

func (g *gpuStage) Teardown(context.Context) error {
	g.tr.mu.Lock()
	defer g.tr.mu.Unlock()
	for _, d := range g.w.DeviceIDs {
		g.tr.holders[d] = slices.DeleteFunc(g.tr.holders[d], func(id string) bool { return id == g.w.ID })
	}
	return nil
}

func (g *gpuStage) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	time.Sleep(g.sleep)
	return ts, nil
}

// TestTwoGPUStagesNeverShareADevice (issue 8, item 6): two 1-GPU stages
// streaming on 2 GPUs used to get devices a=0 a=1 b=0 (a per-stage
// counter). With the per-node ledger no two live actors hold one device.
func TestTwoGPUStagesNeverShareADevice(t *testing.T) {
	for run := range 3 {
		tr := &deviceTracker{holders: map[int][]string{}}
		res := stage.Resources{CPUs: 1, GPUs: 1}
		a := &gpuStage{Base: stage.Base{StageName: "a", Batch: 1, Res: res}, tr: tr, sleep: 2 * time.Millisecond}
		b := &gpuStage{Base: stage.Base{StageName: "b", Batch: 1, Res: res}, tr: tr}
		ex := newExecWith(t, executor.Config{}, local.Options{CPUs: 8, GPUs: 2, GPUMemoryGB: 16})
		out, err := ex.Execute(context.Background(), []stage.Stage{a, b}, docs(60))
		if err != nil || len(out) != 60 {
			t.Fatalf("run %d: %v, %d outputs", run, err, len(out))
		}
		if len(tr.shared) > 0 {
			t.Fatalf("run %d: devices shared: %v (assignments %v)", run, tr.shared, tr.assigned)
		}
		if ex.Report().Stages[0].Actors < 2 {
			t.Logf("run %d: stage a peaked at %d actors; assignments %v", run, ex.Report().Stages[0].Actors, tr.assigned)
		}
	}
}

// nodeRecorder records the node of every actor set-up and call.
type nodeRecorder struct {
	mu     sync.Mutex
	setups []string // node ids in set-up order, with "|" marking the loss
	calls  atomic.Int64
}

type nodeStage struct {
	stage.Base
	rec     *nodeRecorder
	w       *stage.Worker
	onCall  func(n int64)
	sleep   time.Duration
	perNode *sync.Map // node id -> *atomic.Int64 calls
}

func (s *nodeStage) Setup(_ context.Context, w *stage.Worker) error {
	s.w = w
	s.rec.mu.Lock()
	s.rec.setups = append(s.rec.setups, w.NodeID)
	s.rec.mu.Unlock()
	return nil
}

func (s *nodeStage) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	n := s.rec.calls.Add(1)
	if s.onCall != nil {
		s.onCall(n)
	}
	c, _ := s.perNode.LoadOrStore(s.w.NodeID, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	t := time.NewTimer(s.sleep)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ts, nil
}

func (r *nodeRecorder) mark() {
	r.mu.Lock()
	r.setups = append(r.setups, "|")
	r.mu.Unlock()
}

// TestLostNodeActorsReplaced (issue 8, item 6): when a node is lost mid-run
// its calls die (reason lost), no actor is spawned there again, its actors
// are replaced on the other node, and every task comes out exactly once.
func TestLostNodeActorsReplaced(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			// 4 actors (num_workers), two on each node; after the loss n1
			// has room for all four.
			rt, err := local.New(local.Options{ScratchDir: t.TempDir(), Nodes: []stage.Node{{ID: "n1", CPUs: 4}, {ID: "n2", CPUs: 4}}})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			rec := &nodeRecorder{}
			var once sync.Once
			lost := make(chan struct{})
			s := &nodeStage{Base: stage.Base{StageName: "rec", Batch: 1, Workers: 4}, rec: rec, sleep: time.Millisecond, perNode: new(sync.Map)}
			s.onCall = func(n int64) {
				if n == 30 {
					once.Do(func() {
						go func() {
							rec.mark()
							if err := rt.LoseNode("n2"); err != nil {
								t.Error(err)
							}
							close(lost)
						}()
					})
				}
			}
			ex := executor.New(rt, executor.Config{Mode: mode, RetryBackoff: time.Millisecond})
			out, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(300))
			if err != nil {
				t.Fatal(err)
			}
			<-lost
			if !slices.Equal(texts(out), wantTexts(300)) {
				t.Fatal("lost or duplicated outputs")
			}
			rec.mu.Lock()
			setups := slices.Clone(rec.setups)
			rec.mu.Unlock()
			cut := slices.Index(setups, "|")
			if !slices.Contains(setups[:cut], "n2") {
				t.Fatalf("no actor on n2 before the loss: %v", setups)
			}
			if slices.Contains(setups[cut:], "n2") || !slices.Contains(setups[cut:], "n1") {
				t.Fatalf("set-ups after the loss: %v, want n1 only (replacements); all %v; report %+v", setups[cut:], setups, ex.Report())
			}
			rep := ex.Report()
			var n2 executor.NodeReport
			for _, n := range rep.Nodes {
				if n.ID == "n2" {
					n2 = n
				}
			}
			if !n2.Lost || n2.Calls == 0 || len(rep.Nodes) != 2 {
				t.Fatalf("node reports %+v", rep.Nodes)
			}
			if nodes, _ := rt.Nodes(context.Background()); len(nodes) != 1 || nodes[0].ID != "n1" {
				t.Fatalf("live nodes after the loss: %v", nodes)
			}
		})
	}
}

// TestNodeJoinedGetsActors (issue 8, item 6): nodes are not read once: a
// node that joins mid-run takes actors and the budget grows.
func TestNodeJoinedGetsActors(t *testing.T) {
	rt, err := local.New(local.Options{ScratchDir: t.TempDir(), Nodes: []stage.Node{{ID: "n1", CPUs: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	rec := &nodeRecorder{}
	var once sync.Once
	s := &nodeStage{Base: stage.Base{StageName: "rec", Batch: 1}, rec: rec, sleep: 2 * time.Millisecond, perNode: new(sync.Map)}
	s.onCall = func(n int64) {
		if n == 10 {
			once.Do(func() {
				go func() {
					if err := rt.AddNode(stage.Node{ID: "n2", CPUs: 3}); err != nil {
						t.Error(err)
					}
				}()
			})
		}
	}
	ex := executor.New(rt, executor.Config{})
	out, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(300))
	if err != nil || !slices.Equal(texts(out), wantTexts(300)) {
		t.Fatalf("err = %v, %d outputs", err, len(out))
	}
	c, ok := s.perNode.Load("n2")
	if !ok || c.(*atomic.Int64).Load() == 0 || ex.Report().Stages[0].Actors < 2 {
		t.Fatalf("the joined node ran nothing (peak actors %d)", ex.Report().Stages[0].Actors)
	}
}

// spinner burns about 2 ms of CPU per call.
type spinner struct{ stage.Base }

func (spinner) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	x := uint64(1)
	for start := time.Now(); time.Since(start) < 2*time.Millisecond; {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		return nil, errors.New("unreachable")
	}
	return ts, nil
}

// TestCPUAccountedPerStageAndNode (issue 8, item 7): the report's CPU comes
// from the calls (runtime.Usage), summed per stage and per node, not from
// the head's rusage.
func TestCPUAccountedPerStageAndNode(t *testing.T) {
	rt, err := local.New(local.Options{ScratchDir: t.TempDir(), Nodes: []stage.Node{{ID: "n1", CPUs: 1}, {ID: "n2", CPUs: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ex := executor.New(rt, executor.Config{Mode: executor.StageByStage})
	if _, err := ex.Execute(context.Background(), []stage.Stage{&spinner{stage.Base{StageName: "spin", Batch: 1}}}, docs(40)); err != nil {
		t.Fatal(err)
	}
	rep := ex.Report()
	st := rep.Stages[0]
	// 40 calls of about 2 ms of CPU each (less when the machine is busy,
	// since the spin is timed by the wall clock), never more than the wall
	// time of the calls.
	if st.CPU < 10*time.Millisecond || st.CPU > st.Busy+time.Millisecond {
		t.Fatalf("stage CPU %s, busy %s", st.CPU, st.Busy)
	}
	var sum time.Duration
	var calls int64
	for _, n := range rep.Nodes {
		sum += n.CPU
		calls += n.Calls
		if n.Calls == 0 || n.PeakRSS <= 0 {
			t.Fatalf("node %+v ran nothing or reported no RSS", n)
		}
	}
	if sum != st.CPU || calls != 40 || rep.CPU != st.CPU || rep.HeadCPU <= 0 || rep.PeakRSS <= 0 {
		t.Fatalf("nodes %+v sum %s, stage %s, report CPU %s head %s rss %d", rep.Nodes, sum, st.CPU, rep.CPU, rep.HeadCPU, rep.PeakRSS)
	}
}

// lossyWordCount is wordCount that records its actors' nodes and calls
// lose on the third Insert call.
type lossyWordCount struct {
	wordCount
	rec   *nodeRecorder
	calls *atomic.Int64
	lose  func()
}

func (s *lossyWordCount) Setup(ctx context.Context, w *stage.Worker) error {
	s.rec.mu.Lock()
	s.rec.setups = append(s.rec.setups, w.NodeID)
	s.rec.mu.Unlock()
	return s.wordCount.Setup(ctx, w)
}

func (s *lossyWordCount) Insert(ctx context.Context, ts []task.Task) error {
	if s.calls.Add(1) == 3 {
		s.lose()
	}
	return s.wordCount.Insert(ctx, ts)
}

// TestLostNodeRestartsBarrier (issue 8, item 6): losing a node in the middle
// of a shuffle fails that attempt; the stage restarts with fresh actors on
// the remaining node and its output is exact.
func TestLostNodeRestartsBarrier(t *testing.T) {
	rt, err := local.New(local.Options{ScratchDir: t.TempDir(), Isolate: true, Nodes: []stage.Node{{ID: "n1", CPUs: 4}, {ID: "n2", CPUs: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	rec := &nodeRecorder{}
	lost := make(chan struct{})
	var once sync.Once
	s := &lossyWordCount{
		wordCount: wordCount{Base: stage.Base{StageName: "wc", Batch: 1, StageKind: stage.Shuffle, Workers: 4}, parts: 5,
			setups: new(atomic.Int64), teardns: new(atomic.Int64), inserts: new(atomic.Int64)},
		rec: rec, calls: new(atomic.Int64),
	}
	s.lose = func() {
		once.Do(func() {
			go func() {
				rec.mark()
				if err := rt.LoseNode("n2"); err != nil {
					t.Error(err)
				}
				close(lost)
			}()
			<-lost // the Insert that triggered the loss returns only after it
		})
	}
	var input []task.Task
	want := map[string]int{}
	for i := range 40 {
		w := "w" + strconv.Itoa(i%9)
		want[w]++
		input = append(input, task.NewDocumentBatch("ds", "text", []string{w}))
	}
	ex := executor.New(rt, executor.Config{RetryBackoff: time.Millisecond})
	out, err := ex.Execute(context.Background(), []stage.Stage{s}, input)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range texts(out) {
		k, v, _ := strings.Cut(l, "=")
		n, _ := strconv.Atoi(v)
		got[k] += n
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	rec.mu.Lock()
	setups := slices.Clone(rec.setups)
	rec.mu.Unlock()
	cut := slices.Index(setups, "|")
	if cut < 0 || !slices.Contains(setups[:cut], "n2") || slices.Contains(setups[cut:], "n2") || len(setups[cut+1:]) != 4 {
		t.Fatalf("actor nodes %v: want n2 before the loss and four fresh actors on n1 after", setups)
	}
	if r := ex.Report().Stages[0].Retries; r != 1 {
		t.Fatalf("retries = %d, want the one barrier restart", r)
	}
}

// rejoining is a local runtime whose nodes can come back (runtime.Rejoiner),
// as natsrt's workers do.
type rejoining struct {
	*local.Runtime
	wait time.Duration
}

func (r rejoining) RejoinWait() time.Duration { return r.wait }

// TestEveryNodeLostWaitsForOne: when the only node is lost mid-run, an
// executor on a runtime whose nodes come back (a lone worker rejoining as a
// new node) waits for one to join and completes with every task exactly
// once, in plain and barrier stages alike; on a runtime without
// RejoinWait, or when none joins in time, the run fails naming the cause.
func TestEveryNodeLostWaitsForOne(t *testing.T) {
	run := func(t *testing.T, wait time.Duration, rejoin bool, st func(onCall func(int64)) stage.Stage) error {
		lrt, err := local.New(local.Options{ScratchDir: t.TempDir(), Nodes: []stage.Node{{ID: "n1", CPUs: 2}}})
		if err != nil {
			t.Fatal(err)
		}
		defer lrt.Close()
		var rt runtime.Runtime = lrt
		if wait > 0 {
			rt = rejoining{lrt, wait}
		}
		var once sync.Once
		lost := make(chan struct{})
		onCall := func(n int64) {
			if n == 5 {
				once.Do(func() {
					go func() {
						defer close(lost)
						if err := lrt.LoseNode("n1"); err != nil {
							t.Error(err)
						}
						if rejoin {
							time.Sleep(100 * time.Millisecond)
							if err := lrt.AddNode(stage.Node{ID: "n2", CPUs: 2}); err != nil {
								t.Error(err)
							}
						}
					}()
				})
			}
		}
		s := st(onCall)
		ex := executor.New(rt, executor.Config{RetryBackoff: time.Millisecond})
		out, err := ex.Execute(context.Background(), []stage.Stage{s}, docs(40))
		<-lost
		if err == nil && !shuffle(s) && !slices.Equal(texts(out), wantTexts(40)) {
			t.Fatal("lost or duplicated outputs")
		}
		if err == nil && shuffle(s) && strings.Join(texts(out), ",") != "doc=40" {
			t.Fatalf("shuffle output %v; want doc=40", texts(out))
		}
		return err
	}
	plain := func(onCall func(int64)) stage.Stage {
		return &nodeStage{Base: stage.Base{StageName: "rec", Batch: 1, Workers: 2}, rec: &nodeRecorder{}, sleep: 5 * time.Millisecond, perNode: new(sync.Map), onCall: onCall}
	}
	barrier := func(onCall func(int64)) stage.Stage {
		return &countingShuffle{wordCount: wordCount{Base: stage.Base{StageName: "wc", Batch: 2, StageKind: stage.Shuffle}, parts: 3,
			setups: new(atomic.Int64), teardns: new(atomic.Int64), inserts: new(atomic.Int64)}, onCall: onCall, calls: new(atomic.Int64)}
	}
	t.Run("shuffle, a node joins", func(t *testing.T) {
		if err := run(t, 10*time.Second, true, barrier); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plain, a node joins", func(t *testing.T) {
		if err := run(t, 10*time.Second, true, plain); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plain, none joins in time", func(t *testing.T) {
		err := run(t, 200*time.Millisecond, false, plain)
		if err == nil || !strings.Contains(err.Error(), "no live node: none joined within 200ms") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plain, a runtime whose nodes never come back", func(t *testing.T) {
		start := time.Now()
		err := run(t, 0, false, plain)
		if err == nil || !strings.Contains(err.Error(), "no live node") || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %s", err, time.Since(start))
		}
	})
}

func shuffle(s stage.Stage) bool { _, ok := s.(*countingShuffle); return ok }

// countingShuffle is wordCount with a hook on every insert call (it counts
// the first word of each document: "doc").
type countingShuffle struct {
	wordCount
	onCall func(int64)
	calls  *atomic.Int64
}

func (s *countingShuffle) Insert(ctx context.Context, ts []task.Task) error {
	s.onCall(s.calls.Add(1))
	time.Sleep(5 * time.Millisecond)
	var firsts []task.Task
	for _, t := range ts {
		f := strings.Fields(t.(*task.DocumentBatch).Texts()[0])
		firsts = append(firsts, task.NewDocumentBatch("ds", "text", f[:1]))
	}
	return s.wordCount.Insert(ctx, firsts)
}
