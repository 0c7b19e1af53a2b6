package collective

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var sizes = []int{1, 2, 3, 4, 7}

// runGroup runs fn on every rank of a fresh group of the given size, each on
// its own goroutine with its own Comm, and returns the per-rank errors.
func runGroup(t *testing.T, size int, fn func(ctx context.Context, c *Comm) error) []error {
	t.Helper()
	h := NewLocalHub()
	id := NewGroupID()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, size)
	var wg sync.WaitGroup
	for r := range size {
		tr := mustJoin(t, h, id, r, size)
		wg.Go(func() {
			defer tr.Close()
			errs[r] = fn(ctx, New(tr))
		})
	}
	wg.Wait()
	if h.groupCount() != 0 {
		t.Errorf("hub still tracks the group after every rank closed")
	}
	return errs
}

// mustRun is runGroup that fails the test on any rank's error.
func mustRun(t *testing.T, size int, fn func(ctx context.Context, c *Comm) error) {
	t.Helper()
	for r, err := range runGroup(t, size, fn) {
		if err != nil {
			t.Errorf("size %d rank %d: %v", size, r, err)
		}
	}
}

func TestBarrier(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			const rounds = 20
			var arrived [rounds]atomic.Int32
			mustRun(t, n, func(ctx context.Context, c *Comm) error {
				for i := range rounds {
					if c.Rank() == i%n {
						time.Sleep(time.Millisecond) // a straggler each round
					}
					arrived[i].Add(1)
					if err := c.Barrier(ctx); err != nil {
						return err
					}
					if got := arrived[i].Load(); got != int32(n) {
						return fmt.Errorf("round %d: left the barrier when %d of %d ranks had arrived", i, got, n)
					}
				}
				return nil
			})
		})
	}
}

func payload(rank, salt int) []byte {
	// Lengths vary by rank and include the empty message.
	b := make([]byte, (rank*7+salt)%13)
	for i := range b {
		b[i] = byte(rank*31 + salt*17 + i)
	}
	return b
}

func TestBroadcast(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mustRun(t, n, func(ctx context.Context, c *Comm) error {
				for root := range n {
					for salt := range 3 {
						var data []byte
						if c.Rank() == root {
							data = payload(root, salt)
						} else {
							data = []byte("ignored")
						}
						got, err := c.Broadcast(ctx, root, data)
						if err != nil {
							return err
						}
						if want := payload(root, salt); !bytes.Equal(got, want) {
							return fmt.Errorf("root %d salt %d: got %v, want %v", root, salt, got, want)
						}
					}
				}
				return nil
			})
		})
	}
}

func TestAllGather(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mustRun(t, n, func(ctx context.Context, c *Comm) error {
				for salt := range 4 {
					in := payload(c.Rank(), salt)
					keep := bytes.Clone(in)
					got, err := c.AllGather(ctx, in)
					if err != nil {
						return err
					}
					if len(got) != n {
						return fmt.Errorf("got %d entries, want %d", len(got), n)
					}
					for i := range n {
						if !bytes.Equal(got[i], payload(i, salt)) {
							return fmt.Errorf("salt %d: entry %d = %v, want %v", salt, i, got[i], payload(i, salt))
						}
					}
					// Received buffers are private: scribbling on them must
					// not change what other ranks see or our input.
					for i := range n {
						if i != c.Rank() {
							for j := range got[i] {
								got[i][j] = 0xEE
							}
						}
					}
					if !bytes.Equal(in, keep) {
						return fmt.Errorf("AllGather changed its input")
					}
				}
				return nil
			})
		})
	}
}

func TestAllToAll(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mustRun(t, n, func(ctx context.Context, c *Comm) error {
				msg := func(from, to, round int) []byte {
					if (from+to+round)%4 == 0 {
						return nil // empty messages are legal
					}
					return fmt.Appendf(nil, "%d->%d#%d", from, to, round)
				}
				for round := range 5 {
					send := make([][]byte, n)
					for j := range n {
						send[j] = msg(c.Rank(), j, round)
					}
					got, err := c.AllToAll(ctx, send)
					if err != nil {
						return err
					}
					for i := range n {
						if !bytes.Equal(got[i], msg(i, c.Rank(), round)) {
							return fmt.Errorf("round %d: from %d got %q, want %q", round, i, got[i], msg(i, c.Rank(), round))
						}
					}
					for i := range n {
						if i != c.Rank() {
							for j := range got[i] {
								got[i][j] = '!'
							}
						}
					}
				}
				if _, err := c.AllToAll(ctx, make([][]byte, n+1)); err == nil {
					return fmt.Errorf("AllToAll with %d buffers succeeded", n+1)
				}
				return nil
			})
		})
	}
}

// Per-rank inputs for the reductions, with negatives, zeros and extremes.
func intInput(rank int) []int64 {
	return []int64{int64(rank) - 3, int64(rank * rank), math.MinInt64 + int64(rank), -int64(rank) * 1000, 0}
}

func uintInput(rank int) []uint64 {
	return []uint64{uint64(rank), math.MaxUint64 - uint64(rank), uint64(rank%3) << 40, 7}
}

func floatInput(rank int) []float64 {
	return []float64{float64(rank) * 0.1, -1.5 * float64(rank), 1e16 + float64(rank), 1.0 / float64(rank+3), -math.MaxFloat64 / 16 * float64(rank%3)}
}

func reduceRef[T int64 | uint64 | float64](op Op, n int, in func(int) []T) []T {
	acc := slices.Clone(in(0))
	for r := 1; r < n; r++ {
		for i, x := range in(r) {
			switch op {
			case Sum:
				acc[i] += x
			case Min:
				acc[i] = min(acc[i], x)
			case Max:
				acc[i] = max(acc[i], x)
			}
		}
	}
	return acc
}

func TestAllReduce(t *testing.T) {
	for _, n := range sizes {
		for _, op := range []Op{Sum, Min, Max} {
			t.Run(fmt.Sprintf("%d/%v", n, op), func(t *testing.T) {
				floats := make([][]float64, n)
				mustRun(t, n, func(ctx context.Context, c *Comm) error {
					r := c.Rank()
					in := intInput(r)
					gi, err := c.AllReduceInt64(ctx, op, in)
					if err != nil {
						return err
					}
					if want := reduceRef(op, n, intInput); !slices.Equal(gi, want) {
						return fmt.Errorf("int64 %v = %v, want %v", op, gi, want)
					}
					if !slices.Equal(in, intInput(r)) {
						return fmt.Errorf("AllReduceInt64 changed its input")
					}
					gu, err := c.AllReduceUint64(ctx, op, uintInput(r))
					if err != nil {
						return err
					}
					if want := reduceRef(op, n, uintInput); !slices.Equal(gu, want) {
						return fmt.Errorf("uint64 %v = %v, want %v", op, gu, want)
					}
					gf, err := c.AllReduceFloat64(ctx, op, floatInput(r))
					if err != nil {
						return err
					}
					want := reduceRef(op, n, floatInput)
					for i := range want {
						if d := math.Abs(gf[i] - want[i]); !(gf[i] == want[i] || d <= 1e-9*math.Abs(want[i])) {
							return fmt.Errorf("float64 %v = %v, want %v", op, gf, want)
						}
					}
					floats[r] = gf
					// Empty vectors are fine.
					if e, err := c.AllReduceInt64(ctx, op, nil); err != nil || len(e) != 0 {
						return fmt.Errorf("empty AllReduce = %v, %v", e, err)
					}
					return nil
				})
				// Every rank must hold the same bits.
				for r := 1; r < n; r++ {
					for i := range floats[0] {
						if math.Float64bits(floats[r][i]) != math.Float64bits(floats[0][i]) {
							t.Fatalf("float results differ: rank 0 %v, rank %d %v", floats[0], r, floats[r])
						}
					}
				}
			})
		}
	}
}

func TestAllReduceFloatNaN(t *testing.T) {
	mustRun(t, 3, func(ctx context.Context, c *Comm) error {
		v := []float64{1}
		if c.Rank() == 2 {
			v[0] = math.NaN()
		}
		for _, op := range []Op{Sum, Min, Max} {
			got, err := c.AllReduceFloat64(ctx, op, v)
			if err != nil {
				return err
			}
			if !math.IsNaN(got[0]) {
				return fmt.Errorf("%v with a NaN = %v, want NaN", op, got[0])
			}
		}
		return nil
	})
}

func TestAllReduceLengthMismatch(t *testing.T) {
	for _, n := range []int{2, 3, 4, 7} {
		for bad := range n {
			errs := runGroup(t, n, func(ctx context.Context, c *Comm) error {
				v := make([]int64, 3)
				if c.Rank() == bad {
					v = make([]int64, 4)
				}
				_, err := c.AllReduceInt64(ctx, Sum, v)
				return err
			})
			for r, err := range errs {
				if err == nil {
					t.Errorf("size %d, rank %d has the odd length: rank %d got no error", n, bad, r)
				}
			}
		}
	}
}

func TestArgumentErrors(t *testing.T) {
	mustRun(t, 1, func(ctx context.Context, c *Comm) error {
		if _, err := c.Broadcast(ctx, 1, nil); err == nil {
			return fmt.Errorf("Broadcast with root 1 in a 1-rank group succeeded")
		}
		if _, err := c.AllReduceInt64(ctx, Op(0), []int64{1}); err == nil {
			return fmt.Errorf("AllReduce with the zero Op succeeded")
		}
		if _, err := c.AllReduceFloat64(ctx, Op(42), []float64{1}); err == nil {
			return fmt.Errorf("AllReduce with Op(42) succeeded")
		}
		if _, err := c.AllToAll(ctx, nil); err == nil {
			return fmt.Errorf("AllToAll with no buffers succeeded")
		}
		return nil
	})
	if Sum.String() != "sum" || Min.String() != "min" || Max.String() != "max" || Op(9).String() != "Op(9)" {
		t.Errorf("Op names: %v %v %v %v", Sum, Min, Max, Op(9))
	}
}

// TestMixedSequence drives a random but rank-agreed sequence of collectives;
// ranks run at different speeds so fast ranks are often a call ahead and the
// per-call tags must keep the messages apart.
func TestMixedSequence(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mustRun(t, n, func(ctx context.Context, c *Comm) error {
				plan := rand.New(rand.NewPCG(42, uint64(n))) // same plan on all ranks
				jitter := rand.New(rand.NewPCG(uint64(c.Rank()), 7))
				r := c.Rank()
				for step := range 150 {
					if jitter.IntN(10) == 0 {
						time.Sleep(time.Duration(jitter.IntN(200)) * time.Microsecond)
					}
					switch kind := plan.IntN(6); kind {
					case 0:
						if err := c.Barrier(ctx); err != nil {
							return err
						}
					case 1:
						root := plan.IntN(n)
						got, err := c.Broadcast(ctx, root, payload(root, step))
						if err != nil {
							return err
						}
						if !bytes.Equal(got, payload(root, step)) {
							return fmt.Errorf("step %d broadcast: got %v", step, got)
						}
					case 2:
						got, err := c.AllGather(ctx, payload(r, step))
						if err != nil {
							return err
						}
						for i := range n {
							if !bytes.Equal(got[i], payload(i, step)) {
								return fmt.Errorf("step %d allgather: entry %d = %v", step, i, got[i])
							}
						}
					case 3:
						send := make([][]byte, n)
						for j := range n {
							send[j] = fmt.Appendf(nil, "%d>%d@%d", r, j, step)
						}
						got, err := c.AllToAll(ctx, send)
						if err != nil {
							return err
						}
						for i := range n {
							if want := fmt.Sprintf("%d>%d@%d", i, r, step); string(got[i]) != want {
								return fmt.Errorf("step %d alltoall: from %d got %q, want %q", step, i, got[i], want)
							}
						}
					case 4:
						got, err := c.AllReduceInt64(ctx, Sum, []int64{int64(r), int64(step)})
						if err != nil {
							return err
						}
						if want := []int64{int64(n * (n - 1) / 2), int64(step * n)}; !slices.Equal(got, want) {
							return fmt.Errorf("step %d allreduce: got %v, want %v", step, got, want)
						}
					case 5:
						got, err := c.AllReduceUint64(ctx, Max, []uint64{uint64(r * step)})
						if err != nil {
							return err
						}
						if want := uint64((n - 1) * step); got[0] != want {
							return fmt.Errorf("step %d allreduce max: got %d, want %d", step, got[0], want)
						}
					}
				}
				return nil
			})
		})
	}
}

// TestCancel checks that a collective waiting on a rank that never shows up
// returns promptly with the context's error, for every collective.
func TestCancel(t *testing.T) {
	calls := map[string]func(ctx context.Context, c *Comm) error{
		"barrier": func(ctx context.Context, c *Comm) error { return c.Barrier(ctx) },
		"broadcast": func(ctx context.Context, c *Comm) error { // the absent rank is the root
			_, err := c.Broadcast(ctx, c.Size()-1, []byte("x"))
			return err
		},
		"allgather": func(ctx context.Context, c *Comm) error { _, err := c.AllGather(ctx, []byte("x")); return err },
		"alltoall": func(ctx context.Context, c *Comm) error {
			_, err := c.AllToAll(ctx, make([][]byte, c.Size()))
			return err
		},
		"allreduce": func(ctx context.Context, c *Comm) error {
			_, err := c.AllReduceFloat64(ctx, Sum, []float64{1})
			return err
		},
	}
	for _, n := range []int{2, 3, 4, 7} {
		for name, call := range calls {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				h := NewLocalHub()
				ctx, cancel := context.WithCancel(context.Background())
				absent := mustJoin(t, h, "g", n-1, n) // joins but never calls
				var wg sync.WaitGroup
				errs := make([]error, n-1)
				for r := range n - 1 {
					tr := mustJoin(t, h, "g", r, n)
					wg.Go(func() {
						defer tr.Close()
						errs[r] = call(ctx, New(tr))
					})
				}
				time.Sleep(5 * time.Millisecond)
				cancel()
				guard(t, "cancelled "+name, wg.Wait)
				absent.Close()
				blocked := 0
				for r, err := range errs {
					if err == nil {
						continue // this rank's part did not depend on the absent rank
					}
					blocked++
					if !errors.Is(err, context.Canceled) {
						t.Errorf("rank %d: %v, want context.Canceled", r, err)
					}
				}
				if blocked == 0 {
					t.Errorf("no rank waited for the absent rank")
				}
			})
		}
	}
	// An already-cancelled context fails fast even with nothing to wait for.
	mustRun(t, 1, func(_ context.Context, c *Comm) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Barrier(ctx); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Barrier with a cancelled ctx = %v", err)
		}
		return nil
	})
}

// TestCloseUnblocksCollective checks that closing a rank's transport while it
// waits inside a collective makes the collective fail with ErrClosed.
func TestCloseUnblocksCollective(t *testing.T) {
	h := NewLocalHub()
	a := mustJoin(t, h, "g", 0, 3)
	b := mustJoin(t, h, "g", 1, 3)
	c := mustJoin(t, h, "g", 2, 3)
	defer b.Close()
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := New(a).AllGather(context.Background(), []byte("x"))
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	a.Close()
	guard(t, "AllGather after Close", func() {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("AllGather on a closed transport = %v, want ErrClosed", err)
		}
	})
}

// countingTransport wraps a real transport and counts the messages it sends.
type countingTransport struct {
	Transport
	sent atomic.Int64
}

func (c *countingTransport) Send(ctx context.Context, to int, tag uint64, msg []byte) error {
	c.sent.Add(1)
	return c.Transport.Send(ctx, to, tag, msg)
}

// TestMessageCounts checks the cost model: AllGather and AllToAll send n-1
// messages from every rank (no funnelling through a root), and Barrier
// ceil(log2 n).
func TestMessageCounts(t *testing.T) {
	for _, n := range sizes {
		h := NewLocalHub()
		cts := make([]*countingTransport, n)
		for r := range n {
			cts[r] = &countingTransport{Transport: mustJoin(t, h, "g", r, n)}
		}
		step := func(name string, want func(rank int) int64, fn func(c *Comm) error) {
			var wg sync.WaitGroup
			for r := range n {
				cts[r].sent.Store(0)
				wg.Go(func() {
					if err := fn(New(cts[r])); err != nil {
						t.Errorf("size %d rank %d %s: %v", n, r, name, err)
					}
				})
			}
			wg.Wait()
			for r := range n {
				if got := cts[r].sent.Load(); got != want(r) {
					t.Errorf("size %d rank %d %s: sent %d messages, want %d", n, r, name, got, want(r))
				}
			}
		}
		ctx := context.Background()
		step("alltoall", func(int) int64 { return int64(n - 1) }, func(c *Comm) error {
			_, err := c.AllToAll(ctx, make([][]byte, n))
			return err
		})
		step("allgather", func(int) int64 { return int64(n - 1) }, func(c *Comm) error {
			_, err := c.AllGather(ctx, []byte("x"))
			return err
		})
		logn := int64(0)
		for d := 1; d < n; d *= 2 {
			logn++
		}
		step("barrier", func(int) int64 { return logn }, func(c *Comm) error { return c.Barrier(ctx) })
		var total atomic.Int64
		step("broadcast", func(r int) int64 { return cts[r].sent.Load() }, func(c *Comm) error {
			_, err := c.Broadcast(ctx, n/2, []byte("x"))
			return err
		})
		for r := range n {
			total.Add(cts[r].sent.Load())
		}
		if total.Load() != int64(n-1) {
			t.Errorf("size %d broadcast: %d messages in total, want %d", n, total.Load(), n-1)
		}
		for _, ct := range cts {
			ct.Close()
		}
	}
}
