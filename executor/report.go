package executor

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// StageReport is what one stage did during a run.
type StageReport struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Actors is the largest number of actors the stage had at once;
	// ActorsStarted counts every actor set up, replacements included.
	Actors        int `json:"actors"`
	ActorsStarted int `json:"actors_started"`
	// TasksIn and TasksOut count tasks; ItemsIn and ItemsOut count their items
	// (documents, files).
	TasksIn  int64 `json:"tasks_in"`
	TasksOut int64 `json:"tasks_out"`
	ItemsIn  int64 `json:"items_in"`
	ItemsOut int64 `json:"items_out"`
	// Wall is the time from the stage's first batch to its end. CPU is the
	// CPU time of the stage's calls as the nodes that ran them reported it
	// (runtime.Usage), summed over all nodes; a call the runtime did not
	// measure (too short to be worth it) is estimated as its wall time times
	// the CPU-to-wall ratio of its actor's measured calls. Busy is the summed
	// wall time of the calls, as the executor saw them.
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"`
	Busy time.Duration `json:"busy_ns"`
	// Retries counts batch re-submissions (errors, deaths and timeouts).
	Retries       int64 `json:"retries"`
	ActorDeaths   int64 `json:"actor_deaths"`
	SetupFailures int64 `json:"setup_failures"`
	// Failed counts tasks that became task.Failed.
	Failed int64 `json:"failed"`
	// Counters sums the counters the stage's calls reported (stage.Count).
	Counters map[string]int64 `json:"counters,omitempty"`
}

// NodeReport is what the calls run on one node reported.
type NodeReport struct {
	ID string `json:"id"`
	// Lost is true when the node was lost during the run.
	Lost bool `json:"lost,omitempty"`
	// ActorsStarted counts the actors placed on the node.
	ActorsStarted int   `json:"actors_started"`
	Calls         int64 `json:"calls"`
	// Tasks counts the tasks of the calls that succeeded on the node;
	// ActorDeaths the node's actors that died (panic, timeout, lost).
	Tasks       int64 `json:"tasks"`
	ActorDeaths int64 `json:"actor_deaths"`
	// CPU sums the CPU time of the calls run on the node.
	CPU time.Duration `json:"cpu_ns"`
	// PeakRSS is the largest peak resident set size the node's calls
	// reported for their process, in bytes (0 when not measured).
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// AddNodes adds the node reports of another Execute (on the same runtime)
// to r's: calls, CPU and actors are summed per node id, peak RSS is the
// larger, and a node lost in either is lost.
func (r *Report) AddNodes(nodes []NodeReport) {
	for _, n := range nodes {
		i := slices.IndexFunc(r.Nodes, func(m NodeReport) bool { return m.ID == n.ID })
		if i < 0 {
			r.Nodes = append(r.Nodes, n)
			continue
		}
		m := &r.Nodes[i]
		m.Lost = m.Lost || n.Lost
		m.ActorsStarted += n.ActorsStarted
		m.Calls += n.Calls
		m.CPU += n.CPU
		m.PeakRSS = max(m.PeakRSS, n.PeakRSS)
	}
}

// Throughput is tasks out per second of wall time.
func (s StageReport) Throughput() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.TasksIn) / s.Wall.Seconds()
}

// Report summarises a run, one row per stage and one per node.
type Report struct {
	Mode   Mode          `json:"mode"`
	Stages []StageReport `json:"stages"`
	Nodes  []NodeReport  `json:"nodes"`
	Wall   time.Duration `json:"wall_ns"`
	// CPU sums the stages' CPU: the CPU time of every call, on every node.
	CPU time.Duration `json:"cpu_ns"`
	// HeadCPU is the CPU time of the process that ran the executor (user
	// and system) during the run. With runtime/local the actors run in
	// that process too, so HeadCPU includes them, along with what no call
	// accounts for (the executor itself, garbage collection, goroutines
	// that stages start).
	HeadCPU time.Duration `json:"head_cpu_ns"`
	// PeakRSS is the largest peak RSS any node reported.
	PeakRSS int64 `json:"peak_rss_bytes"`
	Failed  int64 `json:"failed"`
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tkind\tactors\ttasks in\ttasks out\titems in\titems out\twall\tcpu\ttasks/s\tretries\tdeaths\tfailed\t")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.0f\t%d\t%d\t%d\t\n",
			s.Name, s.Kind, s.Actors, s.TasksIn, s.TasksOut, s.ItemsIn, s.ItemsOut,
			s.Wall.Round(time.Millisecond), s.CPU.Round(time.Millisecond), s.Throughput(),
			s.Retries, s.ActorDeaths, s.Failed)
	}
	fmt.Fprintf(tw, "total (%s)\t\t\t\t\t\t\t%s\t%s\t\t\t\t%d\t\n", r.Mode, r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond), r.Failed)
	if len(r.Nodes) > 1 {
		fmt.Fprintln(tw, "node\tactors\tcalls\tcpu\tpeak rss MiB\t\t\t\t\t\t\t\t\t")
		for _, n := range r.Nodes {
			name := n.ID
			if n.Lost {
				name += " (lost)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1f\t\t\t\t\t\t\t\t\t\n", name, n.ActorsStarted, n.Calls, n.CPU.Round(time.Millisecond), float64(n.PeakRSS)/(1<<20))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeCounters(w, r.Stages)
}
