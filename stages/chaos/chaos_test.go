package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness spawns actors of one chaos stage on a local runtime.
type harness struct {
	t     *testing.T
	rt    *local.Runtime
	proto stage.Stage
	n     int
}

func newHarness(t *testing.T, cfg Config) (*harness, *Counters) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return &harness{t: t, rt: rt, proto: s}, s.Counters()
}

// spawn starts and sets up a new actor; a set-up failure is returned.
func (h *harness) spawn() (runtime.Actor, error) {
	h.t.Helper()
	h.n++
	a, err := h.rt.Spawn(context.Background(), runtime.ActorSpec{
		Stage:  h.proto,
		Worker: stage.Worker{ID: fmt.Sprintf("chaos-%d", h.n), StageName: "chaos", Size: 1},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { a.Stop(context.Background()) })
	return a, a.Setup(context.Background(), nil)
}

func (h *harness) mustSpawn() runtime.Actor {
	h.t.Helper()
	a, err := h.spawn()
	if err != nil {
		h.t.Fatalf("setup: %v", err)
	}
	return a
}

func batch(ids ...string) []task.Task {
	var ts []task.Task
	for _, id := range ids {
		b := task.NewDocumentBatch("ds", "text", []string{"doc " + id})
		b.TaskID = id
		ts = append(ts, b)
	}
	return ts
}

func call(a runtime.Actor, ids ...string) ([]task.Task, error) {
	return a.Call(context.Background(), runtime.Process, batch(ids...))
}

func diedReason(err error) string {
	var d *runtime.DiedError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

func TestPassThrough(t *testing.T) {
	h, c := newHarness(t, Config{})
	a := h.mustSpawn()
	in := batch("a", "b")
	out, err := a.Call(context.Background(), runtime.Process, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("out = %v, want the input tasks unchanged", out)
	}
	if c.Passed.Load() != 2 || c.Calls.Load() != 1 || c.Attempts("a") != 1 {
		t.Fatalf("counters passed=%d calls=%d attempts=%d", c.Passed.Load(), c.Calls.Load(), c.Attempts("a"))
	}
	fg := task.NewFileGroup("ds", []string{"x"})
	if out, err := a.Call(context.Background(), runtime.Process, []task.Task{fg}); err != nil || out[0] != fg {
		t.Fatalf("file group pass-through: %v %v", out, err)
	}
}

func TestErrorIDsArePermanent(t *testing.T) {
	h, c := newHarness(t, Config{ErrorIDs: []string{"bad"}})
	a := h.mustSpawn()
	for i := range 4 {
		_, err := call(a, "ok1", "bad")
		if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), "bad") || diedReason(err) != "" {
			t.Fatalf("attempt %d: err = %v, want an injected error naming the task", i+1, err)
		}
	}
	if _, err := call(a, "ok1"); err != nil {
		t.Fatalf("batch without listed ids: %v", err)
	}
	if c.Errors.Load() != 4 || c.Attempts("ok1") != 5 {
		t.Fatalf("errors=%d attempts=%d", c.Errors.Load(), c.Attempts("ok1"))
	}
}

func TestErrorFractionIsDeterministicAndTransient(t *testing.T) {
	const n = 2000
	for _, attempts := range []int{1, 2} {
		h, c := newHarness(t, Config{ErrorFraction: 0.25, ErrorAttempts: attempts, Seed: 7})
		a := h.mustSpawn()
		faulty := 0
		for i := range n {
			key := fmt.Sprintf("fg_%04d_0", i)
			want := Faulty(7, key, 0.25)
			if want {
				faulty++
			}
			for k := 1; k <= attempts+1; k++ {
				_, err := call(a, key)
				if shouldFail := want && k <= attempts; (err != nil) != shouldFail {
					t.Fatalf("error_attempts=%d key %s attempt %d: err = %v, faulty = %v", attempts, key, k, err, want)
				}
				if err != nil && !errors.Is(err, ErrInjected) {
					t.Fatalf("unexpected error %v", err)
				}
			}
		}
		// The fraction is honoured statistically (binomial sd ≈ 19 for n=2000).
		if faulty < 400 || faulty > 600 {
			t.Fatalf("%d of %d batches faulty, want about %d", faulty, n, n/4)
		}
		if got := c.Errors.Load(); got != int64(faulty*attempts) {
			t.Fatalf("errors = %d, want %d", got, faulty*attempts)
		}
	}
	// Another seed picks other batches.
	same := 0
	for i := range n {
		key := fmt.Sprintf("fg_%04d_0", i)
		if Faulty(7, key, 0.25) == Faulty(8, key, 0.25) {
			same++
		}
	}
	if same == n {
		t.Fatal("seed does not change the faulty batches")
	}
	if Faulty(1, "x", 0) || !Faulty(1, "x", 1) {
		t.Fatal("fractions 0 and 1 must select none and all")
	}
}

func TestPanicOnCall(t *testing.T) {
	h, c := newHarness(t, Config{PanicOnCall: 3})
	a1 := h.mustSpawn()
	for _, id := range []string{"b1", "b2"} {
		if _, err := call(a1, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	_, err := call(a1, "b3")
	if diedReason(err) != "panic" || !strings.Contains(err.Error(), "call 3") {
		t.Fatalf("third call: err = %v, want a panic", err)
	}
	if _, err := call(a1, "b4"); diedReason(err) != "lost" {
		t.Fatalf("dead actor answered: %v", err)
	}
	// A replacement counts from zero. The victim b3 is not hit again when it
	// lands on the replacement's third call: the panic is owed to the next batch.
	a2 := h.mustSpawn()
	for _, id := range []string{"b4", "b5", "b3"} {
		if _, err := call(a2, id); err != nil {
			t.Fatalf("replacement %s: %v", id, err)
		}
	}
	if _, err := call(a2, "b6"); diedReason(err) != "panic" {
		t.Fatalf("owed panic did not strike b6: %v", err)
	}
	if c.Panics.Load() != 2 || c.Attempts("b3") != 2 {
		t.Fatalf("panics=%d attempts(b3)=%d", c.Panics.Load(), c.Attempts("b3"))
	}
}

func TestPanicEvery(t *testing.T) {
	h, c := newHarness(t, Config{PanicEvery: 2})
	a := h.mustSpawn()
	deaths := 0
	for i := range 10 {
		_, err := call(a, fmt.Sprintf("b%d", i))
		switch {
		case err == nil:
		case diedReason(err) == "panic":
			deaths++
			a = h.mustSpawn()
		default:
			t.Fatal(err)
		}
	}
	// Each actor survives one call and dies on its second.
	if deaths != 5 || c.Panics.Load() != 5 {
		t.Fatalf("deaths=%d panics=%d, want 5", deaths, c.Panics.Load())
	}
}

func TestPanicIDsArePoison(t *testing.T) {
	h, c := newHarness(t, Config{PanicIDs: []string{"poison"}})
	for i := range 3 {
		a := h.mustSpawn()
		if _, err := call(a, "x", "poison"); diedReason(err) != "panic" {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if c.Panics.Load() != 3 {
		t.Fatalf("panics = %d", c.Panics.Load())
	}
}

func TestHangUntilTimeout(t *testing.T) {
	h, c := newHarness(t, Config{HangIDs: []string{"stuck"}, HangOnCall: 2})
	a := h.mustSpawn()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Call(ctx, runtime.Process, batch("stuck")); diedReason(err) != "timeout" {
		t.Fatalf("hang_ids: err = %v, want a timeout death", err)
	}
	// hang_on_call: the second call of a fresh actor hangs; a cancelled
	// context (no deadline) releases it with an error.
	a = h.mustSpawn()
	if _, err := call(a, "ok"); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		for c.Hangs.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel2()
	}()
	_, err := a.Call(ctx2, runtime.Process, batch("ok2"))
	if !errors.Is(err, ErrInjected) || !errors.Is(err, context.Canceled) {
		t.Fatalf("hang_on_call: err = %v", err)
	}
	if c.Hangs.Load() != 2 {
		t.Fatalf("hangs = %d", c.Hangs.Load())
	}
}

func TestSetupFailures(t *testing.T) {
	h, c := newHarness(t, Config{SetupFailTimes: 2})
	for i := range 4 {
		a, err := h.spawn()
		if wantFail := i < 2; (err != nil) != wantFail {
			t.Fatalf("setup %d: err = %v", i+1, err)
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if c.Setups.Load() != 4 || c.SetupFailures.Load() != 2 || c.Teardowns.Load() != 4 {
		t.Fatalf("setups=%d failures=%d teardowns=%d", c.Setups.Load(), c.SetupFailures.Load(), c.Teardowns.Load())
	}

	h, c = newHarness(t, Config{SetupFailAlways: true})
	for range 3 {
		if _, err := h.spawn(); !errors.Is(err, ErrInjected) {
			t.Fatalf("setup_fail_always: err = %v", err)
		}
	}
	if c.SetupFailures.Load() != 3 {
		t.Fatalf("failures = %d", c.SetupFailures.Load())
	}
}

func TestSleepWatchesContext(t *testing.T) {
	h, c := newHarness(t, Config{Sleep: Duration(time.Millisecond)})
	a := h.mustSpawn()
	if _, err := call(a, "a"); err != nil {
		t.Fatal(err)
	}
	h2, _ := newHarness(t, Config{Sleep: Duration(time.Hour)})
	a2 := h2.mustSpawn()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a2.Call(ctx, runtime.Process, batch("b")); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep with a cancelled context: %v", err)
	}
	if c.Passed.Load() != 1 {
		t.Fatalf("passed = %d", c.Passed.Load())
	}
}

func TestCountersSharedBetweenActors(t *testing.T) {
	h, c := newHarness(t, Config{})
	a1, a2 := h.mustSpawn(), h.mustSpawn()
	if _, err := call(a1, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := call(a2, "x"); err != nil {
		t.Fatal(err)
	}
	if c.Calls.Load() != 2 || c.Setups.Load() != 2 || c.Attempts("x") != 2 {
		t.Fatalf("calls=%d setups=%d attempts=%d", c.Calls.Load(), c.Setups.Load(), c.Attempts("x"))
	}
}

func TestRegistryType(t *testing.T) {
	reg := stage.NewRegistry()
	reg.MustRegister(Type())
	s, err := reg.Build(stage.Descriptor{Type: TypeName, Name: "faults", Config: []byte(`{"sleep":"15ms","panic_on_call":3,"error_ids":["a"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	cs := stage.Unwrap(s).(*Stage)
	if s.Name() != "faults" || cs.Config().Sleep != Duration(15*time.Millisecond) || cs.Config().PanicOnCall != 3 || cs.Config().ErrorAttempts != 1 {
		t.Fatalf("built %s %+v", s.Name(), cs.Config())
	}
	for cfg, want := range map[string]string{
		`{"eror_fraction":0.1}`: `unknown field "eror_fraction"`,
		`{"error_fraction":2}`:  "outside [0, 1]",
		`{"sleep":"soon"}`:      "soon",
		`{"panic_every":-1}`:    "negative",
	} {
		_, err := reg.Build(stage.Descriptor{Type: TypeName, Config: []byte(cfg)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: err = %v, want %q", cfg, err, want)
		}
	}
	names := map[string]bool{}
	for _, f := range Type().Fields {
		names[f.Name] = true
	}
	for _, want := range []string{"error_fraction", "error_ids", "panic_on_call", "panic_every", "hang_ids", "hang_on_call", "setup_fail_times", "setup_fail_always", "sleep", "seed"} {
		if !names[want] {
			t.Errorf("field %s is not documented", want)
		}
	}
}
