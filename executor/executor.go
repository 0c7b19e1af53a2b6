// Package executor runs pipelines of stages on pools of actors.
//
// For each stage the executor sizes a pool of actors from the stage's
// resource request and the cluster's free resources, feeds them batches of
// tasks (unordered, load-balanced, with backpressure), survives failing and
// dying actors, and tears every actor down on every exit path. Shuffle,
// collective and LSH stages are barriers with their own protocols. The
// executor never touches a stage instance: it reaches actors only through a
// runtime.Runtime, so the same code runs goroutines on one machine or
// processes across a cluster.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Executor runs stages on a Runtime. An Executor runs one Execute at a time.
type Executor struct {
	rt  runtime.Runtime
	cfg Config
	log *slog.Logger

	// ledger books the nodes' resources during an Execute; budget splits
	// them between the stages that stream at once (nil in stage-by-stage
	// mode).
	ledger *ledger
	budget *budget

	mu       sync.Mutex
	failed   []*task.Failed
	report   Report
	runs     []*stageRun
	abortErr error
	// started and running describe the current Execute, for Snapshot.
	started time.Time
	running bool
}

// New returns an executor that runs actors on rt.
func New(rt runtime.Runtime, cfg Config) *Executor {
	cfg.Mode = cfg.Mode.OrDefault()
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 50 * time.Millisecond
	}
	if cfg.MaxActorDeaths <= 0 {
		cfg.MaxActorDeaths = 3
	}
	if cfg.MaxSetupFailures <= 0 {
		cfg.MaxSetupFailures = 3
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 8
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 150 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Executor{rt: rt, cfg: cfg, log: log}
}

// TasksFailedError reports tasks that failed permanently in a run that
// otherwise completed (their share stayed within MaxFailedFraction). The
// failed tasks are in FailedTasks and the manifest.
type TasksFailedError struct {
	Failed int
	// ByStage counts the failed tasks per stage.
	ByStage map[string]int
}

func (e *TasksFailedError) Error() string {
	parts := make([]string, 0, len(e.ByStage))
	for _, st := range slices.Sorted(maps.Keys(e.ByStage)) {
		parts = append(parts, fmt.Sprintf("%d in stage %s", e.ByStage[st], st))
	}
	noun := "tasks"
	if e.Failed == 1 {
		noun = "task"
	}
	return fmt.Sprintf("%d %s failed permanently (%s)", e.Failed, noun, strings.Join(parts, ", "))
}

// ErrTooManyFailures is wrapped by the error that aborts a run whose failed
// tasks exceed MaxFailedFraction.
var ErrTooManyFailures = errors.New("too many failed tasks")

// Report returns the summary of the last Execute.
func (e *Executor) Report() Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.report
	r.Stages = slices.Clone(r.Stages)
	return r
}

// FailedTasks returns the tasks that failed permanently in the last Execute.
func (e *Executor) FailedTasks() []*task.Failed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.failed)
}

// Execute runs stages over initial and returns the outputs of the last
// stage. With no stages it returns nothing; with no initial tasks the first
// stage receives one task.Empty. On cancellation it stops dispatch, tears
// every actor down and returns what finished along with the context's error.
//
// Like runtime.Actor.Call, Execute takes ownership of initial: its tasks go
// to the actors (which may modify and return them), so a caller that needs
// them afterwards passes copies.
func (e *Executor) Execute(ctx context.Context, stages []stage.Stage, initial []task.Task) (out []task.Task, err error) {
	if len(stages) == 0 {
		return nil, nil
	}
	if len(initial) == 0 {
		initial = []task.Task{task.NewEmpty()}
	}
	if err := e.check(stages); err != nil {
		return nil, err
	}
	// Follow the membership from before the nodes are listed, so that no
	// change is missed; a node lost meanwhile stays lost.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	e.mu.Lock()
	e.ledger = newLedger()
	e.mu.Unlock()
	if err := e.rt.WatchNodes(wctx, e.onNodeEvent); err != nil {
		return nil, fmt.Errorf("executor: watch nodes: %w", err)
	}
	nodes, err := e.rt.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("executor: list nodes: %w", err)
	}
	if len(nodes) == 0 {
		return nil, errors.New("executor: the runtime has no nodes")
	}
	for _, n := range nodes {
		e.ledger.join(n)
	}
	if cpus, _ := e.free(); cpus <= 0 {
		total, _ := e.ledger.totals()
		return nil, fmt.Errorf("executor: no free CPUs: the cluster has %g and %g are reserved", total, e.cfg.ReservedCPUs)
	}

	prog := newProgress(e.cfg.Progress, e.cfg.ProgressInterval)
	runs := make([]*stageRun, len(stages))
	for i, st := range stages {
		runs[i] = e.newStageRun(i, st)
		runs[i].bar = prog.addStage(runs[i].name())
	}
	start, cpu0 := time.Now(), ProcessCPU()
	e.mu.Lock()
	e.failed, e.abortErr = nil, nil
	e.runs, e.started, e.running = runs, start, true
	e.mu.Unlock()
	if e.cfg.Observer != nil {
		e.cfg.Observer.Begin(e)
	}
	defer func() {
		stopWatch()
		prog.finish()
		e.finishReport(runs, time.Since(start), ProcessCPU()-cpu0)
		if merr := e.writeManifest(); merr != nil {
			err = errors.Join(err, merr)
		}
		if err == nil {
			if f := e.failedSummary(); f != nil {
				err = f
			}
		}
		if e.cfg.Observer != nil {
			e.cfg.Observer.End(e, err)
		}
	}()

	if e.cfg.Mode == StageByStage {
		return e.runStageByStage(ctx, runs, initial)
	}
	if e.cfg.Mode != Streaming {
		return nil, fmt.Errorf("executor: unknown mode %q (want %q or %q)", e.cfg.Mode, Streaming, StageByStage)
	}
	return e.runStreaming(ctx, runs, initial)
}

// check validates the stages before anything starts: resource requests,
// unique names, and, on a runtime that builds stages from their registered
// type in other processes, a descriptor for every stage.
func (e *Executor) check(stages []stage.Stage) error {
	names := make(map[string]bool)
	var unregistered []string
	for _, st := range stages {
		if err := st.Resources().Validate(); err != nil {
			return fmt.Errorf("stage %s: %w", st.Name(), err)
		}
		if names[st.Name()] {
			return fmt.Errorf("stage name %q is used twice", st.Name())
		}
		names[st.Name()] = true
		if _, ok := stage.DescriptorOf(st); !ok {
			unregistered = append(unregistered, st.Name())
		}
	}
	if len(unregistered) > 0 && e.rt.RequiresDescriptors() {
		return fmt.Errorf("executor: this runtime runs actors in other processes and builds each stage from its registered type and config, "+
			"but stage %s was not built from a stage registry (it has no descriptor; build it with stage.Registry.Build, or use a pipeline file)",
			strings.Join(unregistered, ", "))
	}
	return nil
}

// free returns the CPUs and GPUs of the live nodes, less the reserved ones.
func (e *Executor) free() (cpus, gpus float64) {
	cpus, gpus = e.ledger.totals()
	return cpus - e.cfg.ReservedCPUs, max(gpus-e.cfg.ReservedGPUs, 0)
}

// runStageByStage runs one stage at a time over all of its input.
func (e *Executor) runStageByStage(ctx context.Context, runs []*stageRun, tasks []task.Task) ([]task.Task, error) {
	for _, r := range runs {
		if len(tasks) == 0 {
			return nil, fmt.Errorf("stage %s: no tasks to process (every task was filtered or failed upstream)", r.name())
		}
		var err error
		if r.st.Kind().IsBarrier() {
			tasks, err = e.runBarrier(ctx, r, tasks)
		} else {
			tasks, err = e.runPlainAll(ctx, r, tasks)
		}
		if err != nil {
			return tasks, e.abortCause(err)
		}
		if err := e.checkPolicy(r, true); err != nil {
			return tasks, err
		}
	}
	return tasks, nil
}

// runPlainAll runs a plain stage over a known list of tasks with the actor
// count of ActorCount.
func (e *Executor) runPlainAll(ctx context.Context, r *stageRun, tasks []task.Task) ([]task.Task, error) {
	res := r.st.Resources()
	cpus, gpus := e.free()
	bs := r.st.BatchSize()
	if bs <= 0 {
		e.log.Warn("batch size not set; using 1", "stage", r.name())
	}
	n, warn, err := ActorCount(len(tasks), bs, cpus, gpus, res.CPUs, res.GPUs, r.st.NumWorkers())
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", r.name(), err)
	}
	if warn != "" {
		e.log.Warn(warn, "stage", r.name())
	}
	in := make(chan task.Task)
	close(in)
	r.expected.Store(int64(len(tasks)))
	var out []task.Task
	// emit is only called by the stage's collector goroutine.
	err = e.runPlain(ctx, r, tasks, in, func() int { return n }, func(_ context.Context, t task.Task) error {
		out = append(out, t)
		return nil
	})
	r.markEnd()
	return out, err
}

// runStreaming runs every stage at once: plain stages connected by bounded
// queues, barrier stages collecting their whole input first.
func (e *Executor) runStreaming(ctx context.Context, runs []*stageRun, initial []task.Task) ([]task.Task, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := newBudget(e.free)
	defer e.useBudget(b)()
	chans := make([]chan task.Task, len(runs)+1)
	for i := range chans {
		size := e.cfg.QueueSize
		if size <= 0 && i < len(runs) {
			size = max(2*runs[i].st.BatchSize(), 4)
		}
		chans[i] = make(chan task.Task, max(size, 1))
		if i < len(runs) {
			runs[i].queue.Store(&chans[i])
		}
	}
	var out []task.Task
	var wg sync.WaitGroup
	errs := make([]error, len(runs)+2)
	// The initial tasks go to the first stage directly when it is a plain
	// stage (no hand-off through a queue); a barrier collects them from one.
	var pre []task.Task
	if runs[0].st.Kind().IsBarrier() {
		wg.Go(func() { // source
			defer close(chans[0])
			for _, t := range initial {
				select {
				case chans[0] <- t:
				case <-ctx.Done():
					return
				}
			}
		})
	} else {
		pre = initial
		runs[0].expected.Store(int64(len(initial)))
		close(chans[0])
	}
	for i, r := range runs {
		in, next := chans[i], chans[i+1]
		emit := func(ctx context.Context, t task.Task) error {
			select {
			case next <- t: // fast path: there is room
				return nil
			default:
			}
			select {
			case next <- t:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		if i == len(runs)-1 {
			// The last stage's outputs are the result: its single collector
			// (or barrier goroutine) appends them directly.
			emit = func(_ context.Context, t task.Task) error {
				out = append(out, t)
				return nil
			}
		}
		stagePre := pre
		if i > 0 {
			stagePre = nil
		}
		wg.Go(func() {
			defer close(next)
			var err error
			if r.st.Kind().IsBarrier() {
				err = e.streamBarrier(ctx, r, in, emit)
			} else {
				err = e.streamPlain(ctx, r, b, stagePre, in, emit)
			}
			if err == nil {
				err = e.checkPolicy(r, true)
			}
			if err != nil {
				errs[i] = err
				cancel(err)
				// Drain the input so upstream stages are not blocked forever.
				for range in {
				}
			}
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return out, e.abortCause(err)
	}
	if err := ctx.Err(); err != nil {
		return out, context.Cause(ctx)
	}
	return out, nil
}

// useBudget makes b the budget that GPU reclaims consult, until the
// returned function is called.
func (e *Executor) useBudget(b *budget) func() {
	e.mu.Lock()
	e.budget = b
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.budget = nil
		e.mu.Unlock()
	}
}

// streamPlain runs a plain stage in streaming mode, sharing the CPU budget
// with the stages running beside it.
func (e *Executor) streamPlain(ctx context.Context, r *stageRun, b *budget, pre []task.Task, in <-chan task.Task, emit func(context.Context, task.Task) error) error {
	// Wait for the first task before taking a share of the budget, so idle
	// downstream stages do not hold actors.
	if len(pre) == 0 {
		var first task.Task
		var ok bool
		select {
		case first, ok = <-in:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if !ok {
			return fmt.Errorf("stage %s: no tasks to process (every task was filtered or failed upstream)", r.name())
		}
		pre = []task.Task{first}
	}
	if r.st.BatchSize() <= 0 {
		e.log.Warn("batch size not set; using 1", "stage", r.name())
	}
	b.join(r)
	defer b.leave(r)
	defer r.markEnd()
	return e.runPlain(ctx, r, pre, in, func() int { return b.target(r) }, emit)
}

// streamBarrier collects a barrier stage's whole input, then runs it.
func (e *Executor) streamBarrier(ctx context.Context, r *stageRun, in <-chan task.Task, emit func(context.Context, task.Task) error) error {
	var tasks []task.Task
	for t := range in {
		tasks = append(tasks, t)
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if len(tasks) == 0 {
		return fmt.Errorf("stage %s: no tasks to process (every task was filtered or failed upstream)", r.name())
	}
	out, err := e.runBarrier(ctx, r, tasks)
	if err != nil {
		return err
	}
	for _, t := range out {
		if err := emit(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// recordFailed keeps a permanently failed task for the manifest.
func (e *Executor) recordFailed(f *task.Failed) error {
	e.mu.Lock()
	e.failed = append(e.failed, f)
	e.mu.Unlock()
	srcs, _ := task.Sources(f)
	e.log.Error("task failed permanently", "task", f.ID(), "stage", f.Stage, "records", task.DescribeSources(srcs), "attempts", len(f.Attempts), "err", f.Err)
	if e.cfg.Observer != nil {
		ent := e.manifestEntry(f)
		e.emit(Event{Kind: EventTaskFailed, Stage: f.Stage, Task: f.ID(), Error: f.Err, Attempt: len(f.Attempts), Entry: &ent})
	}
	return nil
}

// checkPolicy aborts the run when a stage's failed tasks exceed
// MaxFailedFraction of its input. With a fraction of 0 any failure aborts at
// once; otherwise the check is made when the stage's input is complete.
func (e *Executor) checkPolicy(r *stageRun, complete bool) error {
	failed := r.failed.Load()
	if failed == 0 {
		return nil
	}
	if e.cfg.MaxFailedFraction <= 0 || complete {
		in := r.tasksIn.Load()
		if e.cfg.MaxFailedFraction > 0 && float64(failed) <= e.cfg.MaxFailedFraction*float64(in) {
			return nil
		}
		allowed := "none may fail"
		if e.cfg.MaxFailedFraction > 0 {
			allowed = fmt.Sprintf("at most %g of them may fail", e.cfg.MaxFailedFraction*float64(in))
		}
		err := fmt.Errorf("stage %s: %d of %d tasks failed and max_failed_fraction %g says %s: %w", r.name(), failed, in, e.cfg.MaxFailedFraction, allowed, ErrTooManyFailures)
		e.mu.Lock()
		if e.abortErr == nil {
			e.abortErr = err
		}
		e.mu.Unlock()
		return err
	}
	return nil
}

// abortCause prefers the failure-policy error over the cancellations it caused.
func (e *Executor) abortCause(err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.abortErr != nil && errors.Is(err, context.Canceled) {
		return e.abortErr
	}
	return err
}

func (e *Executor) failedSummary() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.failed) == 0 {
		return nil
	}
	by := make(map[string]int)
	for _, f := range e.failed {
		by[f.Stage]++
	}
	return &TasksFailedError{Failed: len(e.failed), ByStage: by}
}

func (e *Executor) finishReport(runs []*stageRun, wall, headCPU time.Duration) {
	var handles []*actorHandle
	for _, r := range runs {
		r.handlesMu.Lock()
		handles = append(handles, r.handles...)
		r.handlesMu.Unlock()
	}
	rep := Report{Mode: e.cfg.Mode, Wall: wall, HeadCPU: headCPU, Nodes: e.ledger.report(handles)}
	for _, r := range runs {
		sr := r.report()
		rep.Failed += sr.Failed
		rep.CPU += sr.CPU
		rep.Stages = append(rep.Stages, sr)
	}
	for _, n := range rep.Nodes {
		rep.PeakRSS = max(rep.PeakRSS, n.PeakRSS)
	}
	e.mu.Lock()
	e.report, e.running = rep, false
	e.mu.Unlock()
}

// ProcessCPU is the CPU time (user + system) this process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS is this process's peak resident set size in bytes.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}
