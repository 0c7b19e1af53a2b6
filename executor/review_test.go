package executor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
)

// Cancelling a run is not a task failure: batches whose calls end with the
// cancellation must not be recorded as failed permanently, and the error
// must be the cancellation, not the failure policy.
func TestReviewCancelIsNotATaskFailure(t *testing.T) {
	for i := range 30 {
		f := newFaulty("hang", 1)
		f.hangIDs = map[string]bool{"t0": true, "t1": true, "t2": true, "t3": true}
		f.hangTimes = 100
		ex := newExec(t, executor.Config{MaxAttempts: 1})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for f.c.calls.Load() < 4 {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
		}()
		_, err := ex.Execute(ctx, []stage.Stage{f}, docs(4))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: err = %v, want context.Canceled", i, err)
		}
		if n := len(ex.FailedTasks()); n != 0 {
			t.Fatalf("run %d: %d tasks recorded as failed permanently by the cancellation", i, n)
		}
		if r := ex.Report(); r.Failed != 0 {
			t.Fatalf("run %d: report counts %d failed tasks", i, r.Failed)
		}
	}
}
