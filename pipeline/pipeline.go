// Package pipeline assembles stages into a runnable pipeline: it expands
// composite stages, checks that each stage can consume what the previous
// one produces, describes the result, and hands it to an executor. It also
// loads pipelines from YAML files (see LoadFile).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// maxCompositeDepth bounds the nesting of composites, so that a composite
// that decomposes into itself is reported instead of recursing forever.
const maxCompositeDepth = 16

// Executor runs a list of stages over initial tasks. *executor.Executor
// implements it.
type Executor interface {
	Execute(ctx context.Context, stages []stage.Stage, initial []task.Task) ([]task.Task, error)
}

var _ Executor = (*executor.Executor)(nil)

// RenamableComposite is implemented by composites that name their parts
// after themselves. A composite built by a stage.Registry is wrapped by
// stage.With to carry the name from its descriptor; when that name differs
// from the composite's own, Build calls Rename with it before decomposing,
// so that the parts of two readers named "read_a" and "read_b" do not clash.
type RenamableComposite interface {
	stage.Composite
	Rename(name string) stage.Composite
}

// Pipeline is a named, ordered list of stages and composites. Build it with
// New and Build; run it with Run.
type Pipeline struct {
	name   string
	items  []any
	stages []stage.Stage
	built  bool
	// outputsPrepared is set by PrepareOutputs, so that Run does not
	// prepare the outputs again.
	outputsPrepared bool
	// outputDirs are the writers' directories, marked complete
	// (dataio.MarkComplete) when a run succeeds.
	outputDirs []string

	// cache is the directory set for steps (SetCache), usedCache the one
	// Build chose; workDirs maps each step to its directory and roles the
	// stages Build inserted around steps to "spool" or "read".
	cache, usedCache string
	workDirs         map[string]string
	roles            map[string]string
}

// New returns a pipeline named name over stages, each a stage.Stage or a
// stage.Composite, in execution order. Nothing is checked until Build.
func New(name string, stages ...any) *Pipeline {
	return &Pipeline{name: name, items: stages}
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// Add appends stages (stage.Stage or stage.Composite values) and marks the
// pipeline as needing a new Build.
func (p *Pipeline) Add(stages ...any) *Pipeline {
	p.items = append(p.items, stages...)
	p.built, p.stages, p.outputsPrepared = false, nil, false
	return p
}

// Stages returns the execution stages after Build, composites expanded.
func (p *Pipeline) Stages() []stage.Stage { return slices.Clone(p.stages) }

// Build expands composites and checks the pipeline:
//
//   - every item is a stage.Stage or a stage.Composite, and there is at least one stage;
//   - stage names are non-empty and unique;
//   - when a stage declares the task kinds it outputs and the next stage
//     declares the kinds it accepts, the two lists share a kind;
//   - every column a stage requires is output by an earlier stage (its
//     declared Outputs().Columns); stages that pass batches through need not
//     redeclare columns.
//
// Around each Step it puts the step's spool and read stages where needed
// (see Step), and gives the step its work directory under the cache
// (SetCache).
//
// A composite wrapped by stage.With (as a registry builds it) may carry a
// new name, which is passed to RenamableComposite.Rename, and env
// overrides, which are applied to every part. Resource, batch-size and
// worker overrides cannot be applied to a composite and are an error.
func (p *Pipeline) Build() error {
	var stages []stage.Stage
	for i, item := range p.items {
		ss, err := expand(item, 0)
		if err != nil {
			return fmt.Errorf("pipeline %s: item %d: %w", p.name, i, err)
		}
		stages = append(stages, ss...)
	}
	if len(stages) == 0 {
		return fmt.Errorf("pipeline %s: no stages", p.name)
	}
	stages, err := p.insertStepStages(stages)
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	if err := check(stages); err != nil {
		return fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	p.stages, p.built = stages, true
	return nil
}

// expand returns the execution stages of one pipeline item.
func expand(item any, depth int) ([]stage.Stage, error) {
	if depth > maxCompositeDepth {
		return nil, fmt.Errorf("composites nested more than %d deep", maxCompositeDepth)
	}
	switch v := item.(type) {
	case nil:
		return nil, errors.New("nil stage")
	case stage.Stage:
		c, ok := stage.Unwrap(v).(stage.Composite)
		if !ok {
			return []stage.Stage{v}, nil
		}
		return expandWrapped(v, c, depth)
	case stage.Composite:
		return decompose(v, depth)
	default:
		return nil, fmt.Errorf("%T is neither a stage.Stage nor a stage.Composite", item)
	}
}

// decompose expands a composite, recursively.
func decompose(c stage.Composite, depth int) ([]stage.Stage, error) {
	parts, err := c.Decompose()
	if err != nil {
		return nil, fmt.Errorf("composite %s: decompose: %w", c.Name(), err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("composite %s: decomposed into no stages", c.Name())
	}
	var out []stage.Stage
	for _, s := range parts {
		ss, err := expand(s, depth+1)
		if err != nil {
			return nil, fmt.Errorf("composite %s: %w", c.Name(), err)
		}
		out = append(out, ss...)
	}
	return out, nil
}

// expandWrapped expands composite c that outer wraps with stage.With.
func expandWrapped(outer stage.Stage, c stage.Composite, depth int) ([]stage.Stage, error) {
	inner := stage.Unwrap(outer)
	if outer.Resources() != inner.Resources() || outer.BatchSize() != inner.BatchSize() || outer.NumWorkers() != inner.NumWorkers() {
		return nil, fmt.Errorf("stage %s is a composite: resources, batch_size and num_workers cannot be set on it", outer.Name())
	}
	if outer.Name() != c.Name() {
		r, ok := c.(RenamableComposite)
		if !ok {
			return nil, fmt.Errorf("composite %s cannot be renamed to %s", c.Name(), outer.Name())
		}
		c = r.Rename(outer.Name())
	}
	parts, err := decompose(c, depth)
	if err != nil {
		return nil, err
	}
	if env := outer.Env(); !maps.Equal(env, inner.Env()) {
		for i, s := range parts {
			parts[i] = stage.With(s, stage.WithEnv(env))
		}
	}
	return parts, nil
}

// check validates names, kinds and columns of the expanded stages.
func check(stages []stage.Stage) error {
	seen := make(map[string]int, len(stages))
	for i, s := range stages {
		name := s.Name()
		if name == "" {
			return fmt.Errorf("stage %d (%s) has no name", i, typeName(s))
		}
		if j, dup := seen[name]; dup {
			return fmt.Errorf("duplicate stage name %q (stages %d and %d)", name, j, i)
		}
		seen[name] = i
	}
	available := make(map[string]bool)
	for i, s := range stages {
		in := s.Inputs()
		if i > 0 {
			prev := stages[i-1]
			out := prev.Outputs()
			if len(out.Kinds) > 0 && len(in.Kinds) > 0 && !intersects(out.Kinds, in.Kinds) {
				return fmt.Errorf("stage %s accepts task kinds %s, but the stage before it, %s, outputs %s",
					s.Name(), strings.Join(in.Kinds, ", "), prev.Name(), strings.Join(out.Kinds, ", "))
			}
		}
		var missing []string
		for _, c := range in.Columns {
			if !available[c] {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("stage %s requires columns %s that no earlier stage outputs (available: %s)",
				s.Name(), strings.Join(missing, ", "), strings.Join(sortedKeys(available), ", "))
		}
		for _, c := range s.Outputs().Columns {
			available[c] = true
		}
	}
	return nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return []string{"none"}
	}
	return slices.Sorted(maps.Keys(m))
}

// typeName is the registry type of s when a registry built it, else its Go type.
func typeName(s stage.Stage) string {
	if d, ok := stage.DescriptorOf(s); ok {
		return d.Type
	}
	return fmt.Sprintf("%T", stage.Unwrap(s))
}

// Describe returns a readable listing of the built pipeline, one line per
// stage: position, name, type, kind, resources, batch size, workers and the
// declared inputs and outputs. It builds the pipeline first if needed; a
// pipeline that fails to build is described by its error.
func (p *Pipeline) Describe() string {
	var b strings.Builder
	if !p.built {
		if err := p.Build(); err != nil {
			return "pipeline " + p.name + ": " + err.Error() + "\n"
		}
	}
	fmt.Fprintf(&b, "pipeline %s: %d stages\n", p.name, len(p.stages))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tname\ttype\tkind\tresources\tbatch\tworkers\tinputs\toutputs")
	for i, s := range p.stages {
		workers := "auto"
		if n := s.NumWorkers(); n > 0 {
			workers = fmt.Sprint(n)
		}
		batch := s.BatchSize()
		if batch <= 0 {
			batch = 1
		}
		kind := s.Kind().String()
		if _, ok := asStep(s); ok {
			kind = "step"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", i, s.Name(), typeName(s), kind,
			describeResources(s.Resources()), batch, workers, describeSpec(s.Inputs()), describeSpec(s.Outputs()))
	}
	_ = tw.Flush()
	return b.String()
}

func describeResources(r stage.Resources) string {
	parts := []string{fmt.Sprintf("cpus=%g", r.CPUs)}
	if r.GPUs > 0 {
		parts = append(parts, fmt.Sprintf("gpus=%g", r.GPUs))
	}
	if r.GPUMemoryGB > 0 {
		parts = append(parts, fmt.Sprintf("gpu_mem=%gGB", r.GPUMemoryGB))
	}
	return strings.Join(parts, ",")
}

func describeSpec(s stage.Spec) string {
	kinds := "any"
	if len(s.Kinds) > 0 {
		kinds = strings.Join(s.Kinds, "|")
	}
	if len(s.Columns) > 0 {
		return kinds + "[" + strings.Join(s.Columns, ",") + "]"
	}
	return kinds
}

// Preflighter is implemented by stages that can check, before any work
// starts, what would otherwise fail only once the run reaches them, such as
// a reader whose input paths do not exist. Preflight must not write
// anything.
type Preflighter interface {
	Preflight(ctx context.Context) error
}

// Preflight calls Preflight on every stage that implements Preflighter
// (looking through stage.With wrappers), in order, and returns the first
// error, naming its stage. Run does not call it: a caller that does can
// tell a configuration error (say, exit code 2) from a failed run.
func (p *Pipeline) Preflight(ctx context.Context) error {
	if !p.built {
		if err := p.Build(); err != nil {
			return err
		}
	}
	for _, st := range p.stages {
		if pf, ok := stage.Unwrap(st).(Preflighter); ok {
			if err := pf.Preflight(ctx); err != nil {
				return fmt.Errorf("stage %s: %w", st.Name(), err)
			}
		}
	}
	return nil
}

// Run builds the pipeline if needed, prepares its outputs (PrepareOutputs)
// unless that was done, and executes it with exec. With no
// initial tasks it starts from a single task.Empty, as source stages (such
// as jsonl_reader) expect. The initial tasks are checked against the first
// stage's declared inputs. Run returns what exec.Execute returns; with an
// *executor.Executor, a run in which some tasks failed within the allowed
// fraction returns the outputs together with an *executor.TasksFailedError.
func (p *Pipeline) Run(ctx context.Context, exec Executor, initial []task.Task) ([]task.Task, error) {
	if !p.built {
		if err := p.Build(); err != nil {
			return nil, err
		}
	}
	if p.hasSteps() {
		return nil, fmt.Errorf("pipeline %s has steps, which run in the driver between runs of the executor: run it with Execute", p.name)
	}
	if !p.outputsPrepared {
		if err := p.PrepareOutputs(nil); err != nil {
			return nil, err
		}
	}
	if len(initial) == 0 {
		initial = []task.Task{task.NewEmpty()}
	}
	first := p.stages[0]
	if err := first.Inputs().Check(first.Name(), initial); err != nil {
		return nil, fmt.Errorf("pipeline %s: initial tasks: %w", p.name, err)
	}
	out, err := exec.Execute(ctx, p.Stages(), initial)
	if err != nil {
		return out, err
	}
	return out, p.markComplete(ctx)
}

// markComplete commits the writers' output directories (dataio.MarkComplete)
// after a successful run.
func (p *Pipeline) markComplete(ctx context.Context) error {
	for _, dir := range p.outputDirs {
		if err := dataio.MarkComplete(ctx, dir); err != nil {
			return fmt.Errorf("pipeline %s: %w", p.name, err)
		}
	}
	return nil
}
