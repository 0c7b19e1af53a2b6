package executor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests below port every case of Ray's python/ray/tests/test_actor_pool.py
// (named TestPoolRay*), then cover what Sluice adds on top: dead-actor
// eviction, FIFO fairness, the bounded pending queue, Close and concurrent use.
//
// Ray's actors are remote objects; here an actor is a small struct pointer
// whose methods are ordinary Go code, which is what the pool sees in
// production too (a handle it passes to the CallFunc).

// poolTestWait bounds every wait that would otherwise hang on a pool bug, so a
// regression fails the test instead of timing out the whole package.
const poolTestWait = 10 * time.Second

// poolCheckLeaks fails t if goroutines started during the test outlive it. It is
// registered first so it runs after every other cleanup (pool Close).
func poolCheckLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// newPool builds a pool that is closed when the test ends.
func newTestPool[A comparable, V, R any](t *testing.T, actors []A, opts PoolOptions) *Pool[A, V, R] {
	t.Helper()
	p := NewPool[A, V, R](actors, opts)
	t.Cleanup(func() { p.Close() })
	return p
}

// poolTestCtx returns a context that ends the test's waits after poolTestWait.
func poolTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), poolTestWait)
	t.Cleanup(cancel)
	return ctx
}

// poolTestActor mirrors Ray's MyActor test class. calls counts the calls it ran.
type poolTestActor struct {
	name  string
	calls atomic.Int64
}

func (a *poolTestActor) String() string { return a.name }

func newPoolTestActors(n int) []*poolTestActor {
	as := make([]*poolTestActor, n)
	for i := range as {
		as[i] = &poolTestActor{name: fmt.Sprintf("actor%d", i)}
	}
	return as
}

func poolCallF(_ context.Context, a *poolTestActor, x int) (int, error) {
	a.calls.Add(1)
	return x + 1, nil
}

func poolCallDouble(_ context.Context, a *poolTestActor, x int) (int, error) {
	a.calls.Add(1)
	return 2 * x, nil
}

// poolGate is a call that blocks until released (or the pool closes) and
// announces when it has started.
type poolGate struct {
	started chan int
	release chan struct{}
}

func newPoolGate() *poolGate {
	return &poolGate{started: make(chan int, 64), release: make(chan struct{})}
}

func (g *poolGate) call(ctx context.Context, a *poolTestActor, x int) (int, error) {
	a.calls.Add(1)
	g.started <- x
	select {
	case <-g.release:
		return 2 * x, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// waitStarted waits until the poolGate has seen n calls start and returns their values.
func (g *poolGate) waitStarted(t *testing.T, n int) []int {
	t.Helper()
	var got []int
	for range n {
		select {
		case v := <-g.started:
			got = append(got, v)
		case <-time.After(poolTestWait):
			t.Fatalf("only %d of %d gated calls started", len(got), n)
		}
	}
	return got
}

// ---- Ports of Ray's test_actor_pool.py ----

func TestPoolRayGetNext(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	for i := range 5 {
		if err := p.Submit(ctx, poolCallF, i); err != nil {
			t.Fatal(err)
		}
		got, err := p.GetNext(ctx, PoolNoTimeout)
		if err != nil || got != i+1 {
			t.Fatalf("GetNext = %d, %v; want %d, nil", got, err, i+1)
		}
	}
	if _, err := p.GetNext(ctx, PoolNoTimeout); !errors.Is(err, ErrPoolEmpty) {
		t.Fatalf("GetNext on drained pool: err = %v, want ErrPoolEmpty", err)
	}
}

func TestPoolRayGetNextUnordered(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	for i := range 5 {
		if err := p.Submit(ctx, poolCallF, i); err != nil {
			t.Fatal(err)
		}
	}
	var total []int
	for p.HasNext() {
		v, err := p.GetNextUnordered(ctx, PoolNoTimeout)
		if err != nil {
			t.Fatal(err)
		}
		total = append(total, v)
	}
	slices.Sort(total)
	if want := []int{1, 2, 3, 4, 5}; !slices.Equal(total, want) {
		t.Fatalf("results = %v, want %v", total, want)
	}
}

func TestPoolRayMap(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	index := 0
	for v, err := range p.Map(ctx, poolCallDouble, []int{0, 1, 2, 3, 4}) {
		if err != nil || v != 2*index {
			t.Fatalf("result %d = %d, %v; want %d, nil", index, v, err, 2*index)
		}
		index++
	}
	if index != 5 {
		t.Fatalf("Map yielded %d results, want 5", index)
	}
}

// Ray checks that map submits eagerly, before the result iterator is consumed.
func TestPoolRayMapEager(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(1), PoolOptions{})
	started := make(chan int, 1)
	fn := func(_ context.Context, _ *poolTestActor, v int) (int, error) {
		started <- v
		return v, nil
	}
	_ = p.Map(ctx, fn, []int{0}) // never ranged over
	select {
	case v := <-started:
		if v != 0 {
			t.Fatalf("call got %d, want 0", v)
		}
	case <-time.After(poolTestWait):
		t.Fatal("Map did not submit before its sequence was consumed")
	}
}

func TestPoolRayMapUnordered(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	var total []int
	for v, err := range p.MapUnordered(ctx, poolCallDouble, []int{0, 1, 2, 3, 4}) {
		if err != nil {
			t.Fatal(err)
		}
		total = append(total, v)
	}
	slices.Sort(total)
	if want := []int{0, 2, 4, 6, 8}; !slices.Equal(total, want) {
		t.Fatalf("results = %v, want %v", total, want)
	}
}

// ray-project/ray#23107: a map must not return (or wait for) the result of
// a call submitted before it. Value 6 blocks its actor until the map is done;
// if Map waited for it or returned it, the test would fail or hit poolTestWait.
func TestPoolRayMapGH23107(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			poolCheckLeaks(t)
			ctx := poolTestCtx(t)
			p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(2), PoolOptions{})
			release := make(chan struct{})
			identity := func(ctx context.Context, _ *poolTestActor, v int) (int, error) {
				if v == 6 {
					select {
					case <-release:
					case <-ctx.Done():
					}
				}
				return v, nil
			}
			if err := p.Submit(ctx, identity, 6); err != nil {
				t.Fatal(err)
			}
			seq := p.Map(ctx, identity, []int{1, 2, 3, 4, 5})
			if !ordered {
				seq = p.MapUnordered(ctx, identity, []int{1, 2, 3, 4, 5})
			}
			var got []int
			for v, err := range seq {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			close(release)
			if !ordered {
				slices.Sort(got)
			}
			if want := []int{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
				t.Fatalf("map results = %v, want %v", got, want)
			}
			if p.HasNext() {
				t.Fatal("HasNext after map: the earlier submit leaked into the pool's results")
			}
		})
	}
}

// Ray's test_get_next_timeout (which, despite its name, calls
// get_next_unordered): here for GetNext proper, and the timeout must leave
// the pool intact so the result can still be collected.
func TestPoolRayGetNextTimeout(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	g := newPoolGate()
	if err := p.Submit(ctx, g.call, 21); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(t, 1)
	if _, err := p.GetNext(ctx, 20*time.Millisecond); !errors.Is(err, ErrPoolTimeout) {
		t.Fatalf("GetNext: err = %v, want ErrPoolTimeout", err)
	}
	if _, err := p.GetNext(ctx, 0); !errors.Is(err, ErrPoolTimeout) {
		t.Fatalf("GetNext(timeout 0): err = %v, want ErrPoolTimeout", err)
	}
	if !p.HasNext() {
		t.Fatal("HasNext = false after a timeout; the call must stay outstanding")
	}
	close(g.release)
	if v, err := p.GetNext(ctx, PoolNoTimeout); err != nil || v != 42 {
		t.Fatalf("GetNext after release = %d, %v; want 42, nil", v, err)
	}
}

// Ray's test_get_next_unordered_timeout, including its ignore_if_timedout
// half, which in Sluice is a timed-out get followed by Abandon.
func TestPoolRayGetNextUnorderedTimeout(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(1)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{})
	g := newPoolGate()
	if err := p.Submit(ctx, g.call, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetNextUnordered(ctx, 20*time.Millisecond); !errors.Is(err, ErrPoolTimeout) {
		t.Fatalf("GetNextUnordered: err = %v, want ErrPoolTimeout", err)
	}
	if !p.HasNext() {
		t.Fatal("HasNext = false after a timeout; the call must stay outstanding")
	}
	// ignore_if_timedout=True: give up on the call.
	if n := p.Abandon(); n != 1 {
		t.Fatalf("Abandon = %d, want 1", n)
	}
	if p.HasNext() {
		t.Fatal("HasNext after Abandon")
	}
	if _, err := p.GetNextUnordered(ctx, 0); !errors.Is(err, ErrPoolEmpty) {
		t.Fatalf("get after Abandon: err = %v, want ErrPoolEmpty", err)
	}
	// Unlike Ray, the abandoned call keeps its actor busy until it returns:
	// a new call is queued behind it, then runs on the same actor.
	if err := p.Submit(ctx, poolCallDouble, 5); err != nil {
		t.Fatal(err)
	}
	if p.HasFree() || p.NumQueued() != 1 {
		t.Fatalf("HasFree = %v, NumQueued = %d; want false, 1 while the abandoned call runs", p.HasFree(), p.NumQueued())
	}
	close(g.release)
	if v, err := p.GetNextUnordered(ctx, PoolNoTimeout); err != nil || v != 10 {
		t.Fatalf("GetNextUnordered = %d, %v; want 10, nil (not the abandoned result)", v, err)
	}
	if got := actors[0].calls.Load(); got != 2 {
		t.Fatalf("actor ran %d calls, want 2", got)
	}
}

// Ray's test_multiple_returns: a method with num_returns=2; in Go the result
// type is simply a pair.
func TestPoolRayMultipleReturns(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, struct{}, [2]int](t, newPoolTestActors(2), PoolOptions{})
	bar := func(context.Context, *poolTestActor, struct{}) ([2]int, error) { return [2]int{1, 2}, nil }
	for range 4 {
		if err := p.Submit(ctx, bar, struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for p.HasNext() {
		got, err := p.GetNext(ctx, PoolNoTimeout)
		if err != nil || got != [2]int{1, 2} {
			t.Fatalf("GetNext = %v, %v; want [1 2], nil", got, err)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("collected %d results, want 4", n)
	}
	if err := p.Submit(ctx, bar, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got, err := p.GetNext(ctx, time.Minute); err != nil || got != [2]int{1, 2} {
		t.Fatalf("GetNext with timeout = %v, %v; want [1 2], nil", got, err)
	}
}

func TestPoolRayPopIdle(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(1)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{})
	g := newPoolGate()
	if err := p.Submit(ctx, g.call, 1); err != nil {
		t.Fatal(err)
	}
	if a, ok := p.PopIdle(); ok {
		t.Fatalf("PopIdle = %v, true while the only actor is busy", a)
	}
	if p.HasFree() {
		t.Fatal("HasFree while the only actor is busy")
	}
	close(g.release)
	if v, err := p.GetNext(ctx, PoolNoTimeout); err != nil || v != 2 {
		t.Fatalf("GetNext = %d, %v; want 2, nil", v, err)
	}
	if !p.HasFree() {
		t.Fatal("HasFree = false after the call returned")
	}
	if a, ok := p.PopIdle(); !ok || a != actors[0] {
		t.Fatalf("PopIdle = %v, %v; want %v, true", a, ok, actors[0])
	}
	if p.HasFree() || p.NumActors() != 0 {
		t.Fatalf("after PopIdle: HasFree = %v, NumActors = %d; want false, 0", p.HasFree(), p.NumActors())
	}
}

func TestPoolRayPush(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(3)
	a1, a2, a3 := actors[0], actors[1], actors[2]
	p := newTestPool[*poolTestActor, int, int](t, []*poolTestActor{a1}, PoolOptions{})
	g := newPoolGate()
	if err := p.Submit(ctx, g.call, 1); err != nil {
		t.Fatal(err)
	}
	if p.HasFree() {
		t.Fatal("HasFree while a1 is busy")
	}
	if err := p.Push(a1); !errors.Is(err, ErrPoolDuplicateActor) {
		t.Fatalf("Push(a1) = %v, want ErrPoolDuplicateActor", err)
	}
	if err := p.Push(a2); err != nil {
		t.Fatal(err)
	}
	if !p.HasFree() {
		t.Fatal("HasFree = false after pushing a2")
	}
	for range 2 {
		if err := p.Submit(ctx, g.call, 1); err != nil {
			t.Fatal(err)
		}
	}
	if p.HasFree() || p.NumQueued() != 1 {
		t.Fatalf("HasFree = %v, NumQueued = %d; want false, 1", p.HasFree(), p.NumQueued())
	}
	if err := p.Push(a3); err != nil {
		t.Fatal(err)
	}
	if p.HasFree() || p.NumQueued() != 0 {
		t.Fatalf("after Push(a3): HasFree = %v, NumQueued = %d; want false, 0 (a3 took the queued call)",
			p.HasFree(), p.NumQueued())
	}
	g.waitStarted(t, 3)
	if a3.calls.Load() != 1 {
		t.Fatalf("a3 ran %d calls, want 1", a3.calls.Load())
	}
	close(g.release)
	for range 3 {
		if v, err := p.GetNext(ctx, PoolNoTimeout); err != nil || v != 2 {
			t.Fatalf("GetNext = %d, %v; want 2, nil", v, err)
		}
	}
	if p.NumActors() != 3 {
		t.Fatalf("NumActors = %d, want 3", p.NumActors())
	}
}

// ---- Ordering rules ----

// poolStepper completes calls in an order the test chooses: call v blocks until
// step v is released.
type poolStepper struct{ steps []chan struct{} }

func newPoolStepper(n int) *poolStepper {
	s := &poolStepper{steps: make([]chan struct{}, n)}
	for i := range s.steps {
		s.steps[i] = make(chan struct{})
	}
	return s
}

func (s *poolStepper) call(ctx context.Context, _ *poolTestActor, v int) (int, error) {
	select {
	case <-s.steps[v]:
		return v, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

func TestPoolGetNextKeepsSubmissionOrder(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	s := newPoolStepper(4)
	for v := range 4 {
		if err := p.Submit(ctx, s.call, v); err != nil {
			t.Fatal(err)
		}
	}
	for v := 3; v >= 0; v-- { // finish in reverse
		close(s.steps[v])
	}
	for want := range 4 {
		if got, err := p.GetNext(ctx, PoolNoTimeout); err != nil || got != want {
			t.Fatalf("GetNext = %d, %v; want %d, nil", got, err, want)
		}
	}
}

// Ray's mixing rule: GetNextUnordered moves the ordered cursor past the call
// it returns; earlier calls can then only be collected unordered, and a
// GetNext with nothing reachable fails rather than skipping or hanging.
func TestPoolMixedGetRules(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(4), PoolOptions{})
	s := newPoolStepper(4)
	for v := range 4 {
		if err := p.Submit(ctx, s.call, v); err != nil {
			t.Fatal(err)
		}
	}
	close(s.steps[1])
	if got, err := p.GetNextUnordered(ctx, PoolNoTimeout); err != nil || got != 1 {
		t.Fatalf("GetNextUnordered = %d, %v; want 1, nil", got, err)
	}
	// The cursor is now at 2; call 0 is behind it.
	close(s.steps[2])
	if got, err := p.GetNext(ctx, PoolNoTimeout); err != nil || got != 2 {
		t.Fatalf("GetNext = %d, %v; want 2, nil", got, err)
	}
	close(s.steps[3])
	if got, err := p.GetNextUnordered(ctx, PoolNoTimeout); err != nil || got != 3 {
		t.Fatalf("GetNextUnordered = %d, %v; want 3, nil", got, err)
	}
	// Only call 0 remains, behind the cursor.
	if _, err := p.GetNext(ctx, PoolNoTimeout); !errors.Is(err, ErrPoolOrder) {
		t.Fatalf("GetNext: err = %v, want ErrPoolOrder", err)
	}
	if !p.HasNext() {
		t.Fatal("HasNext = false with call 0 outstanding")
	}
	close(s.steps[0])
	if got, err := p.GetNextUnordered(ctx, PoolNoTimeout); err != nil || got != 0 {
		t.Fatalf("GetNextUnordered = %d, %v; want 0, nil", got, err)
	}
	if p.HasNext() {
		t.Fatal("HasNext after collecting everything")
	}
}

func TestPoolCallErrorReturnedWithResult(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(2), PoolOptions{})
	errOdd := errors.New("odd value")
	fn := func(_ context.Context, _ *poolTestActor, v int) (int, error) {
		if v%2 == 1 {
			return -v, fmt.Errorf("value %d: %w", v, errOdd)
		}
		return v, nil
	}
	for v := range 4 {
		if err := p.Submit(ctx, fn, v); err != nil {
			t.Fatal(err)
		}
	}
	for v := range 4 {
		got, err := p.GetNext(ctx, PoolNoTimeout)
		if v%2 == 1 {
			if !errors.Is(err, errOdd) || got != -v {
				t.Fatalf("GetNext = %d, %v; want %d, errOdd", got, err, -v)
			}
		} else if err != nil || got != v {
			t.Fatalf("GetNext = %d, %v; want %d, nil", got, err, v)
		}
	}
	var n int
	for got, err := range p.Map(ctx, fn, []int{0, 1, 2}) {
		if (err != nil) != (n == 1) || (n == 1 && got != -1) {
			t.Fatalf("Map element %d = %d, %v", n, got, err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("Map yielded %d elements, want 3 (call errors do not stop it)", n)
	}
}

// Map must also drop calls of earlier submits that were still queued: they
// never run. One actor is busy with value 6 and value 7 waits behind it.
func TestPoolMapDropsQueuedEarlierSubmits(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(1), PoolOptions{})
	release := make(chan struct{})
	var mu sync.Mutex
	var ran []int
	fn := func(_ context.Context, _ *poolTestActor, v int) (int, error) {
		mu.Lock()
		ran = append(ran, v)
		mu.Unlock()
		if v == 6 {
			<-release
		}
		return 2 * v, nil
	}
	for _, v := range []int{6, 7} {
		if err := p.Submit(ctx, fn, v); err != nil {
			t.Fatal(err)
		}
	}
	seq := p.Map(ctx, fn, []int{1, 2, 3})
	close(release)
	var got []int
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if want := []int{2, 4, 6}; !slices.Equal(got, want) {
		t.Fatalf("Map = %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(ran, 7) {
		t.Fatalf("calls ran %v: the queued earlier submit 7 should have been dropped", ran)
	}
}

// Map with more values than actors plus queue room submits the rest while
// its sequence is consumed, and breaking early abandons the remainder.
func TestPoolMapLargerThanQueue(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(2), PoolOptions{MaxPending: 3})
	values := make([]int, 100)
	for i := range values {
		values[i] = i
	}
	i := 0
	for v, err := range p.Map(ctx, poolCallDouble, values) {
		if err != nil || v != 2*i {
			t.Fatalf("element %d = %d, %v", i, v, err)
		}
		if q := p.NumQueued(); q > 3 {
			t.Fatalf("NumQueued = %d exceeds MaxPending 3", q)
		}
		i++
	}
	if i != len(values) {
		t.Fatalf("Map yielded %d results, want %d", i, len(values))
	}
	i = 0
	for range p.MapUnordered(ctx, poolCallDouble, values) {
		if i++; i == 10 {
			break
		}
	}
	if p.HasNext() {
		t.Fatal("HasNext after breaking out of MapUnordered; the rest should be abandoned")
	}
}

// ---- Dead actors ----

var errPoolActorDied = errors.New("actor died")

func isPoolActorDied(err error) bool { return errors.Is(err, errPoolActorDied) }

// mortal is a CallFunc whose actors named in dead die on their first call.
func poolMortal(dead ...*poolTestActor) CallFunc[*poolTestActor, int, int] {
	return func(_ context.Context, a *poolTestActor, v int) (int, error) {
		a.calls.Add(1)
		if slices.Contains(dead, a) {
			return -1, fmt.Errorf("%s: %w", a.name, errPoolActorDied)
		}
		return 2 * v, nil
	}
}

func TestPoolDeadActorRequeued(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(3)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{IsDead: isPoolActorDied, RequeueOnDeath: true})
	fn := poolMortal(actors[0])
	for v := range 20 {
		if err := p.Submit(ctx, fn, v); err != nil {
			t.Fatal(err)
		}
	}
	for v := range 20 {
		if got, err := p.GetNext(ctx, PoolNoTimeout); err != nil || got != 2*v {
			t.Fatalf("GetNext = %d, %v; want %d, nil (the dead actor's value must be redone)", got, err, 2*v)
		}
	}
	if got := actors[0].calls.Load(); got != 1 {
		t.Fatalf("dead actor ran %d calls, want 1: it must never get work again", got)
	}
	if n := p.NumActors(); n != 2 {
		t.Fatalf("NumActors = %d, want 2", n)
	}
	if got := actors[1].calls.Load() + actors[2].calls.Load(); got != 20 {
		t.Fatalf("live actors ran %d calls, want 20", got)
	}
}

func TestPoolDeadActorErrorDelivered(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(2)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{IsDead: isPoolActorDied})
	fn := poolMortal(actors[0])
	var deaths, ok int
	for v := range 10 {
		if err := p.Submit(ctx, fn, v); err != nil {
			t.Fatal(err)
		}
	}
	for p.HasNext() {
		got, err := p.GetNextUnordered(ctx, PoolNoTimeout)
		switch {
		case isPoolActorDied(err) && got == -1:
			deaths++
		case err == nil:
			ok++
		default:
			t.Fatalf("GetNextUnordered = %d, %v", got, err)
		}
	}
	if deaths != 1 || ok != 9 {
		t.Fatalf("deaths = %d, ok = %d; want 1, 9", deaths, ok)
	}
	if p.NumActors() != 1 || actors[0].calls.Load() != 1 {
		t.Fatalf("NumActors = %d, dead actor calls = %d; want 1, 1", p.NumActors(), actors[0].calls.Load())
	}
}

// When every actor is dead, gets report ErrNoActors instead of hanging, the
// queued work survives, and a pushed replacement finishes it.
func TestPoolAllActorsDead(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			poolCheckLeaks(t)
			ctx := poolTestCtx(t)
			actors := newPoolTestActors(3)
			p := newTestPool[*poolTestActor, int, int](t, actors[:2], PoolOptions{IsDead: isPoolActorDied, RequeueOnDeath: true})
			fn := poolMortal(actors[0], actors[1])
			get := p.GetNext
			if !ordered {
				get = p.GetNextUnordered
			}
			for v := range 5 {
				if err := p.Submit(ctx, fn, v); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := get(ctx, PoolNoTimeout); !errors.Is(err, ErrNoActors) {
				t.Fatalf("get: err = %v, want ErrNoActors", err)
			}
			if p.NumActors() != 0 || !p.HasNext() || p.NumQueued() != 5 {
				t.Fatalf("NumActors = %d, HasNext = %v, NumQueued = %d; want 0, true, 5",
					p.NumActors(), p.HasNext(), p.NumQueued())
			}
			if err := p.Push(actors[2]); err != nil {
				t.Fatal(err)
			}
			var got []int
			for p.HasNext() {
				v, err := get(ctx, PoolNoTimeout)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			slices.Sort(got)
			if want := []int{0, 2, 4, 6, 8}; !slices.Equal(got, want) {
				t.Fatalf("results = %v, want %v", got, want)
			}
		})
	}
}

// A get already waiting when the last actor dies must wake up with
// ErrNoActors, and so must a Submit blocked on a full queue.
func TestPoolLastActorDiesWhileWaiting(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(1)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{MaxPending: 1, IsDead: isPoolActorDied, RequeueOnDeath: true})
	kill := make(chan struct{})
	started := make(chan struct{}, 1)
	fn := func(_ context.Context, _ *poolTestActor, v int) (int, error) {
		started <- struct{}{}
		<-kill
		return 0, errPoolActorDied
	}
	if err := p.Submit(ctx, fn, 0); err != nil { // runs
		t.Fatal(err)
	}
	if err := p.Submit(ctx, fn, 1); err != nil { // fills the queue
		t.Fatal(err)
	}
	<-started
	subErr := make(chan error, 1)
	getErr := make(chan error, 1)
	go func() { subErr <- p.Submit(ctx, fn, 2) }()
	go func() {
		_, err := p.GetNext(ctx, PoolNoTimeout)
		getErr <- err
	}()
	close(kill)
	for name, ch := range map[string]chan error{"Submit": subErr, "GetNext": getErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, ErrNoActors) {
				t.Fatalf("%s: err = %v, want ErrNoActors", name, err)
			}
		case <-time.After(poolTestWait):
			t.Fatalf("%s still blocked after the last actor died", name)
		}
	}
}

// ---- Beyond Ray ----

// ray-project/ray#50313: Ray pops idle actors LIFO, so in a submit/get loop
// the actor that just returned (an instantly failing one) is chosen again
// every time. The pool hands work to idle actors in FIFO order, so the
// failing actor gets its share (a third) and the healthy ones do the rest.
func TestPoolFairnessFailingActor(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(3)
	// Last in the idle list, as in the reproduction: with LIFO reuse
	// it would be picked for every one of the n tasks.
	bad := actors[2]
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{})
	errBad := errors.New("bad actor")
	fn := func(_ context.Context, a *poolTestActor, v int) (int, error) {
		a.calls.Add(1)
		if a == bad {
			return 0, errBad
		}
		time.Sleep(100 * time.Microsecond) // healthy actors are slow
		return v, nil
	}
	const n = 60
	failures := 0
	for v := range n {
		if err := p.Submit(ctx, fn, v); err != nil {
			t.Fatal(err)
		}
		if _, err := p.GetNext(ctx, PoolNoTimeout); errors.Is(err, errBad) {
			failures++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failures < n/3-1 || failures > n/3+1 {
		t.Fatalf("failing actor got %d of %d tasks, want about %d", failures, n, n/3)
	}
	for _, a := range actors {
		if c := a.calls.Load(); c < n/3-1 || c > n/3+1 {
			t.Fatalf("%s ran %d calls, want about %d", a.name, c, n/3)
		}
	}
}

func TestPoolBoundedQueue(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(1), PoolOptions{MaxPending: 2})
	g := newPoolGate()
	for v := range 3 { // one runs, two queue
		if err := p.Submit(ctx, g.call, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.TrySubmit(g.call, 3); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("TrySubmit on a full queue = %v, want ErrPoolFull", err)
	}

	// A Submit with a context that ends gives up with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() { cancelled <- p.Submit(cctx, g.call, 99) }()

	// A second Submit blocks until a call finishes.
	blocked := make(chan error, 1)
	go func() { blocked <- p.Submit(ctx, g.call, 3) }()

	cancel()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Submit with cancelled ctx = %v, want context.Canceled", err)
		}
	case <-time.After(poolTestWait):
		t.Fatal("Submit ignored its context")
	}
	select {
	case err := <-blocked:
		t.Fatalf("Submit returned %v while the queue was full", err)
	case <-time.After(20 * time.Millisecond):
	}
	if q := p.NumQueued(); q != 2 {
		t.Fatalf("NumQueued = %d, want 2", q)
	}
	g.waitStarted(t, 1)
	g.release <- struct{}{} // finish exactly one call
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(poolTestWait):
		t.Fatal("Submit still blocked after a call finished")
	}
	close(g.release)
	var got []int
	for p.HasNext() {
		v, err := p.GetNext(ctx, PoolNoTimeout)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if want := []int{0, 2, 4, 6}; !slices.Equal(got, want) {
		t.Fatalf("results = %v, want %v (value 99 must not have been submitted)", got, want)
	}
}

func TestPoolGetHonoursContext(t *testing.T) {
	poolCheckLeaks(t)
	p := newTestPool[*poolTestActor, int, int](t, newPoolTestActors(1), PoolOptions{})
	g := newPoolGate()
	ctx, cancel := context.WithCancel(poolTestCtx(t))
	if err := p.Submit(ctx, g.call, 1); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-g.started
		cancel()
	}()
	if _, err := p.GetNextUnordered(ctx, PoolNoTimeout); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetNextUnordered = %v, want context.Canceled", err)
	}
	if !p.HasNext() {
		t.Fatal("a cancelled get must leave the call outstanding")
	}
	close(g.release)
}

func TestPoolClose(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	p := NewPool[*poolTestActor, int, int](newPoolTestActors(1), PoolOptions{MaxPending: 1})
	var returned atomic.Bool
	started := make(chan struct{})
	blockUntilClosed := func(ctx context.Context, _ *poolTestActor, v int) (int, error) {
		close(started)
		<-ctx.Done() // only Close ends this call
		returned.Store(true)
		return 0, ctx.Err()
	}
	if err := p.Submit(ctx, blockUntilClosed, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(ctx, poolCallDouble, 1); err != nil { // queued
		t.Fatal(err)
	}
	<-started
	subErr := make(chan error, 1)
	getErr := make(chan error, 1)
	go func() { subErr <- p.Submit(ctx, poolCallDouble, 2) }()
	go func() {
		_, err := p.GetNextUnordered(ctx, PoolNoTimeout)
		getErr <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Fatal("Close returned before the running call")
	}
	for name, ch := range map[string]chan error{"Submit": subErr, "GetNextUnordered": getErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, ErrPoolClosed) {
				t.Fatalf("blocked %s = %v, want ErrPoolClosed", name, err)
			}
		case <-time.After(poolTestWait):
			t.Fatalf("%s still blocked after Close", name)
		}
	}
	if err := p.Submit(ctx, poolCallDouble, 3); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Submit after Close = %v, want ErrPoolClosed", err)
	}
	if _, err := p.GetNext(ctx, PoolNoTimeout); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("GetNext after Close = %v, want ErrPoolClosed", err)
	}
	if p.HasNext() {
		t.Fatal("HasNext after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestPoolNewPoolRejectsDuplicates(t *testing.T) {
	a := &poolTestActor{name: "a"}
	defer func() {
		if recover() == nil {
			t.Fatal("NewPool accepted the same actor twice")
		}
	}()
	NewPool[*poolTestActor, int, int]([]*poolTestActor{a, a}, PoolOptions{})
}

// Many goroutines submit and collect at once while actors are popped and
// pushed back; every value must come back exactly once. Run with -race.
func TestPoolConcurrentUse(t *testing.T) {
	poolCheckLeaks(t)
	ctx := poolTestCtx(t)
	actors := newPoolTestActors(4)
	p := newTestPool[*poolTestActor, int, int](t, actors, PoolOptions{MaxPending: 8})
	const submitters, perSubmitter, getters = 8, 300, 4
	const total = submitters * perSubmitter
	fn := func(_ context.Context, a *poolTestActor, v int) (int, error) {
		a.calls.Add(1)
		if v%7 == 0 {
			runtime.Gosched()
		}
		return v, nil
	}

	var seen [total]atomic.Int32
	var collected atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, submitters+getters+1)
	for s := range submitters {
		wg.Go(func() {
			for i := range perSubmitter {
				if err := p.Submit(ctx, fn, s*perSubmitter+i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for g := range getters {
		wg.Go(func() {
			for collected.Load() < total {
				var v int
				var err error
				if g%2 == 0 {
					v, err = p.GetNext(ctx, 5*time.Millisecond)
				} else {
					v, err = p.GetNextUnordered(ctx, 5*time.Millisecond)
				}
				switch {
				case err == nil:
					seen[v].Add(1)
					collected.Add(1)
				case errors.Is(err, ErrPoolEmpty), errors.Is(err, ErrPoolTimeout), errors.Is(err, ErrPoolOrder):
					runtime.Gosched()
				default:
					errs <- err
					return
				}
			}
		})
	}
	// Churn the actor set: pop an idle actor and push it back.
	stop := make(chan struct{})
	churn := sync.WaitGroup{}
	churn.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if a, ok := p.PopIdle(); ok {
				if err := p.Push(a); err != nil {
					errs <- err
					return
				}
			}
			_ = p.HasFree()
			runtime.Gosched()
		}
	})
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for v := range seen {
		if n := seen[v].Load(); n != 1 {
			t.Fatalf("value %d collected %d times, want 1", v, n)
		}
	}
	if p.NumActors() != 4 {
		t.Fatalf("NumActors = %d after churn, want 4", p.NumActors())
	}
	var calls int64
	for _, a := range actors {
		calls += a.calls.Load()
	}
	if calls != total {
		t.Fatalf("actors ran %d calls, want %d", calls, total)
	}
}

// ---- Benchmarks ----

// BenchmarkPoolDispatch pushes no-op calls through a 2-actor pool: one
// goroutine submits, the benchmark goroutine collects unordered.
func BenchmarkPoolDispatch(b *testing.B) {
	benchPoolDispatch(b, false)
}

// BenchmarkPoolDispatchOrdered is BenchmarkPoolDispatch collecting with
// GetNext.
func BenchmarkPoolDispatchOrdered(b *testing.B) {
	benchPoolDispatch(b, true)
}

func benchPoolDispatch(b *testing.B, ordered bool) {
	ctx := context.Background()
	p := NewPool[int, int, int]([]int{0, 1}, PoolOptions{})
	defer p.Close()
	noop := func(_ context.Context, _ int, v int) (int, error) { return v, nil }
	get := p.GetNextUnordered
	if ordered {
		get = p.GetNext
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		for i := range b.N {
			if err := p.Submit(ctx, noop, i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		for {
			_, err := get(ctx, PoolNoTimeout)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrPoolEmpty) { // the submitter is behind
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}

// BenchmarkPoolMap measures Map over no-op calls with 2 actors.
func BenchmarkPoolMap(b *testing.B) {
	ctx := context.Background()
	p := NewPool[int, int, int]([]int{0, 1}, PoolOptions{})
	defer p.Close()
	noop := func(_ context.Context, _ int, v int) (int, error) { return v, nil }
	values := make([]int, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for n < b.N {
		for _, err := range p.Map(ctx, noop, values[:min(len(values), b.N-n)]) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "tasks/s")
}

// BenchmarkPoolRoundTrip submits one no-op call and collects it before the
// next: the latency path, where every call finds its actor idle and starts a
// goroutine for it.
func BenchmarkPoolRoundTrip(b *testing.B) {
	ctx := context.Background()
	p := NewPool[int, int, int]([]int{0, 1}, PoolOptions{})
	defer p.Close()
	noop := func(_ context.Context, _ int, v int) (int, error) { return v, nil }
	b.ReportAllocs()
	start := time.Now()
	for i := range b.N {
		if err := p.Submit(ctx, noop, i); err != nil {
			b.Fatal(err)
		}
		if _, err := p.GetNext(ctx, PoolNoTimeout); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}
