package observe

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/version"
	"github.com/sluice-data/sluice/stage"
)

// metric is one metric the monitor exports: its descriptor and type.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

func newMetric(name, help string, typ prometheus.ValueType, labels ...string) metric {
	return metric{desc: prometheus.NewDesc(name, help, labels, nil), typ: typ}
}

// stageMetric reads one figure of a stage.
type stageMetric struct {
	metric
	get func(s executor.StageStatus) float64
}

// nodeMetric reads one figure of a node.
type nodeMetric struct {
	metric
	get func(n executor.NodeStatus) float64
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// stageMetrics are the per-stage metrics (label stage). Counters sum every
// Execute of the command.
var stageMetrics = []stageMetric{
	{newMetric("sluice_stage_tasks_received_total", "Tasks that reached the stage.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.TasksIn) }},
	{newMetric("sluice_stage_tasks_processed_total", "Input tasks whose batch finished (done or failed).", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.TasksDone) }},
	{newMetric("sluice_stage_tasks_emitted_total", "Tasks the stage produced.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.TasksOut) }},
	{newMetric("sluice_stage_items_received_total", "Items (documents of document batches, files of file groups) that reached the stage.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.ItemsIn) }},
	{newMetric("sluice_stage_items_emitted_total", "Items the stage produced.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.ItemsOut) }},
	{newMetric("sluice_stage_retries_total", "Batch re-submissions after errors, deaths and timeouts (barrier stages: whole-stage retries).", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.Retries) }},
	{newMetric("sluice_stage_actor_deaths_total", "Actors that panicked, timed out or were lost.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.ActorDeaths) }},
	{newMetric("sluice_stage_setup_failures_total", "Actor set-ups that failed.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.SetupFailures) }},
	{newMetric("sluice_stage_failed_tasks_total", "Tasks that failed permanently (in the failed-task manifest).", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.Failed) }},
	{newMetric("sluice_stage_actors_started_total", "Actors set up, replacements included.", counter, "stage"), func(s executor.StageStatus) float64 { return float64(s.ActorsStarted) }},
	{newMetric("sluice_stage_cpu_seconds_total", "CPU time of the stage's calls, as the nodes that ran them reported it.", counter, "stage"), func(s executor.StageStatus) float64 { return s.CPU.Seconds() }},
	{newMetric("sluice_stage_busy_seconds_total", "Summed wall time of the stage's calls.", counter, "stage"), func(s executor.StageStatus) float64 { return s.Busy.Seconds() }},
}

// liveStageMetrics are gauges of the stages of the running Execute.
var liveStageMetrics = []stageMetric{
	{newMetric("sluice_stage_actors", "Actors of the stage set up and not stopped.", gauge, "stage"), func(s executor.StageStatus) float64 { return float64(s.ActorsLive) }},
	{newMetric("sluice_stage_actors_busy", "Actors of the stage in a call now.", gauge, "stage"), func(s executor.StageStatus) float64 { return float64(s.ActorsBusy) }},
	{newMetric("sluice_stage_busy_ratio", "Share of the stage's actors in a call now (0 to 1).", gauge, "stage"), func(s executor.StageStatus) float64 {
		if s.ActorsLive == 0 {
			return 0
		}
		return float64(s.ActorsBusy) / float64(s.ActorsLive)
	}},
	{newMetric("sluice_stage_queued_tasks", "Tasks waiting in the queue in front of the stage (streaming mode).", gauge, "stage"), func(s executor.StageStatus) float64 { return float64(s.Queued) }},
	{newMetric("sluice_stage_pending_batches", "Batches handed to the stage's actors and not finished, retries waiting included.", gauge, "stage"), func(s executor.StageStatus) float64 { return float64(s.Pending) }},
}

// nodeMetrics are the per-node metrics (label node), summed over every
// Execute of the command; the gauges are the latest.
var nodeMetrics = []nodeMetric{
	{newMetric("sluice_node_calls_total", "Calls run on the node.", counter, "node"), func(n executor.NodeStatus) float64 { return float64(n.Calls) }},
	{newMetric("sluice_node_tasks_total", "Tasks of the calls that succeeded on the node.", counter, "node"), func(n executor.NodeStatus) float64 { return float64(n.Tasks) }},
	{newMetric("sluice_node_cpu_seconds_total", "CPU time of the calls run on the node.", counter, "node"), func(n executor.NodeStatus) float64 { return n.CPU.Seconds() }},
	{newMetric("sluice_node_actor_deaths_total", "Actors on the node that died.", counter, "node"), func(n executor.NodeStatus) float64 { return float64(n.ActorDeaths) }},
	{newMetric("sluice_node_actors_started_total", "Actors placed on the node.", counter, "node"), func(n executor.NodeStatus) float64 { return float64(n.ActorsStarted) }},
	{newMetric("sluice_node_actors", "Live actors on the node.", gauge, "node"), func(n executor.NodeStatus) float64 { return float64(n.Actors) }},
	{newMetric("sluice_node_cpus", "CPUs the node offers.", gauge, "node"), func(n executor.NodeStatus) float64 { return n.CPUs }},
	{newMetric("sluice_node_cpus_booked", "CPUs the node's live actors asked for.", gauge, "node"), func(n executor.NodeStatus) float64 { return n.CPUsBooked }},
	{newMetric("sluice_node_gpus", "GPUs the node offers.", gauge, "node"), func(n executor.NodeStatus) float64 { return n.GPUs }},
	{newMetric("sluice_node_peak_rss_bytes", "Largest peak resident set size the node's calls reported for their process.", gauge, "node"), func(n executor.NodeStatus) float64 { return float64(n.PeakRSS) }},
	{newMetric("sluice_node_up", "1 while the node is part of the run, 0 once it is lost.", gauge, "node"), func(n executor.NodeStatus) float64 {
		if n.Lost {
			return 0
		}
		return 1
	}},
}

var (
	mStageCounter    = newMetric("sluice_stage_counter_total", "Counters the stage reported (stage.Count), such as documents dropped per filter rule.", counter, "stage", "counter")
	mRecordsRead     = newMetric("sluice_stage_records_read_total", "Records the stage read from its input files (stages that read files).", counter, "stage")
	mBytesRead       = newMetric("sluice_stage_read_bytes_total", "Uncompressed bytes the stage read from its input files (stages that read files).", counter, "stage")
	mStageState      = newMetric("sluice_stage_state", "1 for the stage's state: waiting, running or done.", gauge, "stage", "state")
	mStageInput      = newMetric("sluice_stage_input_tasks", "Tasks the stage processes in all, once known.", gauge, "stage")
	mPhaseDuration   = newMetric("sluice_phase_duration_seconds", "Wall time of a workflow phase (so far, while it runs).", gauge, "phase")
	mPhaseCPU        = newMetric("sluice_phase_cpu_seconds", "CPU time of a finished workflow phase's calls.", gauge, "phase")
	mPhaseState      = newMetric("sluice_phase_state", "1 for the phase's state: running, done, resumed (from the cache) or failed.", gauge, "phase", "state")
	mRunState        = newMetric("sluice_run_state", "1 for the run's state: running, succeeded, failed or interrupted.", gauge, "state")
	mRunElapsed      = newMetric("sluice_run_elapsed_seconds", "Wall time of the run so far (in all, once finished).", gauge)
	mRunFailedTasks  = newMetric("sluice_run_failed_tasks_total", "Tasks that failed permanently, in every stage.", counter)
	mBuildInfo       = newMetric("sluice_build_info", "Always 1; the version label names the build.", gauge, "version")
	allPhaseStates   = []executor.PhaseState{executor.PhaseRunning, executor.PhaseDone, executor.PhaseResumed, executor.PhaseFailed}
	allStageStates   = []executor.StageState{executor.StageWaiting, executor.StageRunning, executor.StageDone}
	allRunStates     = []string{StateRunning, StateSucceeded, StateFailed, StateInterrupted}
	singleDescs      = []metric{mStageCounter, mRecordsRead, mBytesRead, mStageState, mStageInput, mPhaseDuration, mPhaseCPU, mPhaseState, mRunState, mRunElapsed, mRunFailedTasks, mBuildInfo}
	stageStateLabels = func() []string {
		out := make([]string, len(allStageStates))
		for i, s := range allStageStates {
			out[i] = string(s)
		}
		return out
	}()
)

// Registry returns a new registry holding the monitor's metrics, the
// process's CPU, memory and file descriptors (process_*) and the Go
// runtime's (go_*). Each call makes its own registry: nothing is global.
func (m *Monitor) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return reg
}

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range stageMetrics {
		ch <- s.desc
	}
	for _, s := range liveStageMetrics {
		ch <- s.desc
	}
	for _, n := range nodeMetrics {
		ch <- n.desc
	}
	for _, d := range singleDescs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector: the figures of every Execute so
// far, read from the executor at scrape time.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	v := m.view()
	m.mu.Lock()
	defer m.mu.Unlock()
	end := m.endLocked(time.Now())
	m.collectStages(ch, v)
	for _, n := range v.nodes {
		for _, nm := range nodeMetrics {
			m.emitLocked(ch, nm.metric, nm.get(n), n.ID)
		}
	}
	for _, p := range m.phaseViewsLocked(end) {
		ch <- prometheus.MustNewConstMetric(mPhaseDuration.desc, gauge, p.ElapsedSec, p.Name)
		if p.State != executor.PhaseRunning {
			ch <- prometheus.MustNewConstMetric(mPhaseCPU.desc, gauge, p.CPU.Seconds(), p.Name)
		}
		for _, s := range allPhaseStates {
			ch <- prometheus.MustNewConstMetric(mPhaseState.desc, gauge, b2f(p.State == s), p.Name, string(s))
		}
	}
	for _, s := range allRunStates {
		ch <- prometheus.MustNewConstMetric(mRunState.desc, gauge, b2f(m.state == s), s)
	}
	ch <- prometheus.MustNewConstMetric(mRunElapsed.desc, gauge, end.Sub(m.started).Seconds())
	m.emitLocked(ch, mRunFailedTasks, float64(v.failedTasks))
	ch <- prometheus.MustNewConstMetric(mBuildInfo.desc, gauge, 1, strings.TrimPrefix(version.Short(), "sluice "))
}

// collectStages emits the per-stage metrics: counters summed by stage name
// over every Execute, gauges of the latest Execute that ran the stage.
func (m *Monitor) collectStages(ch chan<- prometheus.Metric, v view) {
	var names []string
	sums := make(map[string]*executor.StageStatus)
	latest := make(map[string]executor.StageStatus)
	for _, s := range v.stages {
		latest[s.Name] = s.StageStatus
		sum := sums[s.Name]
		if sum == nil {
			names = append(names, s.Name)
			c := s.StageStatus
			c.Counters = make(map[string]int64, len(s.Counters))
			for k, n := range s.Counters {
				c.Counters[k] = n
			}
			sums[s.Name] = &c
			continue
		}
		addStage(sum, s.StageStatus)
	}
	for _, name := range names {
		sum, last := sums[name], latest[name]
		for _, sm := range stageMetrics {
			m.emitLocked(ch, sm.metric, sm.get(*sum), name)
		}
		for _, sm := range liveStageMetrics {
			ch <- prometheus.MustNewConstMetric(sm.desc, gauge, sm.get(last), name)
		}
		for _, k := range slices.Sorted(maps.Keys(sum.Counters)) {
			switch k {
			case stage.CounterRecordsRead:
				m.emitLocked(ch, mRecordsRead, float64(sum.Counters[k]), name)
			case stage.CounterBytesRead:
				m.emitLocked(ch, mBytesRead, float64(sum.Counters[k]), name)
			}
			m.emitLocked(ch, mStageCounter, float64(sum.Counters[k]), name, k)
		}
		for i, s := range allStageStates {
			ch <- prometheus.MustNewConstMetric(mStageState.desc, gauge, b2f(last.State == s), name, stageStateLabels[i])
		}
		if last.TotalKnown {
			ch <- prometheus.MustNewConstMetric(mStageInput.desc, gauge, float64(last.TasksTotal), name)
		}
	}
}

// addStage adds the counts of s to sum (the same stage name in another
// Execute).
func addStage(sum *executor.StageStatus, s executor.StageStatus) {
	sum.TasksIn += s.TasksIn
	sum.TasksDone += s.TasksDone
	sum.TasksOut += s.TasksOut
	sum.ItemsIn += s.ItemsIn
	sum.ItemsOut += s.ItemsOut
	sum.Retries += s.Retries
	sum.ActorDeaths += s.ActorDeaths
	sum.SetupFailures += s.SetupFailures
	sum.Failed += s.Failed
	sum.ActorsStarted += s.ActorsStarted
	sum.CPU += s.CPU
	sum.Busy += s.Busy
	sum.Wall += s.Wall
	for k, n := range s.Counters {
		sum.Counters[k] += n
	}
}

// emitLocked sends one sample; counters never go below a value they showed.
func (m *Monitor) emitLocked(ch chan<- prometheus.Metric, mt metric, v float64, labels ...string) {
	if mt.typ == counter {
		v = m.monotonicLocked(mt.desc.String()+"\x00"+strings.Join(labels, "\x00"), v)
	}
	ch <- prometheus.MustNewConstMetric(mt.desc, mt.typ, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
