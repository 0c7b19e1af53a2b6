// Package runtimetest checks that a runtime.Runtime behaves as the executor
// expects, in the spirit of testing/fstest: a runtime's own tests call Run.
//
// The suite covers calls (outputs, attempt numbers, counters, usage,
// errors that keep their kind), deaths (panic, timeout, cancellation, a
// lost node), Stop (once, never concurrent with an abandoned call, teardown
// owed after a failed set-up), rendezvous and collectives (including a send
// made before the receiver joined, and a peer that closed), shuffles with
// acknowledged delivery (every row at its owner once every rank's
// InsertFinished has returned), placement (an actor runs on the node its
// spec names; lost or unknown nodes are refused with runtime.ErrNodeLost),
// membership events, the descriptor requirement, and ownership (a failed
// call leaves the caller's tasks as they were; outputs are not shared with
// the actor).
//
// It depends on nothing but the runtime interface: the runtime builds the
// suite's stages from their descriptors (Register adds their types) or from
// the prototypes in the specs, and the suite observes actors only through
// call results and marker files in a directory it names in the stages'
// config, so it runs the same against actors in other processes on the same
// machine.
package runtimetest

import (
	"context"
	"encoding/json"
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

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Harness is the runtime under test and the hooks the suite needs.
type Harness struct {
	// Runtime is a fresh runtime with at least one live node. The suite
	// closes it at the end of the subtest.
	Runtime runtime.Runtime
	// LoseNode makes the runtime lose the node, as if its machine died (for
	// a process runtime: kill the worker). Nil skips the tests of lost
	// nodes. The suite loses only nodes it was told about by Nodes, and at
	// most one per harness.
	LoseNode func(nodeID string) error
	// ZeroCopy says the runtime hands the caller's own tasks to stages (as
	// runtime/local does without Isolate): the ownership tests are skipped.
	ZeroCopy bool
}

// NewHarness makes a harness for one subtest. reg holds the suite's stage
// types (see Register); a runtime that builds stages from descriptors in
// this process should use it.
type NewHarness func(t *testing.T, reg *stage.Registry) Harness

// Run runs the conformance suite, each test as a subtest with its own
// harness.
func Run(t *testing.T, newHarness NewHarness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"Nodes", testNodes},
		{"CallsOnEveryNode", testCallsOnEveryNode},
		{"AttemptCountersUsage", testAttemptCountersUsage},
		{"Errors", testErrors},
		{"ConcurrentCalls", testConcurrentCalls},
		{"DeathByPanic", testDeathByPanic},
		{"DeathByTimeout", testDeathByTimeout},
		{"DeathByCancellation", testDeathByCancellation},
		{"StopOnce", testStopOnce},
		{"SetupFailure", testSetupFailure},
		{"SetupNode", testSetupNode},
		{"Descriptors", testDescriptors},
		{"UnknownNode", testUnknownNode},
		{"Collective", testCollective},
		{"CollectivePeerClosed", testCollectivePeerClosed},
		{"Shuffle", testShuffle},
		{"Ownership", testOwnership},
		{"LostNode", testLostNode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := stage.NewRegistry()
			if err := Register(reg); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, reg)
			if h.Runtime == nil {
				t.Fatal("the harness has no runtime")
			}
			s := &suite{t: t, h: h, reg: reg, dir: t.TempDir()}
			defer s.close()
			tc.fn(t, s)
		})
	}
}

// waitLimit bounds every wait of the suite.
const waitLimit = 10 * time.Second

// suite is the state of one subtest.
type suite struct {
	t      *testing.T
	h      Harness
	reg    *stage.Registry
	dir    string
	seq    atomic.Int64
	mu     sync.Mutex
	actors []runtime.Actor
}

func (s *suite) rt() runtime.Runtime { return s.h.Runtime }

func (s *suite) close() {
	s.mu.Lock()
	actors := s.actors
	s.mu.Unlock()
	for _, a := range actors {
		if err := a.Stop(context.Background()); err != nil {
			s.t.Errorf("stop %s: %v", a.ID(), err)
		}
	}
	if err := s.rt().Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
}

func (s *suite) nodes() []stage.Node {
	s.t.Helper()
	ns, err := s.rt().Nodes(context.Background())
	if err != nil || len(ns) == 0 {
		s.t.Fatalf("Nodes: %v, %v", ns, err)
	}
	return ns
}

// spec builds an actor spec of a suite stage type on node.
func (s *suite) spec(typ string, cfg any, node string) runtime.ActorSpec {
	s.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	st, err := s.reg.Build(stage.Descriptor{Type: typ, Config: b})
	if err != nil {
		s.t.Fatal(err)
	}
	desc, _ := stage.DescriptorOf(st)
	id := fmt.Sprintf("%s-%d", st.Name(), s.seq.Add(1))
	return runtime.ActorSpec{Stage: st, Descriptor: desc, Worker: stage.WorkerSpec{
		ID: id, NodeID: node, StageName: st.Name(), Size: 1, Env: map[string]string{"RUNTIMETEST": id},
	}}
}

func (s *suite) probeSpec(node string) runtime.ActorSpec {
	return s.spec(ProbeType, probeConfig{Dir: s.dir}, node)
}

// spawn spawns spec and registers the actor for the final Stop.
func (s *suite) spawn(spec runtime.ActorSpec) runtime.Actor {
	s.t.Helper()
	a, err := s.rt().Spawn(context.Background(), spec)
	if err != nil {
		s.t.Fatalf("spawn %s on %s: %v", spec.Worker.ID, spec.Worker.NodeID, err)
	}
	if a.ID() != spec.Worker.ID {
		s.t.Fatalf("actor id %q, spec says %q", a.ID(), spec.Worker.ID)
	}
	s.mu.Lock()
	s.actors = append(s.actors, a)
	s.mu.Unlock()
	return a
}

// probe spawns and sets up a probe actor on node.
func (s *suite) probe(node string) runtime.Actor {
	s.t.Helper()
	a := s.spawn(s.probeSpec(node))
	if err := a.Setup(context.Background(), nil); err != nil {
		s.t.Fatalf("setup %s: %v", a.ID(), err)
	}
	return a
}

// op makes a one-task batch asking the probe for op.
func op(name string, kv ...string) []task.Task {
	b := task.NewDocumentBatch("rtt", "text", []string{"x"})
	b.TaskID = "in-" + name
	b.Meta()["op"] = name
	for i := 0; i+1 < len(kv); i += 2 {
		b.Meta()[kv[i]] = kv[i+1]
	}
	return []task.Task{b}
}

func call(ctx context.Context, a runtime.Actor, tasks []task.Task, attempt int) (runtime.Result, error) {
	return a.Call(ctx, runtime.Call{Method: runtime.Process, Tasks: tasks, Attempt: attempt})
}

func (s *suite) marker(name string) bool {
	_, err := os.Stat(filepath.Join(s.dir, name))
	return err == nil
}

// eventually waits until cond holds.
func (s *suite) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func diedReason(err error) string {
	var d *runtime.DiedError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

func testNodes(t *testing.T, s *suite) {
	seen := map[string]bool{}
	for _, n := range s.nodes() {
		if n.ID == "" || seen[n.ID] || n.CPUs <= 0 || n.GPUs < 0 {
			t.Fatalf("node %+v: ids must be unique and not empty, CPUs positive", n)
		}
		seen[n.ID] = true
	}
}

// testCallsOnEveryNode: an actor runs on the node its spec names, with its
// own copy of the spec (id, env, devices), that node's scratch directory
// and a logger, and its calls return their outputs.
func testCallsOnEveryNode(t *testing.T, s *suite) {
	for _, n := range s.nodes() {
		spec := s.probeSpec(n.ID)
		if n.GPUs >= 1 {
			spec.Worker.DeviceIDs = []int{int(n.GPUs) - 1}
		}
		a := s.spawn(spec)
		spec.Worker.Env["RUNTIMETEST"] = "changed after Spawn" // the actor has its own copy
		if err := a.Setup(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		res, err := call(context.Background(), a, op("whoami"), 1)
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("whoami on %s: %v, %d outputs", n.ID, err, len(res.Tasks))
		}
		var w stage.WorkerSpec
		if err := json.Unmarshal([]byte(res.Tasks[0].Meta()["worker"]), &w); err != nil {
			t.Fatal(err)
		}
		if w.ID != a.ID() || w.NodeID != n.ID || w.StageName != "probe" || w.Env["RUNTIMETEST"] != a.ID() || !slices.Equal(w.DeviceIDs, spec.Worker.DeviceIDs) {
			t.Fatalf("actor on %s sees %+v", n.ID, w)
		}
		if n.ScratchDir != "" && w.ScratchDir != n.ScratchDir {
			t.Fatalf("actor on %s has scratch %q, the node %q", n.ID, w.ScratchDir, n.ScratchDir)
		}
		if res.Tasks[0].Meta()["has_logger"] != "true" {
			t.Fatalf("actor on %s has no logger", n.ID)
		}
		in := op("echo")
		in[0].(*task.DocumentBatch).SetColumn(&task.Column{Name: "text", Type: task.String, Strings: []string{"payload " + n.ID}})
		res, err = call(context.Background(), a, in, 1)
		if err != nil || len(res.Tasks) != 1 || res.Tasks[0].(*task.DocumentBatch).Texts()[0] != "payload "+n.ID || res.Tasks[0].ID() != "in-echo" {
			t.Fatalf("echo on %s: %v %v", n.ID, res.Tasks, err)
		}
	}
}

// testAttemptCountersUsage: the attempt number reaches the stage, its
// counters come back, and a busy call reports its CPU time.
func testAttemptCountersUsage(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	res, err := call(context.Background(), a, op("whoami"), 4)
	if err != nil || res.Tasks[0].Meta()["attempt"] != "4" {
		t.Fatalf("attempt: %v, %v", res.Tasks, err)
	}
	in := append(op("count"), task.NewEmpty())
	res, err = call(context.Background(), a, in, 1)
	if err != nil || res.Counts["probe_calls"] != 1 || res.Counts["probe_tasks"] != 2 {
		t.Fatalf("counters %v, %v", res.Counts, err)
	}
	// A runtime may leave short calls unmeasured (the executor then counts
	// their wall time), and may learn only from one call that an actor's
	// calls are long: the second of two 30 ms spins must report its CPU time
	// (at most its wall time) and its process's peak RSS.
	for i := range 2 {
		start := time.Now()
		res, err = call(context.Background(), a, op("spin", "ms", "30"), 1)
		wall := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if res.Usage.CPU > wall+5*time.Millisecond || (i == 1 && (res.Usage.CPU <= 0 || res.Usage.PeakRSS <= 0)) {
			t.Fatalf("spin %d reported usage %+v (wall %s)", i+1, res.Usage, wall)
		}
	}
}

// testErrors: stage errors come back as errors (not deaths), keeping their
// message, stage.IsPermanent and registered sentinels; the actor lives on.
func testErrors(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	ctx := context.Background()
	_, err := call(ctx, a, op("error"), 1)
	if err == nil || runtime.IsDied(err) || stage.IsPermanent(err) || !strings.Contains(err.Error(), "runtimetest: a plain error") {
		t.Fatalf("plain error: %v", err)
	}
	_, err = call(ctx, a, op("error", "kind", "permanent"), 1)
	if !stage.IsPermanent(err) || !errors.Is(err, ErrProbe) || runtime.IsDied(err) {
		t.Fatalf("permanent error: %v", err)
	}
	_, err = call(ctx, a, op("error", "kind", "sentinel"), 1)
	if !errors.Is(err, ErrProbe) || stage.IsPermanent(err) || !strings.Contains(err.Error(), "wrapped") {
		t.Fatalf("sentinel error: %v", err)
	}
	if _, err := call(ctx, a, op("echo"), 1); err != nil {
		t.Fatalf("after stage errors the actor must still answer: %v", err)
	}
}

// testConcurrentCalls: actors serve calls at the same time, each its own.
func testConcurrentCalls(t *testing.T, s *suite) {
	nodes := s.nodes()
	var actors []runtime.Actor
	for i := range 4 {
		actors = append(actors, s.probe(nodes[i%len(nodes)].ID))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(actors))
	for _, a := range actors {
		wg.Go(func() {
			for i := range 25 {
				in := op("echo")
				in[0].SetID(a.ID() + "/" + strconv.Itoa(i))
				res, err := call(context.Background(), a, in, 1)
				if err == nil && (len(res.Tasks) != 1 || res.Tasks[0].ID() != in[0].ID()) {
					err = fmt.Errorf("call %d on %s returned %v", i, a.ID(), res.Tasks)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testDeathByPanic: a panic kills the actor: DiedError(panic), and every
// later call a DiedError; Stop still tears it down once.
func testDeathByPanic(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	_, err := call(context.Background(), a, op("panic"), 1)
	if diedReason(err) != runtime.DiedPanic || !strings.Contains(err.Error(), "asks for a panic") {
		t.Fatalf("panic: %v", err)
	}
	if _, err := call(context.Background(), a, op("echo"), 1); !runtime.IsDied(err) {
		t.Fatalf("a dead actor answered: %v", err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.eventually("teardown after the panic", func() bool { return s.marker(a.ID() + ".teardown") })
}

// testDeathByTimeout: a call past its deadline returns DiedError(timeout)
// promptly even if the stage ignores its context; Teardown runs only after
// the abandoned call returned.
func testDeathByTimeout(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := call(ctx, a, op("hang", "ignore_ms", "300"), 1)
	if diedReason(err) != runtime.DiedTimeout || time.Since(start) > 250*time.Millisecond+waitLimit/10 {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
	if _, err := call(context.Background(), a, op("echo"), 1); !runtime.IsDied(err) {
		t.Fatalf("an abandoned actor answered: %v", err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.eventually("teardown after the abandoned call", func() bool { return s.marker(a.ID() + ".teardown") })
	if s.marker(a.ID() + ".teardown-during-call") {
		t.Fatal("Teardown ran while the abandoned call was still running")
	}
}

// testDeathByCancellation: cancelling a call's context (no deadline) kills
// the actor with DiedError(cancelled).
func testDeathByCancellation(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err := call(ctx, a, op("hang"), 1)
	if r := diedReason(err); r != runtime.DiedCancelled && !(r == "" && errors.Is(err, context.Canceled)) {
		t.Fatalf("cancelled call: %v", err)
	}
}

// testStopOnce: Stop tears down once however often it is called, and not at
// all for an actor that was never set up.
func testStopOnce(t *testing.T, s *suite) {
	a := s.probe(s.nodes()[0].ID)
	for range 3 {
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s.eventually("teardown", func() bool { return s.marker(a.ID() + ".teardown") })
	time.Sleep(20 * time.Millisecond)
	if s.marker(a.ID() + ".teardown-twice") {
		t.Fatal("Teardown ran twice")
	}
	b := s.spawn(s.probeSpec(s.nodes()[0].ID))
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if s.marker(b.ID()+".teardown") || s.marker(b.ID()+".setup") {
		t.Fatal("an actor that was never set up was set up or torn down")
	}
	if _, err := call(context.Background(), a, op("echo"), 1); !runtime.IsDied(err) {
		t.Fatalf("a stopped actor answered: %v", err)
	}
}

// testSetupFailure: a failed or panicking Setup is an error (with the
// stage's message and kind), and Teardown is still owed.
func testSetupFailure(t *testing.T, s *suite) {
	node := s.nodes()[0].ID
	for _, cfg := range []probeConfig{{Dir: s.dir, FailSetup: true}, {Dir: s.dir, PanicSetup: true}} {
		a := s.spawn(s.spec(ProbeType, cfg, node))
		err := a.Setup(context.Background(), nil)
		if err == nil || (cfg.FailSetup && !errors.Is(err, ErrProbe)) || (cfg.PanicSetup && !strings.Contains(err.Error(), "panic")) {
			t.Fatalf("setup %+v: %v", cfg, err)
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.eventually("teardown after a failed setup", func() bool { return s.marker(a.ID() + ".teardown") })
	}
}

// testSetupNode: SetupNode runs the stage's SetupOnNode on that node.
func testSetupNode(t *testing.T, s *suite) {
	for _, n := range s.nodes() {
		if err := s.rt().SetupNode(context.Background(), s.probeSpec(n.ID), n); err != nil {
			t.Fatalf("SetupNode %s: %v", n.ID, err)
		}
		m, _ := filepath.Glob(filepath.Join(s.dir, "node-setup."+n.ID+".*"))
		if len(m) != 1 {
			t.Fatalf("SetupOnNode ran %d times on %s", len(m), n.ID)
		}
	}
}

// testDescriptors: a runtime that requires descriptors refuses a stage
// without one, naming it.
func testDescriptors(t *testing.T, s *suite) {
	if !s.rt().RequiresDescriptors() {
		t.Skip("the runtime runs prototypes in process")
	}
	spec := s.probeSpec(s.nodes()[0].ID)
	spec.Descriptor = stage.Descriptor{}
	spec.Worker.StageName = "unregistered"
	a, err := s.rt().Spawn(context.Background(), spec)
	if err == nil {
		a.Stop(context.Background())
		t.Fatal("spawned a stage without a descriptor")
	}
	if !strings.Contains(err.Error(), "unregistered") {
		t.Fatalf("the error does not name the stage: %v", err)
	}
}

// testUnknownNode: spawning on a node the runtime does not know fails with
// ErrNodeLost.
func testUnknownNode(t *testing.T, s *suite) {
	spec := s.probeSpec("no-such-node-" + strconv.Itoa(int(s.seq.Add(1))))
	a, err := s.rt().Spawn(context.Background(), spec)
	if err == nil {
		a.Stop(context.Background())
		t.Fatal("spawned on an unknown node")
	}
	if !errors.Is(err, runtime.ErrNodeLost) {
		t.Fatalf("spawn on an unknown node: %v, want ErrNodeLost", err)
	}
}

// group spawns n actors of typ spread over the nodes, creates the
// rendezvous on rank 0 and returns them with their groups (not set up).
func (s *suite) group(typ string, n int, g runtime.Group) ([]runtime.Actor, []*runtime.Group) {
	s.t.Helper()
	nodes := s.nodes()
	actors := make([]runtime.Actor, n)
	for i := range n {
		spec := s.spec(typ, struct{}{}, nodes[i%len(nodes)].ID)
		spec.Worker.Rank, spec.Worker.Size = i, n
		actors[i] = s.spawn(spec)
	}
	id, err := actors[0].CreateRendezvous(context.Background())
	if err != nil || id == "" {
		s.t.Fatalf("CreateRendezvous: %q, %v", id, err)
	}
	gs := make([]*runtime.Group, n)
	for i := range n {
		gr := g
		gr.Rendezvous, gr.Rank, gr.Size = id, i, n
		gs[i] = &gr
	}
	return actors, gs
}

// onAll runs fn on every actor at once and returns the errors.
func onAll(actors []runtime.Actor, fn func(i int, a runtime.Actor) error) []error {
	errs := make([]error, len(actors))
	var wg sync.WaitGroup
	for i, a := range actors {
		wg.Go(func() { errs[i] = fn(i, a) })
	}
	wg.Wait()
	return errs
}

// testCollective: rank 0 sets up first and broadcasts in Setup, before the
// others joined; the others set up and receive it in their call; an
// all-reduce sums the ranks.
func testCollective(t *testing.T, s *suite) {
	const n = 3
	actors, gs := s.group(GroupType, n, runtime.Group{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := actors[0].Setup(ctx, gs[0]); err != nil {
		t.Fatalf("rank 0 setup (sends before the others joined): %v", err)
	}
	for i, err := range onAll(actors[1:], func(i int, a runtime.Actor) error { return a.Setup(ctx, gs[i+1]) }) {
		if err != nil {
			t.Fatalf("rank %d setup: %v", i+1, err)
		}
	}
	outs := make([]runtime.Result, n)
	for i, err := range onAll(actors, func(i int, a runtime.Actor) error {
		var err error
		outs[i], err = call(ctx, a, op("group"), 1)
		return err
	}) {
		if err != nil {
			t.Fatalf("rank %d: %v", i, err)
		}
	}
	for i, r := range outs {
		m := r.Tasks[0].Meta()
		wantMsg := "hello from rank 0"
		if i == 0 {
			wantMsg = "-"
		}
		if m["rank"] != strconv.Itoa(i) || m["sum"] != "6" || m["setup_msg"] != wantMsg {
			t.Fatalf("rank %d returned %v", i, m)
		}
	}
}

// testCollectivePeerClosed: a collective waiting on a rank whose actor
// stopped fails with collective.ErrPeerClosed instead of hanging.
func testCollectivePeerClosed(t *testing.T, s *suite) {
	actors, gs := s.group(GroupType, 2, runtime.Group{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for i, err := range onAll(actors, func(i int, a runtime.Actor) error { return a.Setup(ctx, gs[i]) }) {
		if err != nil {
			t.Fatalf("rank %d setup: %v", i, err)
		}
	}
	if err := actors[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := call(ctx, actors[0], op("barrier"), 1)
	if !errors.Is(err, collective.ErrPeerClosed) {
		t.Fatalf("barrier with a stopped peer: %v, want ErrPeerClosed", err)
	}
}

// testShuffle: rows inserted through any rank end up at their owner, once,
// when every rank's InsertFinished has returned (acknowledged delivery),
// with a memory limit small enough to spill.
func testShuffle(t *testing.T, s *suite) {
	const n, parts = 3, 7
	actors, gs := s.group(ShuffleType, n, runtime.Group{NumPartitions: parts, MemoryLimit: 8 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for i, err := range onAll(actors, func(i int, a runtime.Actor) error { return a.Setup(ctx, gs[i]) }) {
		if err != nil {
			t.Fatalf("rank %d setup: %v", i, err)
		}
	}
	var want []string
	for i, err := range onAll(actors, func(i int, a runtime.Actor) error {
		for c := range 3 {
			var texts []string
			for k := range 400 {
				texts = append(texts, fmt.Sprintf("r%d-c%d-k%04d", i, c, k))
			}
			if _, err := a.Call(ctx, runtime.Call{Method: runtime.Insert, Tasks: []task.Task{task.NewDocumentBatch("rtt", "text", texts)}, Attempt: 1}); err != nil {
				return err
			}
		}
		return nil
	}) {
		if err != nil {
			t.Fatalf("rank %d insert: %v", i, err)
		}
	}
	for i := range n {
		for c := range 3 {
			for k := range 400 {
				want = append(want, fmt.Sprintf("r%d-c%d-k%04d", i, c, k))
			}
		}
	}
	for i, err := range onAll(actors, func(i int, a runtime.Actor) error {
		_, err := a.Call(ctx, runtime.Call{Method: runtime.InsertFinished, Attempt: 1})
		return err
	}) {
		if err != nil {
			t.Fatalf("rank %d insert finished: %v", i, err)
		}
	}
	var got []string
	for i, a := range actors {
		res, err := a.Call(ctx, runtime.Call{Method: runtime.ExtractAndWrite, Attempt: 1})
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("rank %d extract: %v", i, err)
		}
		b := res.Tasks[0].(*task.DocumentBatch)
		if b.Meta()["rank"] != strconv.Itoa(i) {
			t.Fatalf("actor %d extracted as rank %s", i, b.Meta()["rank"])
		}
		for _, k := range b.Texts() {
			if owner := shuffle.Owner(shuffle.PartitionOf([]byte(k), parts), n); owner != i {
				t.Fatalf("rank %d extracted %q, owned by rank %d", i, k, owner)
			}
		}
		got = append(got, b.Texts()...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("extracted %d keys, want the %d inserted, each once", len(got), len(want))
	}
}

// testOwnership: a failed call leaves the caller's tasks as they were (the
// caller retries with them), and outputs are not shared with the actor.
func testOwnership(t *testing.T, s *suite) {
	if s.h.ZeroCopy {
		t.Skip("the runtime hands the caller's own tasks to stages")
	}
	a := s.probe(s.nodes()[0].ID)
	in := op("mutate-fail")
	if _, err := call(context.Background(), a, in, 1); err == nil {
		t.Fatal("mutate-fail succeeded")
	}
	b := in[0].(*task.DocumentBatch)
	if b.ID() != "in-mutate-fail" || b.Meta()["dirty"] != "" || len(b.Perf()) != 0 || b.Texts()[0] != "x" {
		t.Fatalf("the failed call changed the caller's task: id %s meta %v perf %d texts %v", b.ID(), b.Meta(), len(b.Perf()), b.Texts())
	}
	res, err := call(context.Background(), a, op("retain"), 1)
	if err != nil || len(res.Tasks) != 1 {
		t.Fatal(err)
	}
	res.Tasks[0].Meta()["changed-by-caller"] = "1"
	res, err = call(context.Background(), a, op("check-retained"), 1)
	if err != nil || res.Tasks[0].Meta()["shared"] != "0" {
		t.Fatalf("the actor sees the caller's change to an output: %v %v", res.Tasks, err)
	}
}

// testLostNode: losing a node fails its in-flight calls at once with
// DiedError(lost) wrapping ErrNodeLost, later calls too; watchers hear of
// it; Nodes no longer lists it; Spawn and SetupNode there fail with
// ErrNodeLost; the other nodes are unaffected.
func testLostNode(t *testing.T, s *suite) {
	if s.h.LoseNode == nil {
		t.Skip("the harness cannot lose a node")
	}
	nodes := s.nodes()
	victim := nodes[len(nodes)-1]
	events := make(chan runtime.NodeEvent, 8)
	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := s.rt().WatchNodes(wctx, func(ev runtime.NodeEvent) { events <- ev }); err != nil {
		t.Fatal(err)
	}
	a := s.probe(victim.ID)
	var survivor runtime.Actor
	if len(nodes) > 1 {
		survivor = s.probe(nodes[0].ID)
	}
	done := make(chan error, 1)
	go func() {
		_, err := call(context.Background(), a, op("hang"), 1)
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if err := s.h.LoseNode(victim.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if diedReason(err) != runtime.DiedLost || !errors.Is(err, runtime.ErrNodeLost) {
			t.Fatalf("in-flight call on the lost node: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the in-flight call on the lost node did not return")
	}
	if _, err := call(context.Background(), a, op("echo"), 1); diedReason(err) != runtime.DiedLost {
		t.Fatalf("call after the loss: %v", err)
	}
	select {
	case ev := <-events:
		if ev.Kind != runtime.NodeLost || ev.Node.ID != victim.ID {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(waitLimit):
		t.Fatal("no NodeLost event")
	}
	live, err := s.rt().Nodes(context.Background())
	if err != nil || slices.ContainsFunc(live, func(n stage.Node) bool { return n.ID == victim.ID }) {
		t.Fatalf("Nodes after the loss: %v %v", live, err)
	}
	if _, err := s.rt().Spawn(context.Background(), s.probeSpec(victim.ID)); !errors.Is(err, runtime.ErrNodeLost) {
		t.Fatalf("spawn on the lost node: %v", err)
	}
	if err := s.rt().SetupNode(context.Background(), s.probeSpec(victim.ID), victim); !errors.Is(err, runtime.ErrNodeLost) {
		t.Fatalf("SetupNode on the lost node: %v", err)
	}
	if survivor != nil {
		if _, err := call(context.Background(), survivor, op("echo"), 1); err != nil {
			t.Fatalf("an actor on another node: %v", err)
		}
	}
}
