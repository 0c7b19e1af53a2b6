package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
)

// An actor whose goroutine is parked waiting for more work can be taken out
// with PopIdle, and Close then returns (the parked goroutine exits).
func TestPoolPopIdleWhileParked(t *testing.T) {
	p := executor.NewPool[int, int, int]([]int{1, 2}, executor.PoolOptions{})
	double := func(_ context.Context, _ int, v int) (int, error) { return 2 * v, nil }
	for round := range 50 {
		if err := p.Submit(context.Background(), double, round); err != nil {
			t.Fatal(err)
		}
		if v, err := p.GetNextUnordered(context.Background(), executor.PoolNoTimeout); err != nil || v != 2*round {
			t.Fatalf("round %d: %d %v", round, v, err)
		}
		a, ok := p.PopIdle()
		if !ok {
			t.Fatalf("round %d: no idle actor", round)
		}
		if err := p.Push(a); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung: a parked goroutine did not exit")
	}
}
