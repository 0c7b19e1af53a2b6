package executor_test

import (
	"context"
	"fmt"

	"github.com/sluice-data/sluice/executor"
)

// doubler stands in for a stateful worker, such as a loaded model replica.
type doubler struct{ id int }

func (d *doubler) double(v int) int { return 2 * v }

// Map runs a function over values on a pool of actors and yields the results
// in input order.
func ExamplePool_Map() {
	actors := []*doubler{{id: 1}, {id: 2}}
	pool := executor.NewPool[*doubler, int, int](actors, executor.PoolOptions{})
	defer pool.Close()

	double := func(_ context.Context, d *doubler, v int) (int, error) { return d.double(v), nil }
	for r, err := range pool.Map(context.Background(), double, []int{1, 2, 3, 4}) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(r)
	}
	// Output:
	// 2
	// 4
	// 6
	// 8
}

// Submit and GetNext give finer control: submit while HasFree, collect
// results in submission order.
func ExamplePool_Submit() {
	ctx := context.Background()
	pool := executor.NewPool[*doubler, int, int]([]*doubler{{id: 1}}, executor.PoolOptions{MaxPending: 4})
	defer pool.Close()

	double := func(_ context.Context, d *doubler, v int) (int, error) { return d.double(v), nil }
	for v := range 3 {
		if err := pool.Submit(ctx, double, v); err != nil {
			fmt.Println("submit:", err)
			return
		}
	}
	for pool.HasNext() {
		r, err := pool.GetNext(ctx, executor.PoolNoTimeout)
		fmt.Println(r, err)
	}
	// Output:
	// 0 <nil>
	// 2 <nil>
	// 4 <nil>
}
