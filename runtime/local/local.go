// Package local is the single-machine Runtime: every actor is a goroutine in
// the current process, collective groups talk through in-memory channels,
// and each shuffle rank stores what it receives in an engine of its own.
// There is nothing to install or start.
//
// By default the runtime takes every shortcut one process allows: a call
// hands the executor's tasks to the stage and runs in the caller's goroutine,
// and a shuffle batch goes straight into the receiving engine. With
// Options.Isolate it behaves instead like a runtime whose actors live in
// other processes: actors are built from their stage's Descriptor (with
// Options.Registry), and specs, groups, calls, results, errors and shuffle
// batches all go through their wire encodings. Tests use it to check that
// nothing relies on shared memory; runtime/runtimetest runs against it.
//
// Options.Nodes presents several virtual nodes, all in this process, with
// LoseNode and AddNode to change the membership: for tests of placement and
// of lost nodes.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Options configures a local runtime.
type Options struct {
	// CPUs is the CPU budget; 0 means the number of logical CPUs.
	CPUs float64
	// GPUs is the number of GPUs; a negative value means detect with nvidia-smi
	// (none when it is absent), 0 means none.
	GPUs int
	// GPUMemoryGB is the memory of one GPU; detected along with GPUs.
	GPUMemoryGB float64
	// ScratchDir is where shuffles spill; default os.TempDir().
	ScratchDir string
	// Nodes, when not empty, replaces the one node (this process, with CPUs,
	// GPUs and GPUMemoryGB) with these virtual nodes, all in this process. A
	// node without a ScratchDir gets ScratchDir/<node id> (created). With virtual
	// nodes every call runs in a goroutine of its own, so that LoseNode can
	// abandon the calls of a lost node.
	Nodes []stage.Node
	// ShuffleFlushBytes is how many bytes a shuffle sender buffers per rank; default 1 MiB.
	ShuffleFlushBytes int
	// MaxMessageBytes bounds one shuffle batch, as a network's message size
	// would (0 = no limit). Senders flush at half of it.
	MaxMessageBytes int
	// Isolate sends everything that would cross a process boundary through
	// its wire form: the ActorSpec and Group as JSON, each call and its reply
	// through runtime.Wire (task codecs, error codec), and shuffle batches as
	// bytes delivered and acknowledged asynchronously. The stage gets its own
	// copies of the call's tasks and the caller gets fresh outputs, so the
	// ownership rules of runtime.Actor.Call hold exactly.
	Isolate bool
	// Registry, when set, is used to build every actor's stage from its
	// Descriptor, as another process would (the prototype in ActorSpec.Stage
	// is then ignored, and a stage without a descriptor is refused: see
	// RequiresDescriptors); its task codecs and named errors are the wire's.
	Registry *stage.Registry
	// NodeID names the one node when Nodes is empty (default "local"). A
	// worker process of another runtime that hosts its actors in a local
	// runtime names the node as its head does.
	NodeID string
	// Groups, when set, makes the transports of the actors' collective
	// groups and shuffles, in place of the in-process hubs: a runtime whose
	// actors have peers in other processes plugs its network in here.
	Groups Groups
	Logger *slog.Logger
}

// Groups makes the transports through which an actor talks to the other
// ranks of its group.
type Groups interface {
	// Collective joins rank g.Rank of the collective group g.Rendezvous.
	Collective(g runtime.Group) (collective.Transport, error)
	// Shuffle joins rank g.Rank of the shuffle g.Rendezvous: from then on
	// the batches the other ranks send this rank are stored in recv. The
	// transport carries this rank's batches to the others.
	Shuffle(g runtime.Group, recv shuffle.Receiver) (ShuffleTransport, error)
}

// ShuffleTransport is a rank's shuffle.Transport, which the actor closes
// when it stops.
type ShuffleTransport interface {
	shuffle.Transport
	Close() error
}

// hubs are the in-process Groups: a collective.LocalHub and a
// shuffle.LocalHub.
type hubs struct {
	collective *collective.LocalHub
	shuffles   *shuffle.LocalHub
}

func (h hubs) Collective(g runtime.Group) (collective.Transport, error) {
	return h.collective.Join(g.Rendezvous, g.Rank, g.Size)
}

func (h hubs) Shuffle(g runtime.Group, recv shuffle.Receiver) (ShuffleTransport, error) {
	t, err := h.shuffles.Join(g.Rendezvous, g.Rank, g.Size, recv)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Runtime runs actors as goroutines. Create it with New.
type Runtime struct {
	opts    Options
	virtual bool // Options.Nodes was given
	groups  Groups
	wire    *runtime.Wire
	callSeq atomic.Uint64

	mu       sync.Mutex
	nodes    []*nodeState
	actors   map[*actor]struct{}
	watchers map[uint64]func(runtime.NodeEvent)
	watchSeq uint64
	closed   bool

	eventMu sync.Mutex // delivers membership events one at a time
}

type nodeState struct {
	node stage.Node
	lost bool
}

// New returns a local runtime.
func New(opts Options) (*Runtime, error) {
	if opts.CPUs <= 0 {
		opts.CPUs = float64(goruntime.NumCPU())
	}
	if opts.GPUs < 0 {
		n, mem, err := DetectGPUs()
		if err != nil {
			return nil, err
		}
		opts.GPUs, opts.GPUMemoryGB = n, mem
	}
	if opts.ScratchDir == "" {
		opts.ScratchDir = os.TempDir()
	}
	if opts.ShuffleFlushBytes <= 0 {
		opts.ShuffleFlushBytes = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeID == "" {
		opts.NodeID = "local"
	}
	r := &Runtime{
		opts:     opts,
		virtual:  len(opts.Nodes) > 0,
		groups:   opts.Groups,
		wire:     runtime.NewWire(opts.Registry),
		actors:   make(map[*actor]struct{}),
		watchers: make(map[uint64]func(runtime.NodeEvent)),
	}
	if r.groups == nil {
		r.groups = hubs{
			collective: collective.NewLocalHub(),
			shuffles:   shuffle.NewLocalHub(shuffle.HubOptions{Async: opts.Isolate, MaxBatchBytes: opts.MaxMessageBytes}),
		}
	}
	if !r.virtual {
		r.nodes = []*nodeState{{node: stage.Node{ID: opts.NodeID, CPUs: opts.CPUs, GPUs: float64(opts.GPUs), GPUMemoryGB: opts.GPUMemoryGB, ScratchDir: opts.ScratchDir}}}
		return r, nil
	}
	seen := make(map[string]bool)
	for _, n := range opts.Nodes {
		if n.ID == "" || seen[n.ID] {
			return nil, fmt.Errorf("local runtime: node ids must be unique and not empty (got %q)", n.ID)
		}
		seen[n.ID] = true
		if n.ScratchDir == "" {
			n.ScratchDir = filepath.Join(opts.ScratchDir, n.ID)
		}
		if err := os.MkdirAll(n.ScratchDir, 0o755); err != nil {
			return nil, fmt.Errorf("local runtime: node %s: %w", n.ID, err)
		}
		r.nodes = append(r.nodes, &nodeState{node: n})
	}
	return r, nil
}

// DetectGPUs asks nvidia-smi for the GPUs of this machine: their count and
// the memory of the smallest. Without nvidia-smi it reports none.
func DetectGPUs() (count int, memGB float64, err error) {
	path, lookErr := exec.LookPath("nvidia-smi")
	if lookErr != nil {
		return 0, 0, nil
	}
	out, err := exec.Command(path, "--query-gpu=memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("detect GPUs: nvidia-smi: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		mib, perr := strconv.ParseFloat(line, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("detect GPUs: nvidia-smi printed %q: %w", line, perr)
		}
		count++
		// With GPUs of different sizes, report the smallest: fractions
		// computed from it fit on every device.
		if gb := mib / 1024; count == 1 || gb < memGB {
			memGB = gb
		}
	}
	return count, memGB, nil
}

// Nodes implements runtime.Runtime: the live nodes.
func (r *Runtime) Nodes(context.Context) ([]stage.Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stage.Node
	for _, n := range r.nodes {
		if !n.lost {
			out = append(out, n.node)
		}
	}
	return out, nil
}

// WatchNodes implements runtime.Runtime. Membership changes only through
// LoseNode and AddNode.
func (r *Runtime) WatchNodes(ctx context.Context, fn func(runtime.NodeEvent)) error {
	r.mu.Lock()
	r.watchSeq++
	id := r.watchSeq
	r.watchers[id] = fn
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		delete(r.watchers, id)
		r.mu.Unlock()
	})
	return nil
}

// RequiresDescriptors implements runtime.Runtime: true when actors are
// built from their descriptors (Options.Registry).
func (r *Runtime) RequiresDescriptors() bool { return r.opts.Registry != nil }

// emit delivers ev to every watcher, one event at a time.
func (r *Runtime) emit(ev runtime.NodeEvent) {
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.mu.Lock()
	fns := make([]func(runtime.NodeEvent), 0, len(r.watchers))
	for _, fn := range r.watchers {
		fns = append(fns, fn)
	}
	r.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// LoseNode makes the runtime lose a virtual node, as if its machine had
// died: in-flight calls of its actors fail at once with a *DiedError
// (reason lost; the stage's goroutine is abandoned and its context
// cancelled), later calls fail the same way, its actors' collective and
// shuffle peers see their transports close, Spawn and SetupNode on it fail
// with runtime.ErrNodeLost, Nodes no longer lists it, and watchers get a
// NodeLost event. It needs virtual nodes (Options.Nodes).
func (r *Runtime) LoseNode(id string) error {
	if !r.virtual {
		return errors.New("local runtime: LoseNode needs virtual nodes (Options.Nodes)")
	}
	r.mu.Lock()
	var n *nodeState
	for _, s := range r.nodes {
		if s.node.ID == id {
			n = s
		}
	}
	if n == nil || n.lost {
		r.mu.Unlock()
		return fmt.Errorf("local runtime: LoseNode %q: no such live node", id)
	}
	n.lost = true
	var victims []*actor
	for a := range r.actors {
		if a.worker.NodeID == id {
			victims = append(victims, a)
		}
	}
	r.mu.Unlock()
	for _, a := range victims {
		a.loseNode()
	}
	r.emit(runtime.NodeEvent{Kind: runtime.NodeLost, Node: n.node, Reason: "LoseNode"})
	return nil
}

// AddNode adds a virtual node and tells the watchers (NodeJoined). It needs
// virtual nodes (Options.Nodes); the id must be new.
func (r *Runtime) AddNode(n stage.Node) error {
	if !r.virtual {
		return errors.New("local runtime: AddNode needs virtual nodes (Options.Nodes)")
	}
	if n.ScratchDir == "" {
		n.ScratchDir = filepath.Join(r.opts.ScratchDir, n.ID)
	}
	if err := os.MkdirAll(n.ScratchDir, 0o755); err != nil {
		return fmt.Errorf("local runtime: AddNode %s: %w", n.ID, err)
	}
	r.mu.Lock()
	for _, s := range r.nodes {
		if s.node.ID == n.ID || n.ID == "" {
			r.mu.Unlock()
			return fmt.Errorf("local runtime: AddNode: node id %q is empty or taken", n.ID)
		}
	}
	r.nodes = append(r.nodes, &nodeState{node: n})
	r.mu.Unlock()
	r.emit(runtime.NodeEvent{Kind: runtime.NodeJoined, Node: n})
	return nil
}

// liveNode returns the live node id; an empty id means the first live node.
func (r *Runtime) liveNode(id string) (stage.Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nodes {
		if (n.node.ID == id || id == "") && !n.lost {
			return n.node, nil
		}
		if n.node.ID == id {
			return stage.Node{}, fmt.Errorf("node %s: %w", id, runtime.ErrNodeLost)
		}
	}
	return stage.Node{}, fmt.Errorf("node %q is unknown: %w", id, runtime.ErrNodeLost)
}

// crossSpec sends spec through its wire form when the runtime isolates.
func (r *Runtime) crossSpec(spec runtime.ActorSpec) (runtime.ActorSpec, error) {
	if !r.opts.Isolate {
		return spec, nil
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return spec, fmt.Errorf("encode actor spec: %w", err)
	}
	var out runtime.ActorSpec
	if err := json.Unmarshal(b, &out); err != nil {
		return spec, fmt.Errorf("decode actor spec: %w", err)
	}
	out.Stage = spec.Stage // the prototype stays in this process (used without a registry)
	return out, nil
}

// SetupNode implements runtime.Runtime.
func (r *Runtime) SetupNode(ctx context.Context, spec runtime.ActorSpec, node stage.Node) error {
	spec, err := r.crossSpec(spec)
	if err != nil {
		return err
	}
	n, err := r.liveNode(node.ID)
	if err != nil {
		return err
	}
	inst, err := spec.Build(r.opts.Registry)
	if err != nil {
		return err
	}
	w := r.worker(spec, n)
	return protect("setup_on_node", func() error { return inst.SetupOnNode(ctx, n, &w) })
}

// worker makes the actor's Worker on node n: its own copy of the spec, the
// node's scratch directory and a logger.
func (r *Runtime) worker(spec runtime.ActorSpec, n stage.Node) stage.Worker {
	w := stage.Worker{WorkerSpec: spec.Worker.Clone()}
	w.NodeID = n.ID
	if w.ScratchDir == "" {
		w.ScratchDir = n.ScratchDir
	}
	w.Logger = r.opts.Logger.With("stage", w.StageName, "actor", w.ID, "node", n.ID)
	return w
}

// Spawn implements runtime.Runtime.
func (r *Runtime) Spawn(_ context.Context, spec runtime.ActorSpec) (runtime.Actor, error) {
	spec, err := r.crossSpec(spec)
	if err != nil {
		return nil, err
	}
	n, err := r.liveNode(spec.Worker.NodeID)
	if err != nil {
		return nil, fmt.Errorf("spawn actor %s: %w", spec.Worker.ID, err)
	}
	inst, err := spec.Build(r.opts.Registry)
	if err != nil {
		return nil, err
	}
	a := &actor{rt: r, worker: r.worker(spec, n), inst: inst, lost: make(chan struct{}), measureNext: true}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("local runtime is closed")
	}
	r.actors[a] = struct{}{}
	return a, nil
}

// Close implements runtime.Runtime: it stops every actor still running
// (their Teardown runs, their shuffle engines and spill files go).
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	actors := make([]*actor, 0, len(r.actors))
	for a := range r.actors {
		actors = append(actors, a)
	}
	r.mu.Unlock()
	var errs []error
	for _, a := range actors {
		errs = append(errs, a.Stop(context.Background()))
	}
	return errors.Join(errs...)
}

func (r *Runtime) forget(a *actor) {
	r.mu.Lock()
	delete(r.actors, a)
	r.mu.Unlock()
}

// copyTasks gives an abandonable call its own copies of ts, through the
// task codecs. A task type without a codec is shared, with a warning.
func (r *Runtime) copyTasks(ts []task.Task) []task.Task {
	if len(ts) == 0 {
		return ts
	}
	b, err := r.wire.Tasks.MarshalList(ts)
	if err == nil {
		var c []task.Task
		if c, err = r.wire.Tasks.UnmarshalList(b); err == nil {
			return c
		}
	}
	r.opts.Logger.Warn("cannot copy the tasks of a call with a deadline; the stage gets the caller's own", "err", err)
	return ts
}

// protect runs fn, turning a panic into an error.
func protect(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %w", what, runtime.Recovered(p))
		}
	}()
	return fn()
}

// measureThreshold is the CPU time above which an actor keeps measuring its
// calls: two reads of the thread clock cost about 1-3 µs here, so calls of
// at least 100 µs pay at most a few percent for being measured.
const measureThreshold = 100 * time.Microsecond

// sampleEvery: an actor whose calls are too short to measure still measures
// one call in this many, to notice when they become long (at 1024 the
// samples cost well under 1% of the shortest calls).
const sampleEvery = 1024

// warmupCalls: an actor measures its first calls whatever their length.
const warmupCalls = 8
