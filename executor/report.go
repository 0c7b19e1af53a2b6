package executor

import (
	"fmt"
	"io"
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
	// process CPU time attributed to the stage in proportion to its actors'
	// busy time. Busy is the summed time actors spent in calls.
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"`
	Busy time.Duration `json:"busy_ns"`
	// Retries counts batch re-submissions (errors, deaths and timeouts).
	Retries       int64 `json:"retries"`
	ActorDeaths   int64 `json:"actor_deaths"`
	SetupFailures int64 `json:"setup_failures"`
	// Failed counts tasks that became task.Failed.
	Failed int64 `json:"failed"`
	// Counters sums the counters the stage reported with task.Stats
	// sentinels, such as documents dropped per filter rule.
	Counters map[string]int64 `json:"counters,omitempty"`
}

// Throughput is tasks out per second of wall time.
func (s StageReport) Throughput() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.TasksIn) / s.Wall.Seconds()
}

// Report summarises a run, one row per stage.
type Report struct {
	Mode   Mode          `json:"mode"`
	Stages []StageReport `json:"stages"`
	Wall   time.Duration `json:"wall_ns"`
	CPU    time.Duration `json:"cpu_ns"`
	Failed int64         `json:"failed"`
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
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeCounters(w, r.Stages)
}
