package executor_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

type noop struct{ stage.Base }

func (noop) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

// BenchmarkDispatch measures the executor's per-task overhead: 1M tasks
// through a no-op stage, at batch sizes 1 and 100, in both modes.
func BenchmarkDispatch(b *testing.B) {
	const n = 1_000_000
	tasks := make([]task.Task, n)
	for i := range tasks {
		e := task.NewEmpty()
		e.TaskID = "t" + strconv.Itoa(i)
		tasks[i] = e
	}
	for _, mode := range []executor.Mode{executor.Streaming, executor.StageByStage} {
		for _, bs := range []int{1, 100} {
			b.Run(string(mode)+"/batch="+strconv.Itoa(bs), func(b *testing.B) {
				rt, err := local.New(local.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer rt.Close()
				var total time.Duration
				for b.Loop() {
					for _, t := range tasks {
						t.SetID("t")
					}
					ex := executor.New(rt, executor.Config{Mode: mode})
					start := time.Now()
					out, err := ex.Execute(context.Background(), []stage.Stage{&noop{stage.Base{StageName: "noop", Batch: bs}}}, tasks)
					total += time.Since(start)
					if err != nil || len(out) != n {
						b.Fatalf("%d outputs, err %v", len(out), err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "tasks/s")
			})
		}
	}
}
