package executor

import (
	"time"

	"github.com/sluice-data/sluice/task"
)

// Observer watches runs as they happen (Config.Observer). Progress lines,
// metrics and the dashboard read a run through it: at any moment
// Executor.Snapshot gives the same figures the final Report will hold, so
// nothing is counted twice. The executor calls the methods from its own
// goroutines; they must return quickly and must not call back into the
// executor except through Snapshot and Report.
type Observer interface {
	// Begin is called when Execute has set up its stages, before any work;
	// from then on ex.Snapshot reads the run live.
	Begin(ex *Executor)
	// End is called when Execute returns, with its error; ex.Report and
	// ex.Snapshot are final.
	End(ex *Executor, err error)
	// Event reports a retry, an actor death, a failed set-up or a task
	// that failed permanently.
	Event(ev Event)
}

// PhaseObserver is an Observer that also follows the phases of a
// multi-phase workflow (such as fuzzy deduplication's minhash, lsh, ...),
// each of which runs one or more Executes. See ReportPhase.
type PhaseObserver interface {
	Phase(p Phase)
}

// ReportPhase tells o about a workflow phase, if o follows phases.
func ReportPhase(o Observer, p Phase) {
	if po, ok := o.(PhaseObserver); ok {
		po.Phase(p)
	}
}

// PhaseState is where a workflow phase stands.
type PhaseState string

// Phase states.
const (
	PhaseRunning PhaseState = "running"
	PhaseDone    PhaseState = "done"
	// PhaseResumed: the phase's outputs came from a cache; nothing ran.
	PhaseResumed PhaseState = "resumed"
	PhaseFailed  PhaseState = "failed"
)

// Phase is one phase of a workflow.
type Phase struct {
	// Workflow names the workflow, such as "dedup fuzzy".
	Workflow string `json:"workflow"`
	// Name is the phase's name; Index counts from 1 to Total; Plan names
	// every phase of the workflow, in order.
	Name  string     `json:"name"`
	Index int        `json:"index"`
	Total int        `json:"total"`
	Plan  []string   `json:"plan,omitempty"`
	State PhaseState `json:"state"`
	// Wall and CPU are what the phase took, once it is done.
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"`
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	// EventRetry: a batch (or a barrier stage) is tried again.
	EventRetry EventKind = "retry"
	// EventActorDeath: an actor panicked, timed out or was lost with its
	// node; it is replaced.
	EventActorDeath EventKind = "actor_death"
	// EventSetupFailure: an actor's set-up failed.
	EventSetupFailure EventKind = "setup_failure"
	// EventTaskFailed: a task failed permanently; Entry is its line in the
	// failed-task manifest.
	EventTaskFailed EventKind = "task_failed"
)

// Event is one incident of a run.
type Event struct {
	Kind  EventKind `json:"kind"`
	Stage string    `json:"stage"`
	Actor string    `json:"actor,omitempty"`
	Node  string    `json:"node,omitempty"`
	// Task is the first task of the batch concerned.
	Task string `json:"task,omitempty"`
	// Reason is how an actor died (panic, timeout, lost, cancelled).
	Reason  string         `json:"reason,omitempty"`
	Error   string         `json:"error,omitempty"`
	Attempt int            `json:"attempt,omitempty"`
	At      time.Time      `json:"at"`
	Entry   *ManifestEntry `json:"entry,omitempty"`
}

// StageState is where a stage stands in a run.
type StageState string

// Stage states.
const (
	StageWaiting StageState = "waiting"
	StageRunning StageState = "running"
	StageDone    StageState = "done"
)

// Snapshot is a run's state at one moment: per stage, per node and per
// live actor.
type Snapshot struct {
	Mode    Mode          `json:"mode"`
	Running bool          `json:"running"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Stages  []StageStatus `json:"stages"`
	Nodes   []NodeStatus  `json:"nodes"`
	// Actors lists the actors placed and not yet stopped.
	Actors []ActorStatus `json:"actors"`
	// FailedTasks counts the tasks that failed permanently so far.
	FailedTasks int `json:"failed_tasks"`
}

// StageStatus is one stage's figures now: its report row so far, plus what
// only a running stage has.
type StageStatus struct {
	StageReport
	State StageState `json:"state"`
	// Started is when the stage received its first task.
	Started time.Time `json:"started"`
	// TasksDone counts input tasks whose batch finished (done or failed).
	TasksDone int64 `json:"tasks_done"`
	// TasksTotal is the number of input tasks the stage will process when
	// TotalKnown (its input is complete or was given up front); otherwise
	// the tasks received so far.
	TasksTotal int64 `json:"tasks_total"`
	TotalKnown bool  `json:"total_known"`
	// ActorsLive is the actors set up and not stopped; ActorsBusy those in
	// a call now.
	ActorsLive int `json:"actors_live"`
	ActorsBusy int `json:"actors_busy"`
	// Queued is the tasks waiting in the queue in front of the stage
	// (streaming mode); Pending the batches handed to its actors and not
	// finished (plain stages).
	Queued  int `json:"queued"`
	Pending int `json:"pending"`
}

// NodeStatus is one node's figures now.
type NodeStatus struct {
	NodeReport
	CPUs        float64 `json:"cpus"`
	GPUs        float64 `json:"gpus"`
	GPUMemoryGB float64 `json:"gpu_memory_gb,omitempty"`
	// CPUsBooked is the CPUs the node's live actors asked for.
	CPUsBooked float64 `json:"cpus_booked"`
	// Actors is the live actors placed on the node.
	Actors int `json:"actors"`
}

// ActorStatus is one live actor.
type ActorStatus struct {
	ID    string `json:"id"`
	Stage string `json:"stage"`
	Node  string `json:"node"`
	// State is "starting" (placed, set-up not finished), "idle" or "busy".
	State string `json:"state"`
	// BusySince is when its current call started (zero when not busy).
	BusySince time.Time     `json:"busy_since,omitzero"`
	Calls     int64         `json:"calls"`
	CPU       time.Duration `json:"cpu_ns"`
}

// Snapshot returns the state of the current (or last) Execute. It is safe
// to call from any goroutine at any time; before the first Execute it is
// empty.
func (e *Executor) Snapshot() Snapshot {
	e.mu.Lock()
	runs, l, start, running, failed := e.runs, e.ledger, e.started, e.running, len(e.failed)
	e.mu.Unlock()
	s := Snapshot{Mode: e.cfg.Mode, Running: running, Started: start, FailedTasks: failed}
	if start.IsZero() {
		return s
	}
	now := time.Now()
	if running {
		s.Elapsed = now.Sub(start)
	} else {
		s.Elapsed = e.Report().Wall
	}
	var handles []*actorHandle
	for _, r := range runs {
		s.Stages = append(s.Stages, r.status(now))
		r.handlesMu.Lock()
		handles = append(handles, r.handles...)
		r.handlesMu.Unlock()
	}
	for _, h := range handles {
		if h.stopped.Load() {
			continue
		}
		a := ActorStatus{ID: h.id, Stage: h.stage, Node: h.pl.node.ID, State: "idle", Calls: h.calls.Load(), CPU: h.use.cpu()}
		switch since := h.busySince.Load(); {
		case !h.tracked.Load():
			a.State = "starting"
		case since != 0:
			a.State, a.BusySince = "busy", time.Unix(0, since)
		}
		s.Actors = append(s.Actors, a)
	}
	if l != nil {
		s.Nodes = l.status(handles)
	}
	return s
}

// status is the stage's figures now.
func (r *stageRun) status(now time.Time) StageStatus {
	s := StageStatus{StageReport: r.report(), State: StageWaiting, TasksDone: r.bar.doneCount()}
	if t := r.firstStart.Load(); t > 0 {
		s.State, s.Started = StageRunning, time.Unix(0, t)
		if r.end.Load() > 0 {
			s.State = StageDone
		} else {
			s.Wall = now.Sub(s.Started)
		}
	}
	s.TasksTotal, s.TotalKnown = s.TasksIn, r.inputDone.Load()
	if exp := r.expected.Load(); exp > 0 {
		s.TasksTotal, s.TotalKnown = max(exp, s.TasksIn), true
	}
	r.handlesMu.Lock()
	for _, h := range r.handles {
		if h.tracked.Load() && !h.retired.Load() {
			s.ActorsLive++
			if h.busySince.Load() != 0 {
				s.ActorsBusy++
			}
		}
	}
	r.handlesMu.Unlock()
	if q := r.queue.Load(); q != nil {
		s.Queued = len(*q)
	}
	if p := r.runner.Load(); p != nil {
		p.mu.Lock()
		s.Pending = p.outstanding + p.retrying
		p.mu.Unlock()
	}
	return s
}

// emit hands ev to the observer, if any.
func (e *Executor) emit(ev Event) {
	if e.cfg.Observer == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	e.cfg.Observer.Event(ev)
}

// firstID is the id of the first task, or "".
func firstID(ts []task.Task) string {
	if len(ts) == 0 || ts[0] == nil {
		return ""
	}
	return ts[0].ID()
}
