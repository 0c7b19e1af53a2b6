// Package stage defines what a processing stage is: the Stage interface, the
// resources it asks for, the special kinds (shuffle, collective, LSH), the
// per-actor Worker context, overrides with With, composite stages, and the
// Registry that builds a stage from a type name and a config.
//
// A stage value is a prototype. The executor never calls its methods that do
// work; each actor gets its own instance (NewInstance in this process, or
// Registry.Build from the stage's Descriptor in another), set up once with
// Setup, fed batches with ProcessBatch, and torn down with Teardown. Keep
// per-actor state in fields that Setup assigns; actors share nothing, so a
// stage reports what it did with Count and learns of retries with Attempt.
package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/task"
)

// Stage is one processing step of a pipeline.
type Stage interface {
	// Name identifies the stage in a pipeline; names are unique per pipeline.
	Name() string
	// Resources is what one actor of the stage needs.
	Resources() Resources
	// BatchSize is how many tasks one ProcessBatch call receives. Zero means 1.
	BatchSize() int
	// NumWorkers, when positive, overrides the executor's actor count.
	NumWorkers() int
	// Env holds environment variables for the stage's actors.
	Env() map[string]string
	// Kind tells the executor how to run the stage.
	Kind() Kind
	// Inputs and Outputs declare the task kinds and columns the stage needs and produces.
	Inputs() Spec
	Outputs() Spec
	// SetupOnNode runs once per node per stage, before any actor of the stage starts there.
	SetupOnNode(ctx context.Context, node Node, w *Worker) error
	// Setup runs once per actor, before its first batch.
	Setup(ctx context.Context, w *Worker) error
	// ProcessBatch turns a batch of tasks into output tasks. Returning no
	// tasks filters the input. An error fails the batch; the executor retries
	// it, unless the error is marked with Permanent.
	ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error)
	// Teardown runs once per actor that was set up, on every exit path.
	Teardown(ctx context.Context) error
}

// Kind is how the executor runs a stage.
type Kind uint8

// Stage kinds.
const (
	// Plain stages map each batch to outputs, with ids derived positionally.
	Plain Kind = iota
	// FanOut stages turn one input into many outputs (ids parent_i).
	FanOut
	// Shuffle stages implement ShuffleStage: insert, insertFinished, extractAndWrite.
	Shuffle
	// Collective stages get a rank, a group size and a Communicator before Setup,
	// and receive one contiguous chunk of the tasks per actor.
	Collective
	// LSH stages are shuffle stages run once per range of bands (LSHStage).
	LSH
)

var kindNames = [...]string{Plain: "plain", FanOut: "fan-out", Shuffle: "shuffle", Collective: "collective", LSH: "lsh"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// IsBarrier reports whether the stage needs all its input before it can start.
func (k Kind) IsBarrier() bool { return k == Shuffle || k == Collective || k == LSH }

// Spec declares what a stage needs or produces. Empty fields mean "anything".
type Spec struct {
	// Kinds lists the accepted (or produced) task kinds, such as task.KindDocumentBatch.
	Kinds []string
	// Columns lists the DocumentBatch columns required (or added).
	Columns []string
}

// Check returns an error naming every requirement of in that tasks do not meet.
func (in Spec) Check(stageName string, tasks []task.Task) error {
	for _, t := range tasks {
		if len(in.Kinds) > 0 && !slices.Contains(in.Kinds, t.Kind()) {
			return fmt.Errorf("stage %s: task %s has kind %s, want one of %s", stageName, t.ID(), t.Kind(), strings.Join(in.Kinds, ", "))
		}
		if b, ok := t.(*task.DocumentBatch); ok && len(in.Columns) > 0 {
			if err := b.RequireColumns(in.Columns...); err != nil {
				return fmt.Errorf("stage %s: %w", stageName, err)
			}
		}
	}
	return nil
}

// Node describes one machine (or worker process) that runs actors. It is
// JSON-encodable: a networked runtime's workers advertise themselves with it.
type Node struct {
	ID   string  `json:"id"`
	CPUs float64 `json:"cpus"`
	// GPUs is the number of GPU devices, numbered from 0 on the node.
	GPUs float64 `json:"gpus,omitempty"`
	// GPUMemoryGB is the memory of one GPU, used to turn GPUMemoryGB requests into fractions.
	GPUMemoryGB float64 `json:"gpu_memory_gb,omitempty"`
	// ScratchDir is local disk for spills and intermediates.
	ScratchDir string `json:"scratch_dir,omitempty"`
}

// WorkerSpec is the plain-data part of what an actor knows about itself: the
// part that crosses to the process that runs the actor (JSON-encoded). The
// executor fills it, except ScratchDir, which the runtime sets on the
// actor's node. Each actor has its own copy (see Clone): nothing in it is
// shared between actors.
type WorkerSpec struct {
	// ID is the actor's id, unique within a run.
	ID string `json:"id"`
	// NodeID is the node the actor runs on.
	NodeID string `json:"node_id"`
	// StageName is the name of the stage the actor runs.
	StageName string `json:"stage_name"`
	// Rank and Size place the actor in its group (collective and shuffle stages); 0 and 1 otherwise.
	Rank int `json:"rank"`
	Size int `json:"size"`
	// Iteration is the pass an actor of a multi-pass stage (kind LSH, see
	// LSHStage) belongs to, counted from 0; 0 for every other stage.
	Iteration int `json:"iteration,omitempty"`
	// DeviceIDs are the GPUs of the actor's node assigned to the actor (the
	// CUDA_VISIBLE_DEVICES counterpart).
	DeviceIDs []int `json:"device_ids,omitempty"`
	// Env is the merged environment of the executor config and the stage.
	Env map[string]string `json:"env,omitempty"`
	// ScratchDir is local disk on the actor's node that the actor may use.
	ScratchDir string `json:"scratch_dir,omitempty"`
}

// Clone returns a deep copy of w (its own Env map and DeviceIDs slice).
func (w WorkerSpec) Clone() WorkerSpec {
	w.Env = maps.Clone(w.Env)
	w.DeviceIDs = slices.Clone(w.DeviceIDs)
	return w
}

// Worker is what an actor knows about itself: its WorkerSpec plus the live
// handles the runtime makes on the actor's side. The handles never cross a
// process boundary. The runtime fills Worker before SetupOnNode and Setup.
type Worker struct {
	WorkerSpec
	// Comm is the group communicator of a collective stage; nil otherwise.
	Comm collective.Communicator
	// Shuffle is the actor's endpoint of a shuffle stage; nil otherwise.
	Shuffle *ShuffleEndpoint
	// Logger logs with the actor's attributes.
	Logger *slog.Logger
}

// Base implements every Stage method except ProcessBatch with defaults, and
// holds the common settings. Embed it in a stage struct:
//
//	type Upper struct{ stage.Base }
//	func (u *Upper) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) { ... }
type Base struct {
	StageName string
	Res       Resources
	Batch     int
	Workers   int
	EnvVars   map[string]string
	StageKind Kind
	In, Out   Spec
}

// Name implements Stage.
func (b *Base) Name() string { return b.StageName }

// Resources implements Stage. The zero value asks for one CPU.
func (b *Base) Resources() Resources {
	if b.Res == (Resources{}) {
		return Resources{CPUs: 1}
	}
	return b.Res
}

// BatchSize implements Stage.
func (b *Base) BatchSize() int { return b.Batch }

// NumWorkers implements Stage.
func (b *Base) NumWorkers() int { return b.Workers }

// Env implements Stage.
func (b *Base) Env() map[string]string { return b.EnvVars }

// Kind implements Stage.
func (b *Base) Kind() Kind { return b.StageKind }

// Inputs implements Stage.
func (b *Base) Inputs() Spec { return b.In }

// Outputs implements Stage.
func (b *Base) Outputs() Spec { return b.Out }

// SetupOnNode implements Stage; it does nothing.
func (b *Base) SetupOnNode(context.Context, Node, *Worker) error { return nil }

// Setup implements Stage; it does nothing.
func (b *Base) Setup(context.Context, *Worker) error { return nil }

// Teardown implements Stage; it does nothing.
func (b *Base) Teardown(context.Context) error { return nil }

// mergeEnv returns base overlaid with over, calling warn for each key over changes.
func mergeEnv(base, over map[string]string, warn func(key, old, new string)) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = make(map[string]string, len(over))
	}
	for k, v := range over {
		if old, ok := out[k]; ok && old != v && warn != nil {
			warn(k, old, v)
		}
		out[k] = v
	}
	return out
}

// MergeEnv overlays the stage's env on the executor's, warning via logger for
// every variable the stage overrides.
func MergeEnv(executorEnv, stageEnv map[string]string, stageName string, logger *slog.Logger) map[string]string {
	return mergeEnv(executorEnv, stageEnv, func(k, old, v string) {
		if logger != nil {
			logger.Warn("stage overrides an environment variable", "stage", stageName, "var", k, "executor_value", old, "stage_value", v)
		}
	})
}

// permanentError marks an error that no retry can cure.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent wraps err to tell the executor that retrying the batch cannot
// succeed (for example, malformed input under a fail-fast policy): its tasks
// fail at once, without further attempts. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
