package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// execute runs batches with the given ids through a chaos stage on the real
// executor and a local runtime that builds every actor from the stage's
// descriptor and sends every call through its wire form (actors share
// nothing). It returns the stage's summed counters.
func execute(t *testing.T, cfg Config, ecfg executor.Config, ids ...string) (*executor.Executor, map[string]int64, []task.Task, error) {
	t.Helper()
	s, rt := isolated(t, cfg)
	defer rt.Close()
	if ecfg.RetryBackoff == 0 {
		ecfg.RetryBackoff = time.Millisecond
	}
	ex := executor.New(rt, ecfg)
	out, err := ex.Execute(context.Background(), []stage.Stage{s}, batch(ids...))
	return ex, ex.Report().Stages[0].Counters, out, err
}

func ids(n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("b%02d", i))
	}
	return s
}

func stageReport(ex *executor.Executor) executor.StageReport { return ex.Report().Stages[0] }

func TestExecutorRetriesTransientFaults(t *testing.T) {
	ex, c, out, err := execute(t, Config{ErrorFraction: 0.5, PanicOnCall: 3, Seed: 3}, executor.Config{}, ids(30)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 30 {
		t.Fatalf("%d outputs, want 30", len(out))
	}
	rep := stageReport(ex)
	if c[CounterErrors] == 0 || c[CounterPanics] == 0 || rep.Retries < c[CounterErrors] || rep.ActorDeaths != c[CounterPanics] || rep.Failed != 0 {
		t.Fatalf("counters %v, report %+v", c, rep)
	}
	// Every batch passed exactly once.
	if c[CounterPassed] != 30 || c[CounterCalls] != 30+rep.Retries {
		t.Fatalf("counters %v, report %+v", c, rep)
	}
}

func TestExecutorPermanentFailures(t *testing.T) {
	ex, c, out, err := execute(t, Config{ErrorIDs: []string{"b03"}, PanicIDs: []string{"b07"}},
		executor.Config{MaxFailedFraction: 0.5, MaxAttempts: 2, MaxActorDeaths: 2}, ids(10)...)
	var tfe *executor.TasksFailedError
	if !errors.As(err, &tfe) || tfe.Failed != 2 || len(out) != 8 {
		t.Fatalf("err = %v, %d outputs", err, len(out))
	}
	var failed []string
	for _, f := range ex.FailedTasks() {
		failed = append(failed, f.ID())
		want := map[string]string{"b03": "error", "b07": "panic"}[f.ID()]
		if len(f.Attempts) != 2 || f.Attempts[0].Outcome != want {
			t.Errorf("%s attempts %+v, want 2 of outcome %s", f.ID(), f.Attempts, want)
		}
	}
	slices.Sort(failed)
	if !slices.Equal(failed, []string{"b03", "b07"}) || c[CounterErrors] != 2 || c[CounterPanics] != 2 {
		t.Fatalf("failed %v, counters %v", failed, c)
	}
}

func TestExecutorAbandonsHungBatches(t *testing.T) {
	ex, c, out, err := execute(t, Config{HangIDs: []string{"b01"}, HangOnCall: 2},
		executor.Config{BatchTimeout: 50 * time.Millisecond, MaxFailedFraction: 0.5, MaxActorDeaths: 2}, ids(6)...)
	var tfe *executor.TasksFailedError
	if !errors.As(err, &tfe) || tfe.Failed != 1 || len(out) != 5 {
		t.Fatalf("err = %v, %d outputs", err, len(out))
	}
	f := ex.FailedTasks()[0]
	if f.ID() != "b01" || f.Attempts[0].Outcome != "timeout" {
		t.Fatalf("failed %s %+v", f.ID(), f.Attempts)
	}
	// b01 hung twice; hang_on_call hung at least one other batch, which
	// then succeeded on a retry. (A call that times out returns no result,
	// so its counters are lost: only deaths show the hangs.)
	if rep := stageReport(ex); rep.ActorDeaths < 3 || c[CounterPassed] != 5 {
		t.Fatalf("counters %v, report %+v", c, rep)
	}
}

func TestExecutorSetupFailures(t *testing.T) {
	ex, c, out, err := execute(t, Config{SetupFailTimes: 2}, executor.Config{MaxSetupFailures: 3}, ids(5)...)
	if err != nil || len(out) != 5 {
		t.Fatalf("err = %v, %d outputs", err, len(out))
	}
	if rep := stageReport(ex); rep.SetupFailures != 2 || rep.ActorsStarted != 2 {
		t.Fatalf("report %+v, counters %v", rep, c)
	}
	_, _, _, err = execute(t, Config{SetupFailAlways: true}, executor.Config{MaxSetupFailures: 2}, ids(5)...)
	if err == nil || !errors.Is(err, ErrInjected) {
		t.Fatalf("setup_fail_always: err = %v", err)
	}
}
