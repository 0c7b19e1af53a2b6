package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait on a channel, so that a broken runtime fails
// the test instead of hanging it.
const waitLimit = 10 * time.Second

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func newRuntime(t *testing.T, opts local.Options) *local.Runtime {
	t.Helper()
	if opts.ScratchDir == "" {
		opts.ScratchDir = t.TempDir()
	}
	rt, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rt
}

func spawn(t *testing.T, rt *local.Runtime, s stage.Stage, id string) runtime.Actor {
	t.Helper()
	a, err := rt.Spawn(context.Background(), runtime.ActorSpec{Stage: s, Worker: stage.WorkerSpec{ID: id, StageName: s.Name(), Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call runs a call with method m on tasks and returns its outputs.
func call(a runtime.Actor, ctx context.Context, m runtime.Method, tasks []task.Task) ([]task.Task, error) {
	res, err := a.Call(ctx, runtime.Call{Method: m, Tasks: tasks, Attempt: 1})
	return res.Tasks, err
}

func docs(texts ...string) []task.Task {
	return []task.Task{task.NewDocumentBatch("ds", "text", texts)}
}

func diedReason(err error) string {
	var d *runtime.DiedError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

// probe is the state every instance of a lifecycle stage shares.
type probe struct {
	setups, calls, teardowns atomic.Int64
	workers                  sync.Map // actor id -> stage.Worker seen by Setup
}

// lifecycle counts its life cycle calls, keeps per-actor state, and panics
// on a batch whose first text is "panic".
type lifecycle struct {
	stage.Base
	p     *probe
	actor string // set by Setup
	calls int    // per-actor call count
}

func (s *lifecycle) Setup(_ context.Context, w *stage.Worker) error {
	s.p.setups.Add(1)
	s.actor = w.ID
	s.p.workers.Store(w.ID, *w)
	return nil
}

func (s *lifecycle) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	s.p.calls.Add(1)
	s.calls++
	texts := ts[0].(*task.DocumentBatch).Texts()
	if len(texts) > 0 && texts[0] == "panic" {
		panic("injected panic")
	}
	if len(texts) > 0 && texts[0] == "fail" {
		return nil, errors.New("injected stage error")
	}
	out := task.NewDocumentBatch("ds", "text", []string{s.actor + "#" + strconv.Itoa(s.calls)})
	return []task.Task{out}, nil
}

func (s *lifecycle) Teardown(context.Context) error {
	s.p.teardowns.Add(1)
	return nil
}

func firstText(t *testing.T, ts []task.Task) string {
	t.Helper()
	if len(ts) != 1 {
		t.Fatalf("got %d tasks, want 1", len(ts))
	}
	return ts[0].(*task.DocumentBatch).Texts()[0]
}

func TestNodes(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, local.Options{CPUs: 3, ScratchDir: dir})
	nodes, err := rt.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := stage.Node{ID: "local", CPUs: 3, ScratchDir: dir}
	if len(nodes) != 1 || nodes[0] != want {
		t.Errorf("Nodes = %+v, want [%+v]", nodes, want)
	}

	rt = newRuntime(t, local.Options{GPUs: 2, GPUMemoryGB: 40})
	nodes, _ = rt.Nodes(context.Background())
	if nodes[0].CPUs != float64(goruntime.NumCPU()) || nodes[0].GPUs != 2 || nodes[0].GPUMemoryGB != 40 || nodes[0].ScratchDir == "" {
		t.Errorf("default node = %+v, want NumCPU CPUs and the given GPUs", nodes[0])
	}
}

func TestLifeCycle(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, local.Options{CPUs: 2})
	p := &probe{}
	proto := &lifecycle{Base: stage.Base{StageName: "life"}, p: p}

	a1 := spawn(t, rt, proto, "a1")
	a2 := spawn(t, rt, proto, "a2")
	if a1.ID() != "a1" || a2.ID() != "a2" {
		t.Fatalf("IDs %q, %q", a1.ID(), a2.ID())
	}
	if p.setups.Load() != 0 {
		t.Fatal("Spawn ran Setup")
	}
	for _, a := range []runtime.Actor{a1, a2} {
		if err := a.Setup(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Each actor has its own instance: its own id and call count.
	for i, want := range []string{"a1#1", "a1#2", "a1#3"} {
		out, err := call(a1, ctx, runtime.Process, docs("x"))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := firstText(t, out); got != want {
			t.Errorf("a1 call %d = %q, want %q", i, got, want)
		}
	}
	out, err := call(a2, ctx, runtime.Process, docs("x"))
	if err != nil || firstText(t, out) != "a2#1" {
		t.Errorf("a2 call = %v, %v; want a2#1 (state not shared with a1)", out, err)
	}
	if proto.actor != "" || proto.calls != 0 {
		t.Errorf("prototype was used: actor %q calls %d", proto.actor, proto.calls)
	}

	// The worker the stage sees: Spawn filled the scratch dir and logger.
	v, _ := p.workers.Load("a1")
	w := v.(stage.Worker)
	if w.StageName != "life" || w.ScratchDir == "" || w.Logger == nil || w.Comm != nil || w.Shuffle != nil {
		t.Errorf("worker seen by Setup = %+v", w)
	}

	// A stage error is returned as is and the actor stays usable.
	_, err = call(a1, ctx, runtime.Process, docs("fail"))
	if err == nil || runtime.IsDied(err) || !strings.Contains(err.Error(), "injected stage error") {
		t.Errorf("stage error = %v, want the stage's own error", err)
	}
	// Shuffle methods on a plain stage are errors, not deaths.
	_, err = call(a1, ctx, runtime.Insert, docs("x"))
	if err == nil || runtime.IsDied(err) || !strings.Contains(err.Error(), "not a shuffle stage") {
		t.Errorf("Insert on a plain stage = %v", err)
	}
	if _, err := call(a1, ctx, runtime.Process, docs("x")); err != nil {
		t.Errorf("actor unusable after a stage error: %v", err)
	}

	// Stop is idempotent; Teardown runs once per actor.
	for range 3 {
		if err := a1.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.teardowns.Load(); got != 1 {
		t.Errorf("teardowns after stopping a1 three times = %d, want 1", got)
	}
	_, err = call(a1, ctx, runtime.Process, docs("x"))
	if diedReason(err) != "lost" {
		t.Errorf("Call after Stop = %v, want a DiedError (lost)", err)
	}
	if err := a2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.teardowns.Load(); got != 2 {
		t.Errorf("teardowns = %d, want 2", got)
	}
}

func TestStopWithoutSetupSkipsTeardown(t *testing.T) {
	rt := newRuntime(t, local.Options{CPUs: 1})
	p := &probe{}
	a := spawn(t, rt, &lifecycle{p: p}, "a")
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.teardowns.Load() != 0 {
		t.Error("Teardown ran for an actor that was never set up")
	}
}

func TestPanicKillsActor(t *testing.T) {
	for _, withDeadline := range []bool{false, true} {
		t.Run(fmt.Sprintf("deadline=%v", withDeadline), func(t *testing.T) {
			ctx := context.Background()
			if withDeadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, waitLimit)
				defer cancel()
			}
			rt := newRuntime(t, local.Options{CPUs: 1})
			p := &probe{}
			a := spawn(t, rt, &lifecycle{p: p}, "boom")
			if err := a.Setup(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := call(a, ctx, runtime.Process, docs("ok")); err != nil {
				t.Fatal(err)
			}
			_, err := call(a, ctx, runtime.Process, docs("panic"))
			var died *runtime.DiedError
			if !errors.As(err, &died) || died.Reason != "panic" || died.ActorID != "boom" {
				t.Fatalf("panicking call = %v, want a DiedError with reason panic", err)
			}
			if !strings.Contains(err.Error(), "injected panic") {
				t.Errorf("error %q does not carry the panic value", err)
			}
			_, err = call(a, ctx, runtime.Process, docs("ok"))
			if diedReason(err) == "" {
				t.Errorf("call after the panic = %v, want a DiedError", err)
			}
			if p.calls.Load() != 2 {
				t.Errorf("stage saw %d calls, want 2 (none after the death)", p.calls.Load())
			}
			if err := a.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if p.teardowns.Load() != 1 {
				t.Errorf("teardowns = %d, want 1", p.teardowns.Load())
			}
		})
	}
}

// TestStopAfterDeadlineCall checks that a call with a deadline that returns
// in time leaves the actor idle: Stop right after it tears down before
// returning. The loop makes a lost race likely to show.
func TestStopAfterDeadlineCall(t *testing.T) {
	rt := newRuntime(t, local.Options{CPUs: 1})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p := &probe{}
	for i := range 200 {
		a := spawn(t, rt, &lifecycle{p: p}, "a"+strconv.Itoa(i))
		if err := a.Setup(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := call(a, ctx, runtime.Process, docs("x")); err != nil {
			t.Fatal(err)
		}
		if err := a.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if got := p.teardowns.Load(); got != int64(i+1) {
			t.Fatalf("iteration %d: %d teardowns when Stop returned, want %d", i, got, i+1)
		}
	}
}

// hangState is shared by the instances of hang.
type hangState struct {
	inCall    atomic.Bool
	overlap   atomic.Bool // Teardown ran while a call was in progress
	teardowns atomic.Int64
	entered   chan struct{} // closed when ProcessBatch starts
	release   chan struct{} // ProcessBatch returns once it is closed
	tornDown  chan struct{} // closed by Teardown
}

// hang blocks in ProcessBatch until released, ignoring its context, as a
// stuck native library would.
type hang struct {
	stage.Base
	s *hangState
}

func (h *hang) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	h.s.inCall.Store(true)
	close(h.s.entered)
	<-h.s.release
	h.s.inCall.Store(false)
	return ts, nil
}

func (h *hang) Teardown(context.Context) error {
	if h.s.inCall.Load() {
		h.s.overlap.Store(true)
	}
	h.s.teardowns.Add(1)
	close(h.s.tornDown)
	return nil
}

func TestTimeoutAbandonsActor(t *testing.T) {
	rt := newRuntime(t, local.Options{CPUs: 1})
	s := &hangState{entered: make(chan struct{}), release: make(chan struct{}), tornDown: make(chan struct{})}
	a := spawn(t, rt, &hang{s: s}, "stuck")
	bg := context.Background()
	if err := a.Setup(bg, nil); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, err := call(a, ctx, runtime.Process, docs("x"))
	var died *runtime.DiedError
	if !errors.As(err, &died) || died.Reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung call = %v, want a DiedError with reason timeout wrapping DeadlineExceeded", err)
	}
	wait(t, s.entered, "the hung call to start")

	if _, err := call(a, bg, runtime.Process, docs("x")); diedReason(err) == "" {
		t.Errorf("call to an abandoned actor = %v, want a DiedError", err)
	}
	// Stop returns at once but defers Teardown until the hung call returns.
	if err := a.Stop(bg); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(bg); err != nil {
		t.Fatal(err)
	}
	if got := s.teardowns.Load(); got != 0 {
		t.Fatalf("Teardown ran %d times while the call still hangs", got)
	}
	if !s.inCall.Load() {
		t.Fatal("the hung call ended before it was released")
	}

	close(s.release)
	wait(t, s.tornDown, "the deferred Teardown")
	if s.overlap.Load() {
		t.Error("Teardown ran concurrently with the hung call")
	}
	if got := s.teardowns.Load(); got != 1 {
		t.Errorf("teardowns = %d, want 1", got)
	}
}

// badSetup fails or panics in Setup or SetupOnNode.
type badSetup struct {
	stage.Base
	p          *probe
	nodeCalls  *atomic.Int64
	gotNode    *atomic.Value
	panicSetup bool
	panicNode  bool
}

func (b *badSetup) SetupOnNode(_ context.Context, n stage.Node, w *stage.Worker) error {
	b.nodeCalls.Add(1)
	b.gotNode.Store(n.ID + "/" + w.StageName)
	if b.panicNode {
		panic("node setup exploded")
	}
	return nil
}

func (b *badSetup) Setup(context.Context, *stage.Worker) error {
	b.p.setups.Add(1)
	if b.panicSetup {
		panic("setup exploded")
	}
	return nil
}

func (*badSetup) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

func (b *badSetup) Teardown(context.Context) error {
	b.p.teardowns.Add(1)
	return nil
}

func newBadSetup() *badSetup {
	return &badSetup{Base: stage.Base{StageName: "bad"}, p: &probe{}, nodeCalls: new(atomic.Int64), gotNode: new(atomic.Value)}
}

func TestSetupPanicIsAnError(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, local.Options{CPUs: 1})
	s := newBadSetup()
	s.panicSetup = true
	a := spawn(t, rt, s, "a")
	err := a.Setup(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "setup panicked") || !strings.Contains(err.Error(), "setup exploded") {
		t.Fatalf("Setup = %v, want the panic as an error", err)
	}
	// Setup ran (part way), so Teardown is owed exactly once.
	if err := errors.Join(a.Stop(ctx), a.Stop(ctx)); err != nil {
		t.Fatal(err)
	}
	if got := s.p.teardowns.Load(); got != 1 {
		t.Errorf("teardowns after a failed Setup = %d, want 1", got)
	}
}

func TestSetupNode(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, local.Options{CPUs: 1})
	nodes, _ := rt.Nodes(ctx)
	s := newBadSetup()
	spec := runtime.ActorSpec{Stage: stage.With(s, stage.WithName("renamed")), Worker: stage.WorkerSpec{ID: "n", StageName: "renamed"}}
	if err := rt.SetupNode(ctx, spec, nodes[0]); err != nil {
		t.Fatal(err)
	}
	if s.nodeCalls.Load() != 1 || s.gotNode.Load() != "local/renamed" {
		t.Errorf("SetupOnNode calls %d, saw %v; want 1 call on local/renamed", s.nodeCalls.Load(), s.gotNode.Load())
	}
	if s.p.setups.Load() != 0 {
		t.Error("SetupNode ran the actor Setup")
	}

	s = newBadSetup()
	s.panicNode = true
	err := rt.SetupNode(ctx, runtime.ActorSpec{Stage: s}, nodes[0])
	if err == nil || !strings.Contains(err.Error(), "setup_on_node panicked") || !strings.Contains(err.Error(), "node setup exploded") {
		t.Errorf("SetupNode with a panicking stage = %v", err)
	}
}

// allReduce sums the ranks (plus one) of a collective group through Worker.Comm.
type allReduce struct {
	stage.Base
	w *stage.Worker
}

func (s *allReduce) Setup(_ context.Context, w *stage.Worker) error {
	if w.Comm == nil || w.Comm.Rank() != w.Rank || w.Comm.Size() != w.Size {
		return fmt.Errorf("worker %s: rank %d size %d, communicator %v", w.ID, w.Rank, w.Size, w.Comm)
	}
	s.w = w
	return nil
}

func (s *allReduce) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	n := int64(ts[0].NumItems())
	sum, err := s.w.Comm.AllReduceInt64(ctx, collective.Sum, []int64{int64(s.w.Rank + 1), n})
	if err != nil {
		return nil, err
	}
	if err := s.w.Comm.Barrier(ctx); err != nil {
		return nil, err
	}
	return docs(fmt.Sprintf("rank%d:%d,%d", s.w.Rank, sum[0], sum[1])), nil
}

func TestCollectiveGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	dir := t.TempDir()
	rt := newRuntime(t, local.Options{CPUs: 3, ScratchDir: dir})
	proto := &allReduce{Base: stage.Base{StageName: "sum", StageKind: stage.Collective}}
	const size = 3
	actors := make([]runtime.Actor, size)
	for i := range actors {
		actors[i] = spawn(t, rt, proto, "c"+strconv.Itoa(i))
	}
	rv, err := actors[0].CreateRendezvous(ctx)
	if err != nil || rv == "" {
		t.Fatalf("CreateRendezvous = %q, %v", rv, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a collective rendezvous created scratch files: %v", entries)
	}
	for i, a := range actors {
		if err := a.Setup(ctx, &runtime.Group{Rendezvous: rv, Rank: i, Size: size}); err != nil {
			t.Fatal(err)
		}
	}

	results := make([]string, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i, a := range actors {
		wg.Go(func() {
			// Rank i holds i+1 documents.
			texts := make([]string, i+1)
			out, err := call(a, ctx, runtime.Process, docs(texts...))
			if err == nil {
				results[i] = out[0].(*task.DocumentBatch).Texts()[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rank0:6,6", "rank1:6,6", "rank2:6,6"}; !slices.Equal(results, want) {
		t.Errorf("results = %v, want %v", results, want)
	}
	for _, a := range actors {
		if err := a.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Joining a rank twice, or out of range, fails Setup.
	extra := spawn(t, rt, proto, "extra")
	if err := extra.Setup(ctx, &runtime.Group{Rendezvous: rv, Rank: size, Size: size}); err == nil {
		t.Error("Setup with a rank out of range succeeded")
	}
	if err := extra.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// keyShuffle sends every text of its input as a key through the shuffle and
// writes back the keys of the partitions it owns.
type keyShuffle struct {
	stage.Base
	w *stage.Worker
}

func (s *keyShuffle) Setup(_ context.Context, w *stage.Worker) error {
	if w.Shuffle == nil || w.Shuffle.Sender == nil || w.Shuffle.Store == nil {
		return fmt.Errorf("worker %s has no shuffle endpoint", w.ID)
	}
	s.w = w
	return nil
}

func (*keyShuffle) ProcessBatch(context.Context, []task.Task) ([]task.Task, error) {
	return nil, errors.New("keyShuffle: ProcessBatch is not used")
}

func (*keyShuffle) NumPartitions() int { return 0 }

func (s *keyShuffle) Insert(ctx context.Context, ts []task.Task) error {
	for _, t := range ts {
		for _, x := range t.(*task.DocumentBatch).Texts() {
			if err := s.w.Shuffle.Sender.Add(ctx, []byte(x), []byte("value-of-"+x)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (*keyShuffle) InsertFinished(context.Context) error { return nil }

func (s *keyShuffle) ExtractAndWrite(context.Context) ([]task.Task, error) {
	ep := s.w.Shuffle
	var keys []string
	for _, p := range ep.Store.OwnedPartitions() {
		err := ep.Store.Extract(p, func(k, v []byte) error {
			if got := shuffle.PartitionOf(k, ep.NumPartitions); got != p {
				return fmt.Errorf("key %q extracted from partition %d, belongs to %d", k, p, got)
			}
			if string(v) != "value-of-"+string(k) {
				return fmt.Errorf("key %q has value %q", k, v)
			}
			keys = append(keys, string(k))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := task.NewDocumentBatch("ds", "text", keys)
	out.Meta()["rank"] = strconv.Itoa(ep.Rank)
	return []task.Task{out}, nil
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startShuffle spawns and sets up size actors of a keyShuffle group.
func startShuffle(t *testing.T, rt *local.Runtime, size, partitions int, memLimit int64) []runtime.Actor {
	t.Helper()
	ctx := context.Background()
	proto := stage.With(&keyShuffle{Base: stage.Base{StageName: "keys", StageKind: stage.Shuffle}}, stage.WithBatchSize(4))
	actors := make([]runtime.Actor, size)
	for i := range actors {
		actors[i] = spawn(t, rt, proto, "s"+strconv.Itoa(i))
	}
	rv, err := actors[0].CreateRendezvous(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range actors {
		g := &runtime.Group{Rendezvous: rv, Rank: i, Size: size, NumPartitions: partitions, MemoryLimit: memLimit}
		if err := a.Setup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	return actors
}

func TestShuffleSpillsAndCleansUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rt := newRuntime(t, local.Options{CPUs: 2, ScratchDir: dir, ShuffleFlushBytes: 512})
	const partitions = 5
	actors := startShuffle(t, rt, 2, partitions, 8<<10)

	// Insert 3000 keys, spread over both actors in several calls.
	var want []string
	for c := range 6 {
		var texts []string
		for i := range 500 {
			texts = append(texts, fmt.Sprintf("key-%02d-%04d", c, i))
		}
		want = append(want, texts...)
		if out, err := call(actors[c%2], ctx, runtime.Insert, docs(texts...)); err != nil || len(out) != 0 {
			t.Fatalf("Insert = %v, %v", out, err)
		}
	}
	for _, a := range actors {
		if _, err := call(a, ctx, runtime.InsertFinished, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := countFiles(t, dir); n == 0 {
		t.Fatal("no spill files with an 8 KiB memory limit")
	}

	var got []string
	for rank, a := range actors {
		out, err := call(a, ctx, runtime.ExtractAndWrite, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := out[0].(*task.DocumentBatch)
		if b.Meta()["rank"] != strconv.Itoa(rank) {
			t.Errorf("actor %d wrote as rank %s", rank, b.Meta()["rank"])
		}
		for _, k := range b.Texts() {
			if owner := shuffle.Owner(shuffle.PartitionOf([]byte(k), partitions), 2); owner != rank {
				t.Errorf("rank %d extracted key %q owned by rank %d", rank, k, owner)
			}
		}
		got = append(got, b.Texts()...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("extracted %d keys, want the %d inserted exactly once", len(got), len(want))
	}

	// The session's files outlive the first Stop (rank 1 still reads) and
	// are gone after the last.
	if err := actors[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, dir); n == 0 {
		t.Error("spill files removed while rank 1 is still running")
	}
	if err := actors[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("scratch dir after every Stop: %v, %v; want empty", entries, err)
	}
}

func TestCloseRemovesOpenShuffle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: dir, ShuffleFlushBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	actors := startShuffle(t, rt, 2, 3, 4<<10)
	var texts []string
	for i := range 1000 {
		texts = append(texts, "k"+strconv.Itoa(i))
	}
	if _, err := call(actors[0], ctx, runtime.Insert, docs(texts...)); err != nil {
		t.Fatal(err)
	}
	if _, err := call(actors[0], ctx, runtime.InsertFinished, nil); err != nil {
		t.Fatal(err)
	}
	if countFiles(t, dir) == 0 {
		t.Fatal("no spill files before Close")
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("scratch dir after Close: %v, want empty", entries)
	}
	// Actors stopped after Close still tear down cleanly.
	for _, a := range actors {
		if err := a.Stop(ctx); err != nil {
			t.Error(err)
		}
	}
}

func TestDiedError(t *testing.T) {
	cause := errors.New("boom")
	err := fmt.Errorf("call: %w", &runtime.DiedError{ActorID: "a7", Reason: "lost", Err: cause})
	if !runtime.IsDied(err) || !errors.Is(err, cause) {
		t.Errorf("IsDied/Is on a wrapped DiedError: %v %v", runtime.IsDied(err), errors.Is(err, cause))
	}
	if msg := err.Error(); !strings.Contains(msg, "a7") || !strings.Contains(msg, "lost") || !strings.Contains(msg, "boom") {
		t.Errorf("message %q", msg)
	}
	if runtime.IsDied(cause) {
		t.Error("IsDied on a plain error")
	}
	if runtime.Insert.String() != "insert" || runtime.Method(9).String() != "Method(9)" {
		t.Errorf("Method names: %s %s", runtime.Insert, runtime.Method(9))
	}
}

// fakeNvidiaSMI puts an executable nvidia-smi script first on PATH. The
// script checks its arguments and prints body.
func fakeNvidiaSMI(t *testing.T, body string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n" +
		`[ "$1" = "--query-gpu=memory.total" ] && [ "$2" = "--format=csv,noheader,nounits" ] || { echo "bad args: $*" >&2; exit 2; }` + "\n" +
		body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestDetectGPUsWithoutNvidiaSMI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	n, mem, err := local.DetectGPUs()
	if n != 0 || mem != 0 || err != nil {
		t.Errorf("DetectGPUs without nvidia-smi = %d, %g, %v; want 0, 0, nil", n, mem, err)
	}
	rt := newRuntime(t, local.Options{CPUs: 1, GPUs: -1})
	nodes, _ := rt.Nodes(context.Background())
	if nodes[0].GPUs != 0 {
		t.Errorf("detected node GPUs = %g, want 0", nodes[0].GPUs)
	}
}

func TestDetectGPUsParsesNvidiaSMI(t *testing.T) {
	fakeNvidiaSMI(t, `printf '81920\n81920\n\n'`)
	n, mem, err := local.DetectGPUs()
	if n != 2 || mem != 80 || err != nil {
		t.Fatalf("DetectGPUs = %d, %g, %v; want 2, 80, nil", n, mem, err)
	}
	rt := newRuntime(t, local.Options{CPUs: 1, GPUs: -1})
	nodes, _ := rt.Nodes(context.Background())
	if nodes[0].GPUs != 2 || nodes[0].GPUMemoryGB != 80 {
		t.Errorf("node = %+v, want 2 GPUs of 80 GB", nodes[0])
	}
}

func TestDetectGPUsMixedSizes(t *testing.T) {
	// The smallest device bounds what a gpu_memory_gb fraction may assume.
	fakeNvidiaSMI(t, `printf '81920\n16384\n40960\n'`)
	n, mem, err := local.DetectGPUs()
	if n != 3 || mem != 16 || err != nil {
		t.Fatalf("DetectGPUs = %d, %g, %v; want 3, 16, nil", n, mem, err)
	}
}

func TestDetectGPUsErrors(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		fakeNvidiaSMI(t, `echo '[N/A]'`)
		if _, _, err := local.DetectGPUs(); err == nil || !strings.Contains(err.Error(), "[N/A]") {
			t.Errorf("DetectGPUs on garbage = %v, want an error quoting it", err)
		}
		if _, err := local.New(local.Options{GPUs: -1}); err == nil {
			t.Error("New with a broken nvidia-smi succeeded")
		}
	})
	t.Run("failing", func(t *testing.T) {
		fakeNvidiaSMI(t, `echo 'NVIDIA-SMI has failed' >&2; exit 9`)
		if _, _, err := local.DetectGPUs(); err == nil || !strings.Contains(err.Error(), "nvidia-smi") {
			t.Errorf("DetectGPUs with a failing nvidia-smi = %v", err)
		}
	})
}
