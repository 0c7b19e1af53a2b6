// Package runtime defines the Runtime interface: the machinery an executor
// uses to place and run actors. The executor holds the scheduling logic (how
// many actors, which batches, retries, barriers); a Runtime supplies the
// mechanism (where an actor lives, how a call reaches it, how its group talks).
//
// One implementation exists today: runtime/local runs actors as goroutines in
// the current process. A runtime that runs actors in `sluice worker` processes
// joined through NATS (runtime/natsrt) is planned and not built yet; see
// docs/runtime.md. Stages never know which runtime runs them.
package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Runtime places actors on nodes and carries calls to them.
type Runtime interface {
	// Nodes returns every node with its total resources.
	Nodes(ctx context.Context) ([]stage.Node, error)
	// SetupNode runs the stage's SetupOnNode once on node, before any actor of
	// the stage starts there.
	SetupNode(ctx context.Context, spec ActorSpec, node stage.Node) error
	// Spawn creates an actor for spec.Stage on spec.Worker.NodeID. The actor is
	// not set up yet: call Actor.Setup.
	Spawn(ctx context.Context, spec ActorSpec) (Actor, error)
	// Close stops whatever the runtime started.
	Close() error
}

// ActorSpec says what an actor runs and where.
type ActorSpec struct {
	// Stage is the prototype; the runtime makes the actor's own instance of
	// it (stage.NewInstance) or, on another process, builds it from Descriptor.
	Stage stage.Stage
	// Descriptor describes Stage for runtimes that cross processes; the zero
	// value means the stage is not registered (local runtimes only).
	Descriptor stage.Descriptor
	// Worker is the actor's identity and context. Comm and Shuffle are filled
	// by the runtime from Group.
	Worker stage.Worker
}

// Group is how an actor joins its stage's group: a collective group
// (Communicator) or a shuffle (ShuffleEndpoint).
type Group struct {
	// Rendezvous is the id that the root actor created (Actor.CreateRendezvous).
	Rendezvous string
	Rank, Size int
	// NumPartitions is set for shuffles.
	NumPartitions int
	// MemoryLimit bounds the rows a shuffle actor buffers before spilling (bytes, 0 = unlimited).
	MemoryLimit int64
}

// Method selects what an actor call does.
type Method uint8

// Actor methods.
const (
	// Process runs ProcessBatch.
	Process Method = iota
	// Insert runs ShuffleStage.Insert; the call returns no tasks.
	Insert
	// InsertFinished runs ShuffleStage.InsertFinished.
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

// Actor is one stateful worker running one stage instance.
type Actor interface {
	// ID is the actor's id (stage.Worker.ID).
	ID() string
	// CreateRendezvous makes a new group rendezvous on this actor's node. The
	// executor asks the root actor (rank 0) for it and hands it to every actor.
	CreateRendezvous(ctx context.Context) (string, error)
	// Setup joins the group (when g is not nil) and runs the stage's Setup.
	Setup(ctx context.Context, g *Group) error
	// Call runs method on tasks. A stage error is returned as is; an actor
	// that died during the call (panic, timeout, lost process) returns a
	// *DiedError and must not be called again.
	Call(ctx context.Context, m Method, tasks []task.Task) ([]task.Task, error)
	// Stop tears the actor down (Teardown, if it was set up) and releases it.
	// It is safe to call more than once; later calls return nil.
	Stop(ctx context.Context) error
}

// DiedError reports an actor that died: its stage panicked, a call exceeded
// its timeout and the actor was abandoned, or its process was lost.
type DiedError struct {
	ActorID string
	// Reason is "panic", "timeout", "cancelled" (the call's context was
	// cancelled before its deadline) or "lost".
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
