// Package runtime defines the Runtime interface: the machinery an executor
// uses to place and run actors. The executor holds the scheduling logic (how
// many actors, on which node, which batches, retries, barriers); a Runtime
// supplies the mechanism (starting an actor on a node, carrying a call to it,
// letting its group talk, reporting nodes that come and go).
//
// Everything that crosses between the executor and an actor has a wire form,
// so that a runtime can run actors in other processes:
//
//   - what an actor runs: ActorSpec, whose wire form is the stage's
//     Descriptor plus a stage.WorkerSpec (JSON); the live stage value in
//     ActorSpec.Stage is for in-process runtimes only;
//   - how it joins its group: Group (JSON);
//   - the nodes: stage.Node and NodeEvent (JSON);
//   - calls and their results: CallMsg and ReplyMsg (binary, see Wire), with
//     the tasks in their codecs (stage.Registry.Codecs) and errors in the
//     ErrorCodec, which keeps DiedError, stage.Permanent, context.Canceled,
//     context.DeadlineExceeded and registered sentinels recognisable.
//
// Two implementations exist: runtime/local runs actors as goroutines in the
// current process (with an Isolate option that sends everything through the
// wire forms), and runtime/natsrt runs them in `sluice worker` processes
// joined through NATS; see docs/runtime.md. Stages never know which runtime
// runs them. The package runtime/runtimetest checks that a Runtime behaves
// as the executor expects.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Runtime places actors on nodes and carries calls to them. Its methods are
// safe for concurrent use.
type Runtime interface {
	// Nodes returns the live nodes with their total resources. The executor
	// reads them at the start of every Execute and follows WatchNodes after.
	Nodes(ctx context.Context) ([]stage.Node, error)
	// WatchNodes calls fn for every membership change (a node joined or was
	// lost) that happens after WatchNodes returns, in order, one at a time,
	// until ctx is done. fn must return quickly. A lost node's id is never
	// reused: a node that comes back joins under a new id.
	WatchNodes(ctx context.Context, fn func(NodeEvent)) error
	// RequiresDescriptors reports whether the runtime builds each actor's
	// stage from its Descriptor (because the actor lives in another
	// process). The executor then refuses, before spawning anything, a
	// pipeline with a stage that has none, naming the stage.
	RequiresDescriptors() bool
	// SetupNode runs the stage's SetupOnNode once on node, before any actor
	// of the stage starts there. On a node that is lost or unknown it
	// returns an error wrapping ErrNodeLost.
	SetupNode(ctx context.Context, spec ActorSpec, node stage.Node) error
	// Spawn creates an actor for the stage on spec.Worker.NodeID. The actor
	// is not set up yet: call Actor.Setup. On a node that is lost or unknown
	// it returns an error wrapping ErrNodeLost, and the executor places the
	// actor elsewhere.
	Spawn(ctx context.Context, spec ActorSpec) (Actor, error)
	// Close stops whatever the runtime started.
	Close() error
}

// Rejoiner is implemented by runtimes whose nodes can come back or be
// added while a job runs (natsrt: a worker that lost its lease rejoins as a
// new node within a second or two). When every node is lost, the executor
// waits up to RejoinWait for one to join before it fails what it was
// placing; without it (runtime/local) it fails at once.
type Rejoiner interface {
	RejoinWait() time.Duration
}

// ErrNodeLost is wrapped by errors that report a node that is gone (or was
// never known): Spawn and SetupNode on it, and the Err of a DiedError with
// reason DiedLost.
var ErrNodeLost = errors.New("node lost")

// NodeEventKind says what happened to a node.
type NodeEventKind string

// Node events.
const (
	// NodeJoined: a node joined; its resources may host actors.
	NodeJoined NodeEventKind = "joined"
	// NodeLost: a node is gone. Its in-flight calls fail with a DiedError
	// (reason DiedLost), its collective and shuffle peers see their
	// transports close, and no actor is spawned there again.
	NodeLost NodeEventKind = "lost"
)

// NodeEvent is a change in a runtime's membership. It is JSON-encodable.
type NodeEvent struct {
	Kind NodeEventKind `json:"kind"`
	Node stage.Node    `json:"node"`
	// Reason says why a node was lost ("disconnected", "lease expired", ...).
	Reason string `json:"reason,omitempty"`
}

// ActorSpec says what an actor runs and where.
//
// Its wire form (JSON) is the Descriptor and the Worker spec: the live stage
// value never crosses a process boundary, and neither does anything else
// that is not plain data (the logger, the communicator and the shuffle
// endpoint are made by the runtime on the actor's side, in stage.Worker).
type ActorSpec struct {
	// Stage is the prototype, for runtimes that run actors in this process:
	// they make the actor's own instance of it (stage.NewInstance). It is
	// not encoded.
	Stage stage.Stage `json:"-"`
	// Descriptor describes the stage for runtimes that build it from its
	// registered type (RequiresDescriptors); the zero value means the
	// stage is not registered.
	Descriptor stage.Descriptor `json:"descriptor"`
	// Worker is the actor's identity and context. Each spec holds its own
	// copy: nothing in it is shared with other actors.
	Worker stage.WorkerSpec `json:"worker"`
}

// HasDescriptor reports whether the spec describes a registered stage.
func (s ActorSpec) HasDescriptor() bool { return s.Descriptor.Type != "" }

// Build returns the actor's own stage instance. With a registry it builds
// the stage from the descriptor, as another process must (an error names
// the stage when there is none); without one it copies the prototype.
func (s ActorSpec) Build(reg *stage.Registry) (stage.Stage, error) {
	if reg == nil {
		if s.Stage == nil {
			return nil, fmt.Errorf("actor %s: the spec has no stage", s.Worker.ID)
		}
		return stage.NewInstance(s.Stage), nil
	}
	if !s.HasDescriptor() {
		return nil, fmt.Errorf("stage %s has no descriptor (it was not built from a registered stage type), so it cannot be built for actor %s", s.Worker.StageName, s.Worker.ID)
	}
	st, err := reg.Build(s.Descriptor)
	if err != nil {
		return nil, fmt.Errorf("actor %s: %w", s.Worker.ID, err)
	}
	return st, nil
}

// Group is how an actor joins its stage's group: a collective group
// (Communicator) or a shuffle (ShuffleEndpoint). It is JSON-encodable.
type Group struct {
	// Rendezvous is the id that the root actor created (Actor.CreateRendezvous).
	Rendezvous string `json:"rendezvous"`
	Rank       int    `json:"rank"`
	Size       int    `json:"size"`
	// NumPartitions is set for shuffles.
	NumPartitions int `json:"num_partitions,omitempty"`
	// MemoryLimit bounds the rows a shuffle actor buffers before spilling
	// (bytes, 0 = unlimited). Each rank's engine lives on its own node, under
	// that node's scratch directory.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
}

// Method selects what an actor call does.
type Method uint8

// Actor methods.
const (
	// Process runs ProcessBatch.
	Process Method = iota
	// Insert runs ShuffleStage.Insert; the call returns no tasks.
	Insert
	// InsertFinished runs ShuffleStage.InsertFinished, then flushes the
	// actor's shuffle sender and waits until every batch it sent has been
	// stored by its receiver. Once InsertFinished has returned on every rank,
	// every row of the shuffle is in its owner's engine.
	InsertFinished
	// ExtractAndWrite runs ShuffleStage.ExtractAndWrite.
	ExtractAndWrite
)

var methodNames = [...]string{Process: "process", Insert: "insert", InsertFinished: "insert_finished", ExtractAndWrite: "extract_and_write"}

// String returns the method's name.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", m)
}

// Call is one request to an actor.
type Call struct {
	Method Method
	// Tasks are the call's inputs. They are moved to the actor: see
	// Actor.Call for who owns them when.
	Tasks []task.Task
	// Attempt is the 1-based attempt number of the batch (stage.Attempt);
	// 0 means unknown.
	Attempt int
}

// Usage is what a call cost on the node that ran it.
type Usage struct {
	// CPU is the CPU time the call used, 0 when the runtime did not measure
	// it (the executor then counts the call's wall time). See the
	// runtime's documentation for what it covers.
	CPU time.Duration `json:"cpu_ns,omitempty"`
	// PeakRSS is the peak resident set size of the process that ran the
	// call, in bytes, as of the call's end; 0 when not measured.
	PeakRSS int64 `json:"peak_rss,omitempty"`
}

// Result is what a call returns.
type Result struct {
	// Tasks are the call's outputs: fresh, owned by the caller.
	Tasks []task.Task
	// Usage is the call's CPU time and its process's peak RSS.
	Usage Usage
	// Counts are the counters the stage reported with stage.Count.
	Counts map[string]int64
}

// Actor is one stateful worker running one stage instance.
type Actor interface {
	// ID is the actor's id (stage.Worker.ID).
	ID() string
	// CreateRendezvous makes a new group rendezvous. The executor asks the
	// root actor (rank 0) for it and hands it to every actor.
	CreateRendezvous(ctx context.Context) (string, error)
	// Setup joins the group (when g is not nil) and runs the stage's Setup.
	// When Setup returns, the actor can receive what its peers send (a
	// collective message, a shuffle batch), even before they have set up.
	Setup(ctx context.Context, g *Group) error
	// Call runs c.Method on c.Tasks.
	//
	// Ownership: the tasks are moved to the actor when the call starts; the
	// caller must not read or modify them while the call runs. The result's
	// tasks are fresh: the caller owns them, and neither the actor nor any
	// other call keeps a reference to them. If the call fails (a stage error
	// or a death), the caller owns c.Tasks again and may retry with them: a
	// runtime must hand them back as they were, which one that copies tasks
	// across a process boundary (or runtime/local with Isolate) does by
	// construction. runtime/local by default hands the caller's own tasks to
	// the stage, so a stage that modifies its inputs and then fails leaves
	// the modification for the retry; with a deadline it gives the stage
	// copies, so that an abandoned call never touches the retry's tasks.
	//
	// A stage error is returned as is (with a Result that may carry Usage
	// and Counts). An actor that died during the call (panic, timeout,
	// cancellation, lost node) returns a *DiedError and must not be called
	// again. The call's context carries its deadline; cancelling it abandons
	// the call (the actor dies, reason DiedTimeout or DiedCancelled), and
	// the runtime must make the cancellation reach the actor.
	Call(ctx context.Context, c Call) (Result, error)
	// Stop tears the actor down (Teardown, if it was set up) and releases it.
	// If an abandoned call still runs, Teardown waits for it to return,
	// never runs concurrently with it. Stop is safe to call more than once;
	// later calls return nil.
	Stop(ctx context.Context) error
}

// Reasons for an actor's death (DiedError.Reason).
const (
	// DiedPanic: the stage panicked.
	DiedPanic = "panic"
	// DiedTimeout: the call passed its deadline and was abandoned.
	DiedTimeout = "timeout"
	// DiedCancelled: the caller cancelled the call before its deadline (the
	// run is stopping).
	DiedCancelled = "cancelled"
	// DiedLost: the actor's node or process is gone.
	DiedLost = "lost"
)

// DiedError reports an actor that died: its stage panicked, a call exceeded
// its timeout and the actor was abandoned, or its process was lost.
type DiedError struct {
	ActorID string
	// Reason is DiedPanic, DiedTimeout, DiedCancelled or DiedLost.
	Reason string
	Err    error
}

func (e *DiedError) Error() string {
	return fmt.Sprintf("actor %s died (%s): %v", e.ActorID, e.Reason, e.Err)
}

func (e *DiedError) Unwrap() error { return e.Err }

// IsDied reports whether err says an actor died.
func IsDied(err error) bool {
	var d *DiedError
	return errors.As(err, &d)
}
