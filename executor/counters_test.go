package executor

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// TestStatsCounters checks that the counters stages return in task.Stats
// sentinels are summed into the stage's report, that the sentinels never
// reach the next stage, and that they count even when a call returns
// nothing else.
func TestStatsCounters(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	counting := stage.Func("counting", func(_ context.Context, ts []task.Task) ([]task.Task, error) {
		b := ts[0].(*task.DocumentBatch)
		stats := task.NewStats(map[string]int64{"seen": int64(b.NumRows()), "dropped.odd": int64(b.NumRows() % 2)})
		if b.NumRows()%2 == 1 {
			return []task.Task{stats}, nil // everything dropped: only the counters come back
		}
		return []task.Task{b, stats}, nil
	})
	var leaked int
	sink := stage.Func("sink", func(_ context.Context, ts []task.Task) ([]task.Task, error) {
		for _, t := range ts {
			if _, ok := t.(*task.Stats); ok {
				leaked++
			}
		}
		return ts, nil
	})
	var in []task.Task
	for n := 1; n <= 6; n++ {
		in = append(in, task.NewDocumentBatch("ds", "text", make([]string, n)))
	}
	for _, mode := range []Mode{Streaming, StageByStage} {
		leaked = 0
		ex := New(rt, Config{Mode: mode})
		out, err := ex.Execute(context.Background(), []stage.Stage{counting, stage.With(sink, stage.WithNumWorkers(1))}, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 || leaked != 0 {
			t.Fatalf("%s: %d outputs, %d stats leaked", mode, len(out), leaked)
		}
		rep := ex.Report()
		c := rep.Stages[0].Counters
		if c["seen"] != 21 || c["dropped.odd"] != 3 || rep.Stages[1].Counters != nil {
			t.Errorf("%s: counters %v / %v", mode, c, rep.Stages[1].Counters)
		}
		var buf bytes.Buffer
		if err := rep.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "counting: dropped.odd = 3\n") {
			t.Errorf("table: %v\n%s", err, buf.String())
		}
	}
	// The sentinel crosses processes through its codec.
	codecs := task.NewCodecs()
	data, err := codecs.Marshal(task.NewStats(map[string]int64{"a": 1, "b": -2}))
	if err != nil {
		t.Fatal(err)
	}
	back, err := codecs.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if s := back.(*task.Stats); s.Counters["a"] != 1 || s.Counters["b"] != -2 || !task.IsSentinel(s) {
		t.Errorf("round trip: %+v", s)
	}
}
