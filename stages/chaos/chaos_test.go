package chaos

import (
	"context"
	"encoding/json"
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

// harness spawns actors of one chaos stage on a local runtime that builds
// each actor from the stage's descriptor and sends every call through its
// wire form, so that actors share nothing, as in separate processes. It sums
// the counters the calls report.
type harness struct {
	t      *testing.T
	rt     *local.Runtime
	proto  stage.Stage
	n      int
	counts map[string]int64
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	s, rt := isolated(t, cfg)
	t.Cleanup(func() { rt.Close() })
	return &harness{t: t, rt: rt, proto: s, counts: map[string]int64{}}
}

// isolated builds a chaos stage from cfg through a registry, and a local
// runtime that builds every actor from the stage's descriptor and sends
// every call through its wire form.
func isolated(t *testing.T, cfg Config) (stage.Stage, *local.Runtime) {
	t.Helper()
	reg := stage.NewRegistry()
	reg.MustRegister(Type())
	if err := reg.RegisterError(ErrorName, ErrInjected); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Build(stage.Descriptor{Type: TypeName, Config: b})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir(), Isolate: true, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return s, rt
}

// spawn starts and sets up a new actor; a set-up failure is returned.
func (h *harness) spawn() (runtime.Actor, error) {
	h.t.Helper()
	desc, _ := stage.DescriptorOf(h.proto)
	a, err := h.rt.Spawn(context.Background(), runtime.ActorSpec{
		Stage:      h.proto,
		Descriptor: desc,
		Worker:     stage.WorkerSpec{ID: fmt.Sprintf("chaos-%d", h.n), StageName: "chaos", Size: 1},
	})
	h.n++
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

// callAt calls a with a batch of ids as the given attempt and adds the
// call's counters to the harness's.
func (h *harness) callAt(ctx context.Context, a runtime.Actor, attempt int, ids ...string) ([]task.Task, error) {
	res, err := a.Call(ctx, runtime.Call{Method: runtime.Process, Tasks: batch(ids...), Attempt: attempt})
	for k, v := range res.Counts {
		h.counts[k] += v
	}
	return res.Tasks, err
}

// call calls a with a batch of ids as a first attempt.
func (h *harness) call(a runtime.Actor, ids ...string) ([]task.Task, error) {
	return h.callAt(context.Background(), a, 1, ids...)
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

func diedReason(err error) string {
	var d *runtime.DiedError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

func TestPassThrough(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.mustSpawn()
	out, err := h.call(a, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].ID() != "a" || out[1].ID() != "b" || out[0].(*task.DocumentBatch).Texts()[0] != "doc a" {
		t.Fatalf("out = %v, want the input tasks unchanged", out)
	}
	if h.counts[CounterPassed] != 2 || h.counts[CounterCalls] != 1 {
		t.Fatalf("counters %v", h.counts)
	}
	fg := task.NewFileGroup("ds", []string{"x"})
	res, err := a.Call(context.Background(), runtime.Call{Method: runtime.Process, Tasks: []task.Task{fg}, Attempt: 1})
	if err != nil || len(res.Tasks) != 1 || res.Tasks[0].(*task.FileGroup).Paths[0] != "x" {
		t.Fatalf("file group pass-through: %v %v", res.Tasks, err)
	}
}

func TestErrorIDsArePermanent(t *testing.T) {
	h := newHarness(t, Config{ErrorIDs: []string{"bad"}})
	a := h.mustSpawn()
	for i := range 4 {
		_, err := h.callAt(context.Background(), a, i+1, "ok1", "bad")
		if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), "bad") || diedReason(err) != "" {
			t.Fatalf("attempt %d: err = %v, want an injected error naming the task", i+1, err)
		}
	}
	if _, err := h.call(a, "ok1"); err != nil {
		t.Fatalf("batch without listed ids: %v", err)
	}
	if h.counts[CounterErrors] != 4 || h.counts[CounterCalls] != 5 {
		t.Fatalf("counters %v", h.counts)
	}
}

func TestErrorFractionIsDeterministicAndTransient(t *testing.T) {
	const n = 500
	for _, attempts := range []int{1, 2} {
		h := newHarness(t, Config{ErrorFraction: 0.25, ErrorAttempts: attempts, Seed: 7})
		// Every attempt goes to a fresh actor: the attempt number alone
		// decides, no state is kept between actors.
		faulty := 0
		for i := range n {
			key := fmt.Sprintf("fg_%04d_0", i)
			want := Faulty(7, key, 0.25)
			if want {
				faulty++
			}
			for k := 1; k <= attempts+1; k++ {
				a := h.mustSpawn()
				_, err := h.callAt(context.Background(), a, k, key)
				if shouldFail := want && k <= attempts; (err != nil) != shouldFail {
					t.Fatalf("error_attempts=%d key %s attempt %d: err = %v, faulty = %v", attempts, key, k, err, want)
				}
				if err != nil && !errors.Is(err, ErrInjected) {
					t.Fatalf("unexpected error %v", err)
				}
				a.Stop(context.Background())
			}
		}
		// The fraction is honoured statistically (binomial sd ≈ 9.7 for n=500).
		if faulty < 85 || faulty > 165 {
			t.Fatalf("%d of %d batches faulty, want about %d", faulty, n, n/4)
		}
		if got := h.counts[CounterErrors]; got != int64(faulty*attempts) {
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
	h := newHarness(t, Config{PanicOnCall: 3})
	a1 := h.mustSpawn()
	for _, id := range []string{"b1", "b2"} {
		if _, err := h.call(a1, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	_, err := h.call(a1, "b3")
	if diedReason(err) != "panic" || !strings.Contains(err.Error(), "call 3") {
		t.Fatalf("third call: err = %v, want a panic", err)
	}
	if _, err := h.call(a1, "b4"); diedReason(err) != "lost" {
		t.Fatalf("dead actor answered: %v", err)
	}
	// A replacement counts from zero. The victim b3 is not hit again when it
	// lands on the replacement's third call (its second attempt): the panic
	// is owed to the next first attempt.
	a2 := h.mustSpawn()
	for i, id := range []string{"b4", "b5", "b3"} {
		if _, err := h.callAt(context.Background(), a2, 1+i/2, id); err != nil {
			t.Fatalf("replacement %s: %v", id, err)
		}
	}
	if _, err := h.call(a2, "b6"); diedReason(err) != "panic" {
		t.Fatalf("owed panic did not strike b6: %v", err)
	}
	if h.counts[CounterPanics] != 2 {
		t.Fatalf("counters %v", h.counts)
	}
}

func TestPanicEvery(t *testing.T) {
	h := newHarness(t, Config{PanicEvery: 2})
	a := h.mustSpawn()
	deaths := 0
	for i := range 10 {
		_, err := h.call(a, fmt.Sprintf("b%d", i))
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
	if deaths != 5 || h.counts[CounterPanics] != 5 {
		t.Fatalf("deaths=%d counters %v, want 5", deaths, h.counts)
	}
}

func TestPanicIDsArePoison(t *testing.T) {
	h := newHarness(t, Config{PanicIDs: []string{"poison"}})
	for i := range 3 {
		a := h.mustSpawn()
		if _, err := h.callAt(context.Background(), a, i+1, "x", "poison"); diedReason(err) != "panic" {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if h.counts[CounterPanics] != 3 {
		t.Fatalf("counters %v", h.counts)
	}
}

func TestHangUntilTimeout(t *testing.T) {
	h := newHarness(t, Config{HangIDs: []string{"stuck"}, HangOnCall: 2})
	a := h.mustSpawn()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.callAt(ctx, a, 1, "stuck"); diedReason(err) != "timeout" {
		t.Fatalf("hang_ids: err = %v, want a timeout death", err)
	}
	// hang_on_call: the second call of a fresh actor hangs until its
	// context is cancelled, here by its deadline.
	a = h.mustSpawn()
	if _, err := h.call(a, "ok"); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if _, err := h.callAt(ctx2, a, 1, "ok2"); diedReason(err) != "timeout" || time.Since(start) < 40*time.Millisecond {
		t.Fatalf("hang_on_call: err = %v after %s", err, time.Since(start))
	}
	// A batch on a later attempt is not hung by hang_on_call.
	a = h.mustSpawn()
	for i, id := range []string{"x1", "x2"} {
		if _, err := h.callAt(context.Background(), a, 2+i, id); err != nil {
			t.Fatalf("retry %s: %v", id, err)
		}
	}
}

func TestSetupFailures(t *testing.T) {
	h := newHarness(t, Config{SetupFailTimes: 2})
	for i := range 4 {
		a, err := h.spawn()
		if wantFail := i < 2; (err != nil) != wantFail || (err != nil && !errors.Is(err, ErrInjected)) {
			t.Fatalf("setup %d: err = %v", i+1, err)
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	h = newHarness(t, Config{SetupFailAlways: true})
	for range 3 {
		if _, err := h.spawn(); !errors.Is(err, ErrInjected) {
			t.Fatalf("setup_fail_always: err = %v", err)
		}
	}
}

func TestSleepWatchesContext(t *testing.T) {
	h := newHarness(t, Config{Sleep: Duration(time.Millisecond)})
	a := h.mustSpawn()
	if _, err := h.call(a, "a"); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, Config{Sleep: Duration(time.Hour)})
	a2 := h2.mustSpawn()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h2.callAt(ctx, a2, 1, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep with a cancelled context: %v", err)
	}
	if h.counts[CounterPassed] != 1 {
		t.Fatalf("counters %v", h.counts)
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
