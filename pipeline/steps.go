package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Step is a pipeline item that the driver runs between two runs of the
// executor: a workflow of several phases over all of its input, such as
// exact or fuzzy deduplication. A pipeline with steps is a sequence of
// segments — runs of stages — and steps: each segment runs on a fresh
// executor, its outputs go to the step after it, and the step's outputs are
// the next segment's initial tasks. The executor never sees a step.
//
// A step works on files. When the stage before it outputs document
// batches, Build puts the step's spool stage (SpoolStage) there, which
// writes them under the step's work directory and outputs the files; when
// the stage after it takes document batches, Build puts the step's read
// stage (ReadStage) there, which reads the files the step outputs. Between
// two steps the files pass as they are.
//
// A step is also a stage.Stage, so that a registry can build it from YAML;
// its ProcessBatch is never called.
type Step interface {
	stage.Stage
	// SpoolStage returns the stage, named name, that writes the documents
	// reaching the step into files in dir and outputs them as file groups.
	SpoolStage(name, dir string) (stage.Stage, error)
	// ReadStage returns the stage, named name, that reads the file groups
	// the step outputs into document batches.
	ReadStage(name string) (stage.Stage, error)
	// RunStep runs the step over every task the segment before it produced
	// (file groups) and returns the tasks of the segment after it.
	RunStep(ctx context.Context, env StepEnv, in []task.Task) (*StepResult, error)
}

// StepEnv is what the driver hands a step.
type StepEnv struct {
	// Runtime runs the step's actors; Executor configures its executors
	// (the pipeline's settings, without the failed-task manifest: a step
	// has no failures to tolerate, so any failure fails the step).
	Runtime  runtime.Runtime
	Executor executor.Config
	Logger   *slog.Logger
	// WorkDir is the step's own directory, CACHE/<step name>; the spool
	// stage writes into WorkDir/input.
	WorkDir string
}

// StepResult is what a step did.
type StepResult struct {
	// Out are the tasks for the stages after the step (file groups).
	Out []task.Task
	// DocumentsIn counts the documents the step read, DocumentsOut those
	// it passed on; the difference is what it removed.
	DocumentsIn, DocumentsOut int64
	// Stages are the executor reports of the step's phases, in order.
	Stages []executor.StageReport
	// Nodes are what the step's phases ran on each node.
	Nodes []executor.NodeReport
}

// Roles of the stages Build inserts around steps.
const (
	roleSpool = "spool"
	roleRead  = "read"
)

// SetCache sets the directory under which steps work, each in
// CACHE/<step name> (the spool of its input, its outputs and its
// intermediates). The default is the directory of the pipeline's first
// writer followed by _cache, as `sluice dedup` keeps its cache in
// OUTPUT/_cache. It takes effect at the next Build.
func (p *Pipeline) SetCache(dir string) *Pipeline {
	p.cache = dir
	p.built, p.stages, p.outputsPrepared = false, nil, false
	return p
}

// Cache returns the cache directory steps work under ("" before Build or
// without steps).
func (p *Pipeline) Cache() string { return p.usedCache }

// asStep returns s's Step implementation, looking through stage.With.
func asStep(s stage.Stage) (Step, bool) {
	st, ok := stage.Unwrap(s).(Step)
	return st, ok
}

// hasSteps reports whether the built pipeline holds a step.
func (p *Pipeline) hasSteps() bool {
	return slices.ContainsFunc(p.stages, func(s stage.Stage) bool { _, ok := asStep(s); return ok })
}

// insertStepStages puts each step's spool stage before it (when the stage
// before outputs document batches) and its read stage after it (when the
// stage after takes document batches but not file groups), and records the
// steps' work directories.
func (p *Pipeline) insertStepStages(stages []stage.Stage) ([]stage.Stage, error) {
	p.roles, p.workDirs, p.usedCache = map[string]string{}, map[string]string{}, ""
	var out []stage.Stage
	for i, s := range stages {
		st, ok := asStep(s)
		if !ok {
			out = append(out, s)
			continue
		}
		cache, err := p.cacheDir(stages)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.Name(), err)
		}
		dir := filepath.Join(cache, s.Name())
		p.workDirs[s.Name()] = dir
		if n := len(out); n > 0 && slices.Contains(out[n-1].Outputs().Kinds, task.KindDocumentBatch) {
			sp, err := st.SpoolStage(s.Name()+"_spool", filepath.Join(dir, "input"))
			if err != nil {
				return nil, fmt.Errorf("step %s: spool stage: %w", s.Name(), err)
			}
			p.roles[sp.Name()] = roleSpool
			out = append(out, sp)
		}
		out = append(out, s)
		if i+1 < len(stages) {
			in := stages[i+1].Inputs().Kinds
			if slices.Contains(in, task.KindDocumentBatch) && !slices.Contains(in, task.KindFileGroup) {
				rd, err := st.ReadStage(s.Name() + "_read")
				if err != nil {
					return nil, fmt.Errorf("step %s: read stage: %w", s.Name(), err)
				}
				p.roles[rd.Name()] = roleRead
				out = append(out, rd)
			}
		}
	}
	return out, nil
}

// cacheDir is the directory steps work under: the one set, or the first
// writer's directory followed by _cache.
func (p *Pipeline) cacheDir(stages []stage.Stage) (string, error) {
	if p.usedCache != "" {
		return p.usedCache, nil
	}
	p.usedCache = p.cache
	if p.usedCache == "" {
		for _, s := range stages {
			if o, ok := stage.Unwrap(s).(dataio.OutputStage); ok {
				p.usedCache = dataio.JoinPath(o.OutputTarget().Dir, "_cache")
				break
			}
		}
	}
	if p.usedCache == "" {
		return "", errors.New("a step needs a cache directory for its files, and the pipeline has no writer to put one in: set cache: DIR at the top of the pipeline file (sluice run --cache DIR)")
	}
	if dataio.IsURL(p.usedCache) {
		// Steps spool, spill and keep their phases on local disk.
		return "", fmt.Errorf("a step's cache must be a local directory, not %s: set cache: DIR at the top of the pipeline file (sluice run --cache DIR); readers and writers may still use s3://", p.usedCache)
	}
	return p.usedCache, nil
}

// Runner is what Execute runs a pipeline with: a runtime, and the
// configuration of the executors it creates (one per segment).
type Runner struct {
	Runtime runtime.Runtime
	Config  executor.Config
}

// Result is what Execute did.
type Result struct {
	// Out are the last segment's outputs (or the last step's).
	Out []task.Task
	// Report has one row per stage of every segment, and for each step a
	// row of its own followed by the rows of its phases' stages (named
	// STEP/STAGE), in order.
	Report executor.Report
	// Failed are the tasks that failed permanently.
	Failed []*task.Failed
	// Records accounts for the documents (see Records).
	Records Records
}

// Execute builds the pipeline if needed, prepares its outputs unless that
// was done, and runs it: each segment of stages on a fresh executor, each
// step in the driver. A pipeline without steps runs exactly as Run runs it.
//
// A step needs all of its input: when tasks of the segment before a step
// fail (even within MaxFailedFraction), the run stops before the step with
// the segment's *executor.TasksFailedError. After the run the documents are
// accounted for (Result.Records); when a step's counts disagree with the
// stages around it, Execute returns an error.
func (p *Pipeline) Execute(ctx context.Context, r Runner, initial []task.Task) (*Result, error) {
	if !p.built {
		if err := p.Build(); err != nil {
			return nil, err
		}
	}
	if !p.outputsPrepared {
		if err := p.PrepareOutputs(r.Config.Logger); err != nil {
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
	run := &segmentRun{p: p, r: r, res: &Result{Report: executor.Report{Mode: r.Config.Mode}}, steps: map[string]*StepResult{}}
	if run.res.Report.Mode == "" {
		run.res.Report.Mode = executor.Streaming
	}
	start, cpu0 := time.Now(), executor.ProcessCPU()
	err := run.all(ctx, initial)
	run.res.Report.Wall, run.res.Report.CPU = time.Since(start), executor.ProcessCPU()-cpu0
	var tfe *executor.TasksFailedError
	if err == nil || errors.As(err, &tfe) {
		rec, aerr := p.account(run.res, run.steps)
		run.res.Records = rec
		if aerr != nil && err == nil {
			err = aerr
		}
	}
	if err == nil {
		err = p.markComplete(ctx)
	}
	return run.res, err
}

// segmentRun is one Execute.
type segmentRun struct {
	p     *Pipeline
	r     Runner
	res   *Result
	steps map[string]*StepResult
}

// all runs the segments and steps in order.
func (s *segmentRun) all(ctx context.Context, tasks []task.Task) error {
	var seg []stage.Stage
	for _, st := range s.p.stages {
		step, ok := asStep(st)
		if !ok {
			seg = append(seg, st)
			continue
		}
		out, err := s.segment(ctx, seg, tasks, true)
		if err != nil {
			return err
		}
		seg = nil
		if tasks, err = s.step(ctx, st.Name(), step, out); err != nil {
			return err
		}
	}
	out, err := s.segment(ctx, seg, tasks, false)
	s.res.Out = out
	return err
}

// segment runs stages over tasks on a fresh executor. With no stages the
// tasks pass through; with no tasks (a step kept nothing) nothing runs.
// Before a step, failed tasks stop the run.
func (s *segmentRun) segment(ctx context.Context, stages []stage.Stage, tasks []task.Task, beforeStep bool) ([]task.Task, error) {
	if len(stages) == 0 || len(tasks) == 0 {
		return tasks, nil
	}
	ex := executor.New(s.r.Runtime, s.r.Config)
	out, err := ex.Execute(ctx, stages, tasks)
	rep := ex.Report()
	s.res.Report.Stages = append(s.res.Report.Stages, rep.Stages...)
	s.res.Report.AddNodes(rep.Nodes)
	s.res.Report.Failed += rep.Failed
	s.res.Failed = append(s.res.Failed, ex.FailedTasks()...)
	var tfe *executor.TasksFailedError
	if errors.As(err, &tfe) && beforeStep {
		return out, fmt.Errorf("%w; the run stopped before the next step, which needs all of its input", err)
	}
	return out, err
}

// step runs one step in the driver.
func (s *segmentRun) step(ctx context.Context, name string, st Step, in []task.Task) ([]task.Task, error) {
	cfg := s.r.Config
	cfg.FailedManifest, cfg.MaxFailedFraction, cfg.Stages = "", 0, nil
	env := StepEnv{Runtime: s.r.Runtime, Executor: cfg, Logger: cfg.Logger, WorkDir: s.p.workDirs[name]}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	env.Logger.Info("step starting", "step", name, "tasks", len(in), "work_dir", env.WorkDir)
	t0, c0 := time.Now(), executor.ProcessCPU()
	res, err := st.RunStep(ctx, env, in)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", name, err)
	}
	s.steps[name] = res
	row := executor.StageReport{Name: name, Kind: "step", Actors: 0, TasksIn: int64(len(in)), TasksOut: int64(len(res.Out)),
		ItemsIn: res.DocumentsIn, ItemsOut: res.DocumentsOut, Wall: time.Since(t0), CPU: executor.ProcessCPU() - c0}
	s.res.Report.Stages = append(s.res.Report.Stages, row)
	for _, r := range res.Stages {
		r.Name = name + "/" + r.Name
		s.res.Report.Stages = append(s.res.Report.Stages, r)
	}
	s.res.Report.AddNodes(res.Nodes)
	env.Logger.Info("step finished", "step", name, "documents_in", res.DocumentsIn, "documents_out", res.DocumentsOut)
	return res.Out, nil
}
