package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

var errCustom = errors.New("custom sentinel")

func newWire(t *testing.T) *runtime.Wire {
	t.Helper()
	reg := stage.NewRegistry()
	if err := reg.RegisterError("test.custom", errCustom); err != nil {
		t.Fatal(err)
	}
	return runtime.NewWire(reg)
}

// roundTrip sends err through the error codec.
func roundTrip(t *testing.T, w *runtime.Wire, err error) error {
	t.Helper()
	got, derr := w.Errors.Unmarshal(w.Errors.Marshal(err))
	if derr != nil {
		t.Fatal(derr)
	}
	return got
}

// TestErrorCodec: what the executor tests about an error survives: the
// message, DiedError with its fields, IsPermanent, context errors and
// named sentinels, also when wrapped.
func TestErrorCodec(t *testing.T) {
	w := newWire(t)
	if got := roundTrip(t, w, nil); got != nil {
		t.Fatalf("nil became %v", got)
	}
	cases := []struct {
		name string
		err  error
		is   []error
		not  []error
	}{
		{"plain", errors.New("boom"), nil, []error{context.Canceled, errCustom}},
		{"canceled", fmt.Errorf("call: %w", context.Canceled), []error{context.Canceled}, []error{context.DeadlineExceeded}},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), []error{context.DeadlineExceeded}, nil},
		{"custom", fmt.Errorf("stage x: %w", errCustom), []error{errCustom}, nil},
		{"node lost", fmt.Errorf("spawn: %w", runtime.ErrNodeLost), []error{runtime.ErrNodeLost}, nil},
		{"peer closed", fmt.Errorf("recv: %w", collective.ErrPeerClosed), []error{collective.ErrPeerClosed}, []error{shuffle.ErrPeerClosed}},
		{"shuffle peer", fmt.Errorf("send: %w", shuffle.ErrPeerClosed), []error{shuffle.ErrPeerClosed}, nil},
	}
	for _, c := range cases {
		got := roundTrip(t, w, c.err)
		if got.Error() != c.err.Error() {
			t.Errorf("%s: message %q, want %q", c.name, got, c.err)
		}
		for _, s := range c.is {
			if !errors.Is(got, s) {
				t.Errorf("%s: errors.Is(%v) lost", c.name, s)
			}
		}
		for _, s := range c.not {
			if errors.Is(got, s) {
				t.Errorf("%s: errors.Is(%v) appeared", c.name, s)
			}
		}
		if stage.IsPermanent(got) || runtime.IsDied(got) {
			t.Errorf("%s: became permanent or a death", c.name)
		}
	}

	perm := stage.Permanent(fmt.Errorf("bad record in f.jsonl line 3: %w", errCustom))
	got := roundTrip(t, w, fmt.Errorf("stage r: %w", perm))
	if !stage.IsPermanent(got) || !errors.Is(got, errCustom) || got.Error() != "stage r: bad record in f.jsonl line 3: custom sentinel" {
		t.Errorf("permanent: %v (permanent %v)", got, stage.IsPermanent(got))
	}

	died := &runtime.DiedError{ActorID: "a-3", Reason: runtime.DiedTimeout, Err: context.DeadlineExceeded}
	got = roundTrip(t, w, died)
	var d *runtime.DiedError
	if !errors.As(got, &d) || d.ActorID != "a-3" || d.Reason != runtime.DiedTimeout || !errors.Is(got, context.DeadlineExceeded) || got.Error() != died.Error() {
		t.Errorf("died: %#v", got)
	}
	if _, ok := got.(*runtime.DiedError); !ok {
		t.Errorf("a bare DiedError decoded as %T", got)
	}
	wrapped := fmt.Errorf("actor a-3 (rank 1): process: %w", &runtime.DiedError{ActorID: "a-3", Reason: runtime.DiedLost, Err: fmt.Errorf("node n2: %w", runtime.ErrNodeLost)})
	got = roundTrip(t, w, wrapped)
	if !errors.As(got, &d) || d.Reason != runtime.DiedLost || !errors.Is(got, runtime.ErrNodeLost) || got.Error() != wrapped.Error() {
		t.Errorf("wrapped death: %v", got)
	}
	// A panic's value, site and stack survive inside the death, so the
	// executor can log one line and put the stack in the manifest.
	pe := &runtime.PanicError{Value: 42, Site: "x.(*S).ProcessBatch (x.go:7)", Stack: "goroutine 1 [running]:\n..."}
	got = roundTrip(t, w, &runtime.DiedError{ActorID: "a-4", Reason: runtime.DiedPanic, Err: pe})
	var p *runtime.PanicError
	if !errors.As(got, &p) || p.Site != pe.Site || p.Stack != pe.Stack || p.Error() != pe.Error() || !errors.As(got, &d) || d.Reason != runtime.DiedPanic {
		t.Errorf("panic: %#v", got)
	}
	if _, err := w.Errors.Unmarshal([]byte("{")); err == nil {
		t.Error("garbage decoded")
	}
}

// TestCallAndReplyRoundTrip: calls and replies cross with fresh tasks,
// their attempt, deadline, usage, counters and error.
func TestCallAndReplyRoundTrip(t *testing.T) {
	w := newWire(t)
	b := task.NewDocumentBatch("ds", "text", []string{"a", "b"})
	b.TaskID = "t1"
	b.Meta()["k"] = "v"
	dl := time.Unix(1700000000, 123)
	msg := runtime.CallMsg{ID: "c7", Actor: "st-2", Call: runtime.Call{Method: runtime.Insert, Tasks: []task.Task{b, task.NewEmpty()}, Attempt: 3}, Deadline: dl}
	enc, err := w.MarshalCall(msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.UnmarshalCall(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c7" || got.Actor != "st-2" || got.Call.Method != runtime.Insert || got.Call.Attempt != 3 || !got.Deadline.Equal(dl) || len(got.Call.Tasks) != 2 {
		t.Fatalf("call decoded as %+v", got)
	}
	gb := got.Call.Tasks[0].(*task.DocumentBatch)
	if gb == b || gb.ID() != "t1" || gb.Meta()["k"] != "v" || !reflect.DeepEqual(gb.Texts(), b.Texts()) {
		t.Fatalf("task decoded as %+v", gb)
	}
	noDeadline, _ := w.MarshalCall(runtime.CallMsg{ID: "c8"})
	if m, err := w.UnmarshalCall(noDeadline); err != nil || !m.Deadline.IsZero() || len(m.Call.Tasks) != 0 {
		t.Fatalf("no deadline: %+v %v", m, err)
	}

	reply := runtime.ReplyMsg{ID: "c7", Result: runtime.Result{Tasks: []task.Task{b}, Usage: runtime.Usage{CPU: 5 * time.Millisecond, PeakRSS: 1 << 30},
		Counts: map[string]int64{"x": 2, "y": -1}}, Err: stage.Permanent(errCustom)}
	enc, err = w.MarshalReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.UnmarshalReply(enc)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "c7" || r.Result.Usage != reply.Result.Usage || !reflect.DeepEqual(r.Result.Counts, reply.Result.Counts) ||
		!stage.IsPermanent(r.Err) || !errors.Is(r.Err, errCustom) || len(r.Result.Tasks) != 1 || r.Result.Tasks[0] == b {
		t.Fatalf("reply decoded as %+v", r)
	}

	// A task kind without a codec cannot cross: the error names it.
	if _, err := w.MarshalCall(runtime.CallMsg{Call: runtime.Call{Tasks: []task.Task{&odd{}}}}); err == nil || !strings.Contains(err.Error(), `"odd"`) {
		t.Fatalf("unregistered kind: %v", err)
	}
	if _, err := w.UnmarshalCall([]byte{9}); err == nil {
		t.Fatal("wrong version decoded")
	}
}

type odd struct{ task.Empty }

func (*odd) Kind() string { return "odd" }

// TestSpecAndGroupJSON: the wire form of an actor is its descriptor and
// worker spec; the live stage never crosses.
func TestSpecAndGroupJSON(t *testing.T) {
	reg := stage.NewRegistry()
	reg.MustRegister(stage.Type{Name: "noop", New: func([]byte) (stage.Stage, error) {
		return stage.Func("noop", func(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }), nil
	}})
	st, err := reg.Build(stage.Descriptor{Type: "noop", Name: "n1", Config: []byte(`{}`), BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := stage.DescriptorOf(st)
	spec := runtime.ActorSpec{Stage: st, Descriptor: desc, Worker: stage.WorkerSpec{ID: "n1-0", NodeID: "h1", StageName: "n1", Rank: 1, Size: 2, Iteration: 3,
		DeviceIDs: []int{1}, Env: map[string]string{"CUDA_VISIBLE_DEVICES": "1"}}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Stage\"") || !strings.Contains(string(b), `"descriptor"`) || !strings.Contains(string(b), `"iteration":3`) {
		t.Fatalf("wire form %s", b)
	}
	var back runtime.ActorSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Stage != nil || !reflect.DeepEqual(back.Worker, spec.Worker) || back.Descriptor.Type != "noop" || back.Descriptor.BatchSize != 4 {
		t.Fatalf("decoded %+v", back)
	}
	built, err := back.Build(reg)
	if err != nil || built.Name() != "n1" || built.BatchSize() != 4 {
		t.Fatalf("built %v %v", built, err)
	}
	unregistered := runtime.ActorSpec{Stage: stage.Func("adhoc", nil), Worker: stage.WorkerSpec{ID: "adhoc-0", StageName: "adhoc"}}
	if _, err := unregistered.Build(reg); err == nil || !strings.Contains(err.Error(), "stage adhoc has no descriptor") {
		t.Fatalf("unregistered stage: %v", err)
	}
	if s, err := unregistered.Build(nil); err != nil || s.Name() != "adhoc" {
		t.Fatalf("in-process build: %v %v", s, err)
	}

	g := runtime.Group{Rendezvous: "r", Rank: 2, Size: 3, NumPartitions: 64, MemoryLimit: 1 << 20}
	gb, _ := json.Marshal(g)
	var g2 runtime.Group
	if err := json.Unmarshal(gb, &g2); err != nil || g2 != g {
		t.Fatalf("group %s → %+v %v", gb, g2, err)
	}
	ev := runtime.NodeEvent{Kind: runtime.NodeLost, Node: stage.Node{ID: "h1", CPUs: 4}, Reason: "lease expired"}
	eb, _ := json.Marshal(ev)
	var ev2 runtime.NodeEvent
	if err := json.Unmarshal(eb, &ev2); err != nil || ev2 != ev {
		t.Fatalf("event %s → %+v %v", eb, ev2, err)
	}
}
