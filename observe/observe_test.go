package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/observe"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/chaos"
	"github.com/sluice-data/sluice/task"
)

func emptyTasks(n int, prefix string) []task.Task {
	out := make([]task.Task, n)
	for i := range out {
		e := task.NewEmpty()
		e.TaskID = prefix + string(rune('a'+i))
		out[i] = e
	}
	return out
}

func chaosStage(t *testing.T, name string, cfg chaos.Config) stage.Stage {
	t.Helper()
	st, err := chaos.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return stage.With(st, stage.WithName(name), stage.WithBatchSize(1))
}

// gather collects the registry's metrics as "name{label=value,...}" ->
// value.
func gather(t *testing.T, m *observe.Monitor) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			key := f.GetName() + "{"
			for i, lp := range mt.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += lp.GetName() + "=" + lp.GetValue()
			}
			key += "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = mt.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestMonitorFollowsExecutes runs two Executes, as two phases of a
// workflow, with retries and a failed task: the state and the metrics sum
// both, the failed task's manifest entry is kept, and the counters equal
// the executors' reports.
func TestMonitorFollowsExecutes(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	m := observe.NewMonitor(observe.Options{Title: "test", History: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Start(ctx)
	cfg := executor.Config{Observer: m, RetryBackoff: time.Millisecond, MaxFailedFraction: 0.5}

	plan := []string{"one", "two"}
	var reports []executor.Report
	for i, name := range plan {
		executor.ReportPhase(m, executor.Phase{Workflow: "test", Name: name, Index: i + 1, Total: 2, Plan: plan, State: executor.PhaseRunning})
		st := chaosStage(t, "work", chaos.Config{ErrorFraction: 0.3, Seed: uint64(i), ErrorIDs: []string{"p1b"}, Sleep: chaos.Duration(2 * time.Millisecond)})
		ex := executor.New(rt, cfg)
		_, err := ex.Execute(context.Background(), []stage.Stage{st}, emptyTasks(12, "p"+string(rune('0'+i))))
		var tfe *executor.TasksFailedError
		if i == 1 && !errors.As(err, &tfe) || i == 0 && err != nil {
			t.Fatalf("execute %d: %v", i, err)
		}
		reports = append(reports, ex.Report())
		executor.ReportPhase(m, executor.Phase{Workflow: "test", Name: name, Index: i + 1, Total: 2, Plan: plan, State: executor.PhaseDone, Wall: time.Second})
	}
	m.Finish(observe.StateFailed, errors.New("1 task failed"))

	st := m.State(10)
	if st.State != observe.StateFailed || len(st.Phases) != 2 || st.Phases[1].State != executor.PhaseDone || st.Phase != "" {
		t.Fatalf("state %s, phases %+v, current %q", st.State, st.Phases, st.Phase)
	}
	if len(st.Stages) != 2 || st.Stages[0].Phase != "one" || st.Stages[1].Phase != "two" || st.Stages[1].State != executor.StageDone {
		t.Fatalf("stages %+v", st.Stages)
	}
	if st.FailedCount != 1 || len(st.Failed) != 1 || st.Failed[0].TaskID != "p1b" || st.Failed[0].Attempts != 3 {
		t.Fatalf("failed %d: %+v", st.FailedCount, st.Failed)
	}
	var retries, tasks int64
	for _, r := range reports {
		retries += r.Stages[0].Retries
		tasks += r.Stages[0].TasksIn
	}
	if int64(st.EventCounts[string(executor.EventRetry)]) != retries || retries == 0 {
		t.Fatalf("%d retry events, the reports say %d", st.EventCounts[string(executor.EventRetry)], retries)
	}
	for _, s := range st.Stages {
		if len(s.Points) < 2 || s.Points[len(s.Points)-1].Done != s.TasksIn {
			t.Fatalf("stage %s history %+v", s.Name, s.Points)
		}
	}

	g := gather(t, m)
	for key, want := range map[string]float64{
		`sluice_stage_tasks_received_total{stage=work}`:  float64(tasks),
		`sluice_stage_tasks_processed_total{stage=work}`: float64(tasks),
		`sluice_stage_retries_total{stage=work}`:         float64(retries),
		`sluice_stage_failed_tasks_total{stage=work}`:    1,
		`sluice_run_failed_tasks_total{}`:                1,
		`sluice_run_state{state=failed}`:                 1,
		`sluice_phase_state{phase=two,state=done}`:       1,
		`sluice_phase_duration_seconds{phase=one}`:       1,
		`sluice_node_up{node=local}`:                     1,
	} {
		if got, ok := g[key]; !ok || got != want {
			t.Errorf("%s = %g (present %v), want %g", key, got, ok, want)
		}
	}
	if g[`sluice_node_calls_total{node=local}`] != float64(reports[0].Nodes[0].Calls+reports[1].Nodes[0].Calls) {
		t.Errorf("node calls %g, reports %d + %d", g[`sluice_node_calls_total{node=local}`], reports[0].Nodes[0].Calls, reports[1].Nodes[0].Calls)
	}
	if _, ok := g[`process_resident_memory_bytes{}`]; !ok {
		t.Error("no process metrics")
	}
}

// TestLogRingTee: the tee keeps the last lines, with attributes and
// groups, and passes every record on.
func TestLogRingTee(t *testing.T) {
	var buf bytes.Buffer
	ring := observe.NewLogRing(3)
	log := slog.New(ring.Tee(slog.NewTextHandler(&buf, nil))).With("run", "r1").WithGroup("g")
	for i := range 5 {
		log.Info("line", "i", i, slog.Group("sub", "k", "a b"))
	}
	tail := ring.Tail(-1)
	if len(tail) != 3 || tail[0].Attrs != `run=r1 g.i=2 g.sub.k="a b"` || tail[2].Attrs != `run=r1 g.i=4 g.sub.k="a b"` || tail[2].Level != "INFO" {
		t.Fatalf("tail %+v", tail)
	}
	if got := ring.Tail(1); len(got) != 1 || got[0].Attrs != tail[2].Attrs {
		t.Fatalf("Tail(1) = %+v", got)
	}
	if n := strings.Count(buf.String(), "msg=line"); n != 5 {
		t.Fatalf("the wrapped handler got %d lines, want 5", n)
	}
}

// TestHandler serves the dashboard, its state and metrics, and refuses
// requests without the token when one is set.
func TestHandler(t *testing.T) {
	m := observe.NewMonitor(observe.Options{Title: "handler test", Log: observe.NewLogRing(10)})
	open := httptest.NewServer(m.Handler(observe.HandlerOptions{UI: true}))
	defer open.Close()
	body := get(t, open.Client(), open.URL+"/", http.StatusOK)
	if !strings.Contains(body, "<title>Sluice</title>") {
		t.Fatalf("dashboard page: %.200s", body)
	}
	var st observe.State
	if err := json.Unmarshal([]byte(get(t, open.Client(), open.URL+"/api/state", http.StatusOK)), &st); err != nil || st.Title != "handler test" || st.State != observe.StateRunning {
		t.Fatalf("state %+v (%v)", st, err)
	}
	get(t, open.Client(), open.URL+"/metrics", http.StatusNotFound) // UI only

	gated := httptest.NewServer(m.Handler(observe.HandlerOptions{UI: true, Metrics: true, Token: "s3cret"}))
	defer gated.Close()
	c := gated.Client()
	get(t, c, gated.URL+"/api/state", http.StatusUnauthorized)
	get(t, c, gated.URL+"/metrics?token=wrong", http.StatusUnauthorized)
	req, _ := http.NewRequest("GET", gated.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer token: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	// ?token= sets a cookie and redirects to the page without it.
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	if body := get(t, c, gated.URL+"/?token=s3cret", http.StatusOK); !strings.Contains(body, "<title>Sluice</title>") {
		t.Fatalf("token in the query: body %.100s", body)
	}
	get(t, c, gated.URL+"/api/state", http.StatusOK)
}

func get(t *testing.T, c *http.Client, url string, want int) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d\n%s", url, resp.Status, want, b)
	}
	return string(b)
}

// TestETA: the time left at the stage's average rate, only once the total
// is known and some tasks are done and some left.
func TestETA(t *testing.T) {
	now := time.Now()
	s := executor.StageStatus{State: executor.StageRunning, Started: now.Add(-10 * time.Second), TasksDone: 20, TasksTotal: 100, TotalKnown: true}
	if eta, ok := observe.ETA(s, now); !ok || eta != 40*time.Second {
		t.Fatalf("ETA = %s, %v; want 40s", eta, ok)
	}
	for _, c := range []func(*executor.StageStatus){
		func(s *executor.StageStatus) { s.TotalKnown = false },
		func(s *executor.StageStatus) { s.TasksDone = 0 },
		func(s *executor.StageStatus) { s.TasksDone = 100 },
	} {
		x := s
		c(&x)
		if eta, ok := observe.ETA(x, now); ok {
			t.Errorf("%+v: ETA %s, want unknown", x, eta)
		}
	}
}
