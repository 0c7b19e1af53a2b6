package observe

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/version"
)

// State is the whole run at one moment, as /api/state serves it.
type State struct {
	Title    string    `json:"title"`
	Version  string    `json:"version"`
	State    string    `json:"state"`
	Error    string    `json:"error,omitempty"`
	Now      time.Time `json:"now"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// ElapsedSec is the run's wall time so far (or in all, once finished).
	ElapsedSec float64 `json:"elapsed_seconds"`
	// Phase is the running phase of a workflow, such as "2/5 minhash".
	Phase       string                   `json:"phase,omitempty"`
	Phases      []PhaseView              `json:"phases"`
	Stages      []StageView              `json:"stages"`
	Nodes       []executor.NodeStatus    `json:"nodes"`
	Actors      []executor.ActorStatus   `json:"actors"`
	Events      []executor.Event         `json:"events"`
	EventCounts map[string]int           `json:"event_counts"`
	Failed      []executor.ManifestEntry `json:"failed"`
	FailedCount int                      `json:"failed_count"`
	Log         []LogLine                `json:"log"`
	Process     ProcessView              `json:"process"`
	Result      json.RawMessage          `json:"result,omitempty"`
}

// PhaseView is one workflow phase; ElapsedSec is its wall time so far (or
// in all).
type PhaseView struct {
	executor.Phase
	ElapsedSec float64 `json:"elapsed_seconds"`
}

// StageView is one stage of one Execute: its live figures, the phase it
// belongs to, and its history.
type StageView struct {
	executor.StageStatus
	Phase string `json:"phase,omitempty"`
	// Exec numbers the Executes of the command from 0.
	Exec   int     `json:"exec"`
	Points []point `json:"points,omitempty"`
}

// ProcessView is the head process's resources.
type ProcessView struct {
	CPUSec       float64 `json:"cpu_seconds"`
	RSSBytes     int64   `json:"rss_bytes"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

// view is every Execute's figures so far.
type view struct {
	stages      []StageView
	nodes       []executor.NodeStatus
	actors      []executor.ActorStatus
	failedTasks int
}

// view reads the finished Executes and the live one.
func (m *Monitor) view() view {
	ex, phase, execs := m.current()
	var v view
	add := func(i int, ph string, snap executor.Snapshot) {
		for _, s := range snap.Stages {
			v.stages = append(v.stages, StageView{StageStatus: s, Phase: ph, Exec: i})
		}
		v.nodes = mergeNodes(v.nodes, snap.Nodes)
		v.failedTasks += snap.FailedTasks
	}
	for i, r := range execs {
		add(i, r.phase, r.snap)
	}
	if ex != nil {
		snap := ex.Snapshot()
		add(len(execs), phase, snap)
		v.actors = snap.Actors
	}
	return v
}

// mergeNodes adds one Execute's node figures to the sums: counts add up,
// peak RSS is the largest, resources and live actors are the latest.
func mergeNodes(sum, nodes []executor.NodeStatus) []executor.NodeStatus {
	for _, n := range nodes {
		i := slices.IndexFunc(sum, func(s executor.NodeStatus) bool { return s.ID == n.ID })
		if i < 0 {
			sum = append(sum, n)
			continue
		}
		s := &sum[i]
		s.Lost = s.Lost || n.Lost
		s.ActorsStarted += n.ActorsStarted
		s.Calls += n.Calls
		s.Tasks += n.Tasks
		s.ActorDeaths += n.ActorDeaths
		s.CPU += n.CPU
		s.PeakRSS = max(s.PeakRSS, n.PeakRSS)
		s.CPUs, s.GPUs, s.GPUMemoryGB, s.CPUsBooked, s.Actors = n.CPUs, n.GPUs, n.GPUMemoryGB, n.CPUsBooked, n.Actors
	}
	return sum
}

// State returns the run now, with the last logLines lines of the log.
func (m *Monitor) State(logLines int) State {
	v := m.view()
	now := time.Now()
	st := State{Title: m.opts.Title, Version: version.Short(), Now: now, Started: m.started,
		Phase: m.phaseLabel(), Stages: v.stages, Nodes: v.nodes, Actors: v.actors, Process: processView()}
	if m.opts.Log != nil {
		st.Log = m.opts.Log.Tail(logLines)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.State, st.Error, st.Finished, st.Result = m.state, m.errText, m.finished, m.result
	end := m.endLocked(now)
	st.ElapsedSec = end.Sub(m.started).Seconds()
	st.Phases = m.phaseViewsLocked(end)
	for i := range st.Stages {
		if ser := m.history[stageKey(st.Stages[i].Exec, st.Stages[i].Name)]; ser != nil {
			st.Stages[i].Points = slices.Clone(ser.Points)
		}
	}
	st.Events = slices.Clone(m.events)
	st.EventCounts = make(map[string]int, len(m.evCount))
	for k, n := range m.evCount {
		st.EventCounts[string(k)] = n
	}
	st.Failed, st.FailedCount = slices.Clone(m.failed), m.nFailed
	return st
}

// endLocked is when the run finished, or now.
func (m *Monitor) endLocked(now time.Time) time.Time {
	if !m.finished.IsZero() {
		return m.finished
	}
	return now
}

// phaseViewsLocked lists the phases with their wall time up to end.
func (m *Monitor) phaseViewsLocked(end time.Time) []PhaseView {
	out := make([]PhaseView, 0, len(m.phases))
	for _, p := range m.phases {
		pv := PhaseView{Phase: p.Phase, ElapsedSec: p.Wall.Seconds()}
		if p.State == executor.PhaseRunning {
			pv.ElapsedSec = end.Sub(p.start).Seconds()
		}
		out = append(out, pv)
	}
	return out
}

// processView reads the head process's CPU time and resident set size.
func processView() ProcessView {
	return ProcessView{CPUSec: executor.ProcessCPU().Seconds(), RSSBytes: currentRSS(), PeakRSSBytes: executor.PeakRSS()}
}

// currentRSS is the resident set size now (Linux; 0 elsewhere).
func currentRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
