// Package observe shows a run while it happens: periodic progress lines in
// the log (for batch jobs without a terminal), Prometheus metrics and a live
// dashboard served over HTTP.
//
// A Monitor is the executor's Observer (executor.Config.Observer). It reads
// the executor's own figures (executor.Snapshot, the same that make the
// final Report), so that progress lines, metrics and the dashboard agree
// with the summary; it counts nothing itself. One Monitor follows every
// Execute of a command, such as the five phases of fuzzy deduplication.
package observe

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-data/sluice/executor"
)

// Run states of a Monitor.
const (
	StateRunning     = "running"
	StateSucceeded   = "succeeded"
	StateFailed      = "failed"
	StateInterrupted = "interrupted"
)

// Limits of what a Monitor keeps in memory.
const (
	maxEvents   = 200 // recent events
	maxFailed   = 200 // failed tasks' manifest entries
	maxPoints   = 512 // points per stage history, before halving
	sampleEvery = time.Second
)

// Options configures a Monitor.
type Options struct {
	// Title names the run on the dashboard, such as "sluice run p.yaml".
	Title string
	// Log, if set, is the ring of recent log lines the dashboard shows.
	Log *LogRing
	// History keeps per-stage figures over time (for the dashboard's
	// charts), sampled every second while Start's context lives.
	History bool
}

// Monitor follows the Executes of one command. It implements
// executor.Observer and executor.PhaseObserver. Its methods are safe for
// concurrent use.
type Monitor struct {
	opts    Options
	started time.Time

	mu       sync.Mutex
	cur      *executor.Executor
	curPhase string
	execs    []execRecord // finished Executes
	phases   []phaseRecord
	events   []executor.Event
	evCount  map[executor.EventKind]int
	failed   []executor.ManifestEntry
	nFailed  int
	history  map[string]*series // by stage key
	state    string
	errText  string
	finished time.Time
	result   json.RawMessage
	// counters keeps the largest value each counter has shown, so that a
	// counter whose estimate moves down (CPU of unmeasured calls) never
	// goes backwards.
	counters map[string]float64
}

// execRecord is a finished Execute: its last snapshot and the phase it
// belonged to.
type execRecord struct {
	phase string
	snap  executor.Snapshot
}

type phaseRecord struct {
	executor.Phase
	start time.Time
}

// series is one stage's figures over time.
type series struct {
	Stage  string  `json:"stage"`
	Phase  string  `json:"phase,omitempty"`
	Points []point `json:"points"`
}

// point is one sample: seconds since the monitor started, tasks done,
// items in and out, live and busy actors.
type point struct {
	T        float64 `json:"t"`
	Done     int64   `json:"done"`
	ItemsIn  int64   `json:"items_in"`
	ItemsOut int64   `json:"items_out"`
	Actors   int     `json:"actors"`
	Busy     int     `json:"busy"`
}

// NewMonitor returns a monitor for one command's run.
func NewMonitor(opts Options) *Monitor {
	return &Monitor{opts: opts, started: time.Now(), state: StateRunning,
		evCount: make(map[executor.EventKind]int), history: make(map[string]*series), counters: make(map[string]float64)}
}

// Start samples the run's history until ctx ends (with Options.History).
func (m *Monitor) Start(ctx context.Context) {
	if !m.opts.History {
		return
	}
	go func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
}

// Begin implements executor.Observer.
func (m *Monitor) Begin(ex *executor.Executor) {
	m.mu.Lock()
	m.cur = ex
	m.mu.Unlock()
}

// End implements executor.Observer: the Execute's final figures are kept.
func (m *Monitor) End(ex *executor.Executor, _ error) {
	snap := ex.Snapshot()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == ex {
		m.cur = nil
	}
	m.execs = append(m.execs, execRecord{phase: m.curPhase, snap: snap})
	if m.opts.History {
		m.addPointsLocked(len(m.execs)-1, m.curPhase, snap)
	}
}

// Event implements executor.Observer.
func (m *Monitor) Event(ev executor.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evCount[ev.Kind]++
	if ev.Kind == executor.EventTaskFailed && ev.Entry != nil {
		m.nFailed++
		if len(m.failed) < maxFailed {
			m.failed = append(m.failed, *ev.Entry)
		}
		ev.Entry = nil // the failed list holds it
	}
	if len(m.events) == maxEvents {
		copy(m.events, m.events[1:])
		m.events = m.events[:maxEvents-1]
	}
	m.events = append(m.events, ev)
}

// Phase implements executor.PhaseObserver.
func (m *Monitor) Phase(p executor.Phase) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.phases {
		if m.phases[i].Index == p.Index && m.phases[i].Name == p.Name {
			m.phases[i].Phase = p
			if p.State != executor.PhaseRunning && m.curPhase == p.Name {
				m.curPhase = ""
			}
			return
		}
	}
	m.phases = append(m.phases, phaseRecord{Phase: p, start: time.Now()})
	if p.State == executor.PhaseRunning {
		m.curPhase = p.Name
	}
}

// Finish records how the run ended: StateSucceeded, StateFailed or
// StateInterrupted, with the error if any. The dashboard keeps showing the
// final state.
func (m *Monitor) Finish(state string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state, m.finished = state, time.Now()
	if err != nil {
		m.errText = err.Error()
	}
}

// SetResult attaches the run's summary (any JSON value), which the
// dashboard shows once the run is over.
func (m *Monitor) SetResult(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.result = b
	m.mu.Unlock()
}

// current returns the live Execute, the phase it belongs to and the
// finished ones.
func (m *Monitor) current() (*executor.Executor, string, []execRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur, m.curPhase, m.execs
}

// phaseLabel is "2/5 minhash" for the running phase, or "".
func (m *Monitor) phaseLabel() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.phases) - 1; i >= 0; i-- {
		if p := m.phases[i]; p.State == executor.PhaseRunning {
			return itoa(p.Index) + "/" + itoa(p.Total) + " " + p.Name
		}
	}
	return ""
}

// sample appends the live Execute's figures to the history.
func (m *Monitor) sample() {
	ex, phase, execs := m.current()
	if ex == nil {
		return
	}
	snap := ex.Snapshot()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == ex { // not ended meanwhile (End adds the final point)
		m.addPointsLocked(len(execs), phase, snap)
	}
}

func (m *Monitor) addPointsLocked(exec int, phase string, snap executor.Snapshot) {
	t := time.Since(m.started).Seconds()
	for _, s := range snap.Stages {
		if s.State == executor.StageWaiting {
			continue
		}
		key := stageKey(exec, s.Name)
		ser := m.history[key]
		if ser == nil {
			// The series starts at the stage's first task, with nothing done.
			ser = &series{Stage: s.Name, Phase: phase, Points: []point{{T: max(s.Started.Sub(m.started).Seconds(), 0)}}}
			m.history[key] = ser
		}
		if len(ser.Points) >= maxPoints {
			// Keep every other point: a long run keeps its whole shape.
			half := ser.Points[:0]
			for i := 0; i < len(ser.Points); i += 2 {
				half = append(half, ser.Points[i])
			}
			ser.Points = half
		}
		ser.Points = append(ser.Points, point{T: t, Done: s.TasksDone, ItemsIn: s.ItemsIn, ItemsOut: s.ItemsOut, Actors: s.ActorsLive, Busy: s.ActorsBusy})
	}
}

// stageKey identifies a stage of one Execute.
func stageKey(exec int, name string) string { return itoa(exec) + "/" + name }

// monotonic returns v, or the largest value key has had.
func (m *Monitor) monotonicLocked(key string, v float64) float64 {
	if old, ok := m.counters[key]; ok && old > v {
		return old
	}
	m.counters[key] = v
	return v
}

func itoa(i int) string { return strconv.Itoa(i) }
