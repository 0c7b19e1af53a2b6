package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/report"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// PhaseSummary is what one phase did.
type PhaseSummary struct {
	Name string `json:"name"`
	// Resumed is true when the phase's outputs came from the cache.
	Resumed bool    `json:"resumed"`
	WallSec float64 `json:"wall_seconds"`
	// CPUSec is the CPU time of the phase's work: for a phase that runs on
	// the executor, its calls' CPU time as the nodes that ran them reported
	// it (executor.StageReport.CPU); for the driver's own phase (ids), the
	// head process's CPU time.
	CPUSec float64                `json:"cpu_seconds"`
	Stages []executor.StageReport `json:"stages,omitempty"`
}

// NodeSummary is what the calls of a whole workflow cost on one node.
type NodeSummary struct {
	ID           string  `json:"id"`
	Lost         bool    `json:"lost,omitempty"`
	Calls        int64   `json:"calls"`
	CPUSec       float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

// Runner runs a workflow's phases on the executor: each phase is one stage,
// built from the registry by type and config, so that another process can
// rebuild it from its descriptor.
type Runner struct {
	Runtime  runtime.Runtime
	Executor executor.Config
	Registry *stage.Registry
	Logger   *slog.Logger
	// MemoryLimit bounds a shuffle's buffered rows when the executor
	// configuration sets no bound of its own.
	MemoryLimit int64
	// Workflow names the workflow ("dedup fuzzy") and Plan its phases in
	// order (see PlanPhases): the log and the executor's observer
	// (Config.Observer: progress lines, metrics, the dashboard) say which
	// phase runs, as "phase 2/5 minhash".
	Workflow string
	Plan     []string

	lastStages []executor.StageReport // of the phase's Execute, nil for a driver-only phase
	nodes      []NodeSummary          // summed over the phases
}

// log returns the runner's logger, or one that discards.
func (r *Runner) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// LastStages returns the executor report of the last stage executed.
func (r *Runner) LastStages() []executor.StageReport { return r.lastStages }

// Phase runs fn unless dir holds a finished phase, and appends the phase's
// summary to phases; outputs are kept in dir/_DONE.json so that a later run
// can resume. A directory without _DONE.json (an interrupted phase) is
// removed and the phase starts clean.
func (r *Runner) Phase(phases *[]PhaseSummary, name, dir string, out *[]task.Task, fn func(dir string) ([]task.Task, error)) error {
	log := r.log()
	done := dataio.JoinPath(dir, "_DONE.json")
	ctx := context.Background()
	if b, err := dataio.ReadFile(ctx, done); err == nil {
		ts, err := decodeTasks(b)
		if err == nil {
			log.Info("resuming: phase already done in cache", "phase", name, "dir", dir)
			r.notePhase(executor.Phase{Name: name, State: executor.PhaseResumed})
			*phases = append(*phases, PhaseSummary{Name: name, Resumed: true})
			*out = ts
			return nil
		}
		log.Warn("cached phase marker unreadable; starting the phase clean", "phase", name, "err", err)
	}
	if _, err := dataio.Stat(ctx, dir); err == nil {
		log.Info("phase was interrupted earlier; starting it clean", "phase", name, "dir", dir)
		if err := dataio.RemoveTree(ctx, dir); err != nil {
			return err
		}
	}
	if err := dataio.MkdirAll(ctx, dir); err != nil {
		return err
	}
	r.lastStages = nil
	r.notePhase(executor.Phase{Name: name, State: executor.PhaseRunning})
	t0, c0 := time.Now(), executor.ProcessCPU()
	ts, err := fn(dir)
	if err != nil {
		r.notePhase(executor.Phase{Name: name, State: executor.PhaseFailed, Wall: time.Since(t0)})
		return fmt.Errorf("phase %s: %w", name, err)
	}
	ps := r.phaseSummary(name, time.Since(t0), executor.ProcessCPU()-c0)
	r.notePhase(ps.phase(executor.PhaseDone))
	*phases = append(*phases, ps)
	b, err := encodeTasks(ts)
	if err != nil {
		return err
	}
	if err := dataio.WriteFile(ctx, done, b); err != nil {
		return err
	}
	*out = ts
	return nil
}

// PlanPhases is the plan of a workflow whose phases are phases, then the
// removal phase when the run has one (see RemovalName).
func PlanPhases(c IO, phases ...string) []string {
	if name := RemovalName(c); name != "" {
		return append(phases, name)
	}
	return phases
}

// notePhase logs a phase that starts and tells the executor's observer,
// if any, where the workflow stands.
func (r *Runner) notePhase(p executor.Phase) {
	p.Workflow, p.Plan, p.Total = r.Workflow, r.Plan, len(r.Plan)
	p.Index = slices.Index(r.Plan, p.Name) + 1
	if p.State == executor.PhaseRunning {
		r.log().Info("phase starting", "phase", fmt.Sprintf("%d/%d %s", p.Index, p.Total, p.Name))
	}
	executor.ReportPhase(r.Executor.Observer, p)
}

// phase is the summary as an observer's phase.
func (p PhaseSummary) phase(state executor.PhaseState) executor.Phase {
	return executor.Phase{Name: p.Name, State: state, Wall: time.Duration(p.WallSec * float64(time.Second)), CPU: time.Duration(p.CPUSec * float64(time.Second))}
}

// Build makes a registered stage from its config, so that the stage can be
// rebuilt in another process from its descriptor.
func (r *Runner) Build(typ string, cfg any) (stage.Stage, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return r.Registry.Build(stage.Descriptor{Type: typ, Config: b})
}

// Execute runs one stage on the executor and keeps its report for the
// phase. Failed tasks make an error naming the first one's cause.
func (r *Runner) Execute(ctx context.Context, st stage.Stage, in []task.Task) ([]task.Task, error) {
	ec := r.Executor
	if ec.ShuffleMemoryLimit == 0 {
		ec.ShuffleMemoryLimit = r.MemoryLimit // the shuffle's bound, unless the executor sets one
	}
	ex := executor.New(r.Runtime, ec)
	out, err := ex.Execute(ctx, []stage.Stage{st}, in)
	rep := ex.Report()
	r.lastStages = rep.Stages
	r.addNodes(rep.Nodes)
	if err != nil {
		if failed := ex.FailedTasks(); len(failed) > 0 {
			return nil, FailedError(err, failed)
		}
		return nil, err
	}
	return out, nil
}

// phaseSummary sums a finished phase: the CPU time its calls reported on
// their nodes, or headCPU (the head process's) for a driver-only phase.
func (r *Runner) phaseSummary(name string, wall, headCPU time.Duration) PhaseSummary {
	p := PhaseSummary{Name: name, WallSec: wall.Seconds(), CPUSec: headCPU.Seconds(), Stages: r.lastStages}
	if r.lastStages != nil {
		p.CPUSec = 0
		for _, s := range r.lastStages {
			p.CPUSec += s.CPU.Seconds()
		}
	}
	return p
}

// addNodes adds one Execute's node reports to the workflow's.
func (r *Runner) addNodes(nodes []executor.NodeReport) {
	for _, n := range nodes {
		i := slices.IndexFunc(r.nodes, func(s NodeSummary) bool { return s.ID == n.ID })
		if i < 0 {
			r.nodes = append(r.nodes, NodeSummary{ID: n.ID})
			i = len(r.nodes) - 1
		}
		s := &r.nodes[i]
		s.Lost = s.Lost || n.Lost
		s.Calls += n.Calls
		s.CPUSec += n.CPU.Seconds()
		s.PeakRSSBytes = max(s.PeakRSSBytes, n.PeakRSS)
	}
}

type storedTask struct {
	ID    string            `json:"id"`
	Paths []string          `json:"paths"`
	Meta  map[string]string `json:"meta"`
}

func encodeTasks(ts []task.Task) ([]byte, error) {
	var st []storedTask
	for _, t := range ts {
		fg, ok := t.(*task.FileGroup)
		if !ok {
			return nil, fmt.Errorf("phase output %s is %s, want a file group", t.ID(), t.Kind())
		}
		st = append(st, storedTask{ID: fg.ID(), Paths: fg.Paths, Meta: fg.Meta()})
	}
	return json.MarshalIndent(st, "", "  ")
}

func decodeTasks(b []byte) ([]task.Task, error) {
	var st []storedTask
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	var ts []task.Task
	for _, s := range st {
		for _, p := range s.Paths {
			if _, err := dataio.Stat(context.Background(), p); err != nil {
				return nil, fmt.Errorf("cached output missing: %w", err)
			}
		}
		fg := &task.FileGroup{Header: task.Header{TaskID: s.ID, Metadata: s.Meta}, Paths: s.Paths}
		ts = append(ts, fg)
	}
	return ts, nil
}

// Run is one run of a workflow, as Begin set it up.
type Run struct {
	IO     IO
	Log    *slog.Logger
	Inputs *Inputs
	// Dst is the prepared output, Root the run's cache entry.
	Dst  *dataio.Output
	Root string
	// Runner runs the phases.
	Runner *Runner

	start time.Time
	cpu0  time.Duration
}

// Begin starts a run that started at start (CPU time cpu0): it checks the
// paths before anything is created, lists the inputs (cached, see
// Prepare), names the cache entry (entry returns its directory name, such
// as "mh-KEY", from InputKeyOf the inputs, each stat'ed once for the key
// and the marker), prepares the output, prunes stale cache entries and
// writes the entry's marker. r is the runner's template: its runtime,
// executor configuration, registry and memory limit.
func Begin(ctx context.Context, c IO, r Runner, cached **Inputs, entry func(inputKey string) string, start time.Time, cpu0 time.Duration) (*Run, error) {
	log := r.log()
	// Nothing is created before the paths are known to be safe.
	if err := CheckPaths(c); err != nil {
		return nil, err
	}
	in, err := Prepare(ctx, c, log, cached)
	if err != nil {
		return nil, err
	}
	inputs := StatInputs(in.Files)
	root := dataio.JoinPath(c.Cache, entry(InputKeyOf(inputs)))
	dst, err := PrepareOutput(c, in.Files, log)
	if err != nil {
		return nil, err
	}
	PruneCache(c.Cache, root, log)
	if err := WriteCacheEntry(root, inputs); err != nil {
		return nil, dataio.RejectOutput("--cache %s: cannot write the cache: %s", c.Cache, dataio.DescribeFSError(err))
	}
	r.Logger = log
	return &Run{IO: c, Log: log, Inputs: in, Dst: dst, Root: root, Runner: &r, start: start, cpu0: cpu0}, nil
}

// Ending points at the fields of a workflow's summary that End fills.
// CPUSec becomes the sum of Phases' CPU time (calls on every node, and the
// driver's own phases), HeadCPUSec the head process's CPU time, Nodes what
// the calls cost per node, and PeakRSSBytes the largest peak RSS of the
// head and of the processes that ran calls.
type Ending struct {
	CacheRemoved                *bool
	FinishedAt                  *string
	WallSec, CPUSec, HeadCPUSec *float64
	Nodes                       *[]NodeSummary
	Phases                      []PhaseSummary
	PeakRSSBytes                *int64
	// Audit and Report, when set: End writes OUTPUT/report.html, Report's
	// document (built once the times are filled), before summary.json, and
	// names it in Audit.Report.
	Audit  *Audit
	Report func() report.Doc
}

// End finishes a successful run: it removes the cache entry with
// --remove-cache, fills the summary's times, writes report.html (if e
// has a Report), and writes summary (the workflow's summary, whose fields
// e points at) as summary.json, last: its presence marks a finished run.
func (r *Run) End(summary any, e Ending) error {
	if r.IO.RemoveCache {
		if err := RemoveCacheEntry(r.IO.Cache, r.Root, r.Log); err != nil {
			return fmt.Errorf("--remove-cache: %w", err)
		}
		*e.CacheRemoved = true
	}
	*e.FinishedAt = time.Now().UTC().Format(time.RFC3339)
	*e.WallSec = time.Since(r.start).Seconds()
	*e.HeadCPUSec = (executor.ProcessCPU() - r.cpu0).Seconds()
	*e.CPUSec = 0
	for _, p := range e.Phases {
		*e.CPUSec += p.CPUSec
	}
	*e.Nodes = r.Runner.nodes
	*e.PeakRSSBytes = executor.PeakRSS()
	for _, n := range r.Runner.nodes {
		*e.PeakRSSBytes = max(*e.PeakRSSBytes, n.PeakRSSBytes)
	}
	if e.Report != nil {
		e.Audit.Report = dataio.JoinPath(r.IO.Output, "report.html")
		b, err := report.Render(e.Report())
		if err != nil {
			return fmt.Errorf("report.html: %w", err)
		}
		if err := WriteToOutput(r.Dst, "report.html", func(path string) error { return WriteFileAtomic(path, b) }); err != nil {
			return err
		}
	}
	return WriteSummary(r.Dst, summary)
}
