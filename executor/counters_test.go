package executor

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// TestCounters checks that the counters stages report with stage.Count are
// summed into the stage's report, that they count even when a call returns
// nothing, and that a failed call's counters count too (they describe calls;
// a stage that counts records reports them only when its call succeeds).
func TestCounters(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	counting := stage.Func("counting", func(ctx context.Context, ts []task.Task) ([]task.Task, error) {
		b := ts[0].(*task.DocumentBatch)
		stage.Count(ctx, "calls", 1)
		if b.NumRows() == 4 && stage.Attempt(ctx) == 1 {
			return nil, errors.New("the first attempt fails")
		}
		stage.Count(ctx, "seen", int64(b.NumRows()))
		stage.Count(ctx, "dropped.odd", int64(b.NumRows()%2))
		if b.NumRows()%2 == 1 {
			return nil, nil // everything dropped: only the counters come back
		}
		return []task.Task{b}, nil
	})
	var in []task.Task
	for n := 1; n <= 6; n++ {
		in = append(in, task.NewDocumentBatch("ds", "text", make([]string, n)))
	}
	for _, mode := range []Mode{Streaming, StageByStage} {
		ex := New(rt, Config{Mode: mode, MaxAttempts: 3, RetryBackoff: time.Millisecond})
		out, err := ex.Execute(context.Background(), []stage.Stage{counting}, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 {
			t.Fatalf("%s: %d outputs, want 3", mode, len(out))
		}
		rep := ex.Report()
		c := rep.Stages[0].Counters
		if c["seen"] != 21 || c["dropped.odd"] != 3 || c["calls"] != 7 || rep.Stages[0].Retries != 1 {
			t.Errorf("%s: counters %v, retries %d; want seen 21, dropped.odd 3, calls 7, 1 retry", mode, c, rep.Stages[0].Retries)
		}
		var buf bytes.Buffer
		if err := rep.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "counting: dropped.odd = 3\n") {
			t.Errorf("table: %v\n%s", err, buf.String())
		}
	}
}

// AddNodes sums the node rows of two executions per node id.
func TestReportAddNodes(t *testing.T) {
	var r Report
	r.AddNodes([]NodeReport{{ID: "a", Calls: 2, CPU: time.Second, PeakRSS: 10, ActorsStarted: 1}})
	r.AddNodes([]NodeReport{{ID: "b", Calls: 1}, {ID: "a", Calls: 3, CPU: 2 * time.Second, PeakRSS: 5, ActorsStarted: 2, Lost: true}})
	want := []NodeReport{{ID: "a", Lost: true, ActorsStarted: 3, Calls: 5, CPU: 3 * time.Second, PeakRSS: 10}, {ID: "b", Calls: 1}}
	if !reflect.DeepEqual(r.Nodes, want) {
		t.Fatalf("nodes %+v, want %+v", r.Nodes, want)
	}
}
