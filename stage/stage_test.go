package stage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// plain is a minimal stage: Base plus an identity ProcessBatch.
type plain struct{ stage.Base }

func (*plain) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

// stateful records, per instance, the number Setup drew from a counter that
// every instance shares (a pointer set at construction).
type stateful struct {
	stage.Base
	shared *atomic.Int64 // set at construction: shared by all instances
	drawn  int64         // set in Setup: per instance
}

func (s *stateful) Setup(context.Context, *stage.Worker) error {
	s.drawn = s.shared.Add(1)
	return nil
}

func (*stateful) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

// cloning implements stage.Cloner and counts its clones.
type cloning struct {
	stage.Base
	clones *atomic.Int64
	fresh  bool // true only on values made by CloneStage
}

func (c *cloning) CloneStage() stage.Stage {
	c.clones.Add(1)
	return &cloning{Base: c.Base, clones: c.clones, fresh: true}
}

func (*cloning) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) { return ts, nil }

// shuffler implements stage.ShuffleStage with no-op phases.
type shuffler struct{ plain }

func (*shuffler) NumPartitions() int                                   { return 7 }
func (*shuffler) Insert(context.Context, []task.Task) error            { return nil }
func (*shuffler) InsertFinished(context.Context) error                 { return nil }
func (*shuffler) ExtractAndWrite(context.Context) ([]task.Task, error) { return nil, nil }

// lsher implements stage.LSHStage.
type lsher struct{ shuffler }

func (*lsher) Iterations() int            { return 4 }
func (*lsher) IterationName(i int) string { return fmt.Sprintf("bands [%d,%d)", 5*i, 5*i+5) }

func TestResourcesValidate(t *testing.T) {
	tests := []struct {
		name    string
		r       stage.Resources
		wantErr string // empty: valid
	}{
		{"zero", stage.Resources{}, ""},
		{"cpus", stage.Resources{CPUs: 2.5}, ""},
		{"fractional gpu", stage.Resources{CPUs: 1, GPUs: 0.25}, ""},
		{"one gpu", stage.Resources{GPUs: 1}, ""},
		{"whole gpus", stage.Resources{GPUs: 4}, ""},
		{"gpu memory", stage.Resources{CPUs: 1, GPUMemoryGB: 16}, ""},
		{"gpus and memory", stage.Resources{GPUs: 1, GPUMemoryGB: 16}, "mutually exclusive"},
		{"fraction above one", stage.Resources{GPUs: 1.5}, "whole number"},
		{"negative cpus", stage.Resources{CPUs: -1}, "negative"},
		{"negative gpus", stage.Resources{GPUs: -0.5}, "negative"},
		{"negative memory", stage.Resources{GPUMemoryGB: -1}, "negative"},
		{"nan cpus", stage.Resources{CPUs: math.NaN()}, "NaN"},
		{"nan gpus", stage.Resources{GPUs: math.NaN()}, "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%+v) = %v, want error containing %q", tt.r, err, tt.wantErr)
			}
		})
	}
}

func TestResourcesEffectiveGPUs(t *testing.T) {
	tests := []struct {
		name    string
		r       stage.Resources
		devMem  float64
		want    float64
		wantErr string
	}{
		{"none", stage.Resources{CPUs: 1}, 80, 0, ""},
		{"fraction", stage.Resources{GPUs: 0.5}, 80, 0.5, ""},
		{"whole, memory unknown", stage.Resources{GPUs: 2}, 0, 2, ""},
		{"memory quarter", stage.Resources{GPUMemoryGB: 20}, 80, 0.25, ""},
		{"memory exactly one gpu", stage.Resources{GPUMemoryGB: 80}, 80, 1, ""},
		{"memory above one gpu", stage.Resources{GPUMemoryGB: 100}, 80, 0, "exceeds"},
		{"memory size unknown", stage.Resources{GPUMemoryGB: 20}, 0, 0, "unknown"},
		{"invalid request", stage.Resources{GPUs: 1, GPUMemoryGB: 20}, 80, 0, "mutually exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.EffectiveGPUs(tt.devMem)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EffectiveGPUs(%g) = %g, %v; want error containing %q", tt.devMem, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EffectiveGPUs(%g) = %g, %v; want %g, nil", tt.devMem, got, err, tt.want)
			}
		})
	}
}

func TestKindStringAndIsBarrier(t *testing.T) {
	tests := []struct {
		k       stage.Kind
		name    string
		barrier bool
	}{
		{stage.Plain, "plain", false},
		{stage.FanOut, "fan-out", false},
		{stage.Shuffle, "shuffle", true},
		{stage.Collective, "collective", true},
		{stage.LSH, "lsh", true},
		{stage.Kind(42), "Kind(42)", false},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.k), got, tt.name)
		}
		if got := tt.k.IsBarrier(); got != tt.barrier {
			t.Errorf("%s.IsBarrier() = %v, want %v", tt.name, got, tt.barrier)
		}
	}
}

func TestBaseDefaults(t *testing.T) {
	var b stage.Base
	if got := b.Resources(); got != (stage.Resources{CPUs: 1}) {
		t.Errorf("zero Base.Resources() = %+v, want one CPU", got)
	}
	b.Res = stage.Resources{GPUs: 1}
	if got := b.Resources(); got != (stage.Resources{GPUs: 1}) {
		t.Errorf("Base.Resources() = %+v, want the set request", got)
	}
	if b.Kind() != stage.Plain || b.BatchSize() != 0 || b.NumWorkers() != 0 || b.Env() != nil {
		t.Errorf("zero Base: kind %s batch %d workers %d env %v", b.Kind(), b.BatchSize(), b.NumWorkers(), b.Env())
	}
	ctx := context.Background()
	if err := errors.Join(b.SetupOnNode(ctx, stage.Node{}, &stage.Worker{}), b.Setup(ctx, &stage.Worker{}), b.Teardown(ctx)); err != nil {
		t.Errorf("Base life cycle methods: %v", err)
	}
}

func TestFunc(t *testing.T) {
	s := stage.Func("tag", func(_ context.Context, ts []task.Task) ([]task.Task, error) {
		for _, x := range ts {
			x.Meta()["tagged"] = "yes"
		}
		return ts, nil
	})
	if s.Name() != "tag" || s.Kind() != stage.Plain {
		t.Fatalf("Func stage: name %q kind %s", s.Name(), s.Kind())
	}
	in := []task.Task{task.NewDocumentBatch("ds", "text", []string{"a"})}
	out, err := s.ProcessBatch(context.Background(), in)
	if err != nil || len(out) != 1 || out[0].Meta()["tagged"] != "yes" {
		t.Fatalf("ProcessBatch = %v, %v; want the tagged input", out, err)
	}
}

func TestSpecCheck(t *testing.T) {
	batch := task.NewDocumentBatch("ds", "text", []string{"x", "y"})
	batch.TaskID = "b1"
	batch.SetColumn(&task.Column{Name: "score", Type: task.Float64, Floats: []float64{1, 2}})
	files := task.NewFileGroup("ds", []string{"a.jsonl"})
	files.TaskID = "f1"

	t.Run("empty spec accepts anything", func(t *testing.T) {
		if err := (stage.Spec{}).Check("s", []task.Task{batch, files}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("met", func(t *testing.T) {
		in := stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: []string{"text", "score"}}
		if err := in.Check("s", []task.Task{batch}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing columns", func(t *testing.T) {
		in := stage.Spec{Columns: []string{"text", "lang", "score", "quality"}}
		err := in.Check("classify", []task.Task{batch})
		if err == nil {
			t.Fatal("Check accepted a batch without lang and quality")
		}
		msg := err.Error()
		for _, want := range []string{"classify", "b1", "lang", "quality"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if strings.Contains(msg, "missing columns text") || strings.Contains(msg, "score,") {
			t.Errorf("error %q names a column that is present as missing", msg)
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		in := stage.Spec{Kinds: []string{task.KindDocumentBatch, task.KindEmpty}}
		err := in.Check("reader", []task.Task{batch, files})
		if err == nil {
			t.Fatal("Check accepted a file group")
		}
		msg := err.Error()
		for _, want := range []string{"reader", "f1", task.KindFileGroup, task.KindDocumentBatch, task.KindEmpty} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
	})
	t.Run("columns only apply to document batches", func(t *testing.T) {
		in := stage.Spec{Columns: []string{"text"}}
		if err := in.Check("s", []task.Task{files}); err != nil {
			t.Fatalf("column requirement applied to a file group: %v", err)
		}
	})
}

func TestWithOverridesEverything(t *testing.T) {
	base := &plain{Base: stage.Base{
		StageName: "orig",
		Res:       stage.Resources{CPUs: 2},
		Batch:     4,
		EnvVars:   map[string]string{"A": "1", "B": "2"},
		StageKind: stage.FanOut,
	}}
	env := map[string]string{"B": "20", "C": "3"}
	o := stage.With(base,
		stage.WithName("new"),
		stage.WithResources(stage.Resources{CPUs: 1, GPUs: 0.5}),
		stage.WithBatchSize(16),
		stage.WithNumWorkers(3),
		stage.WithEnv(env),
	)
	env["C"] = "mutated after With" // With must have copied the map

	if o.Name() != "new" || o.Resources() != (stage.Resources{CPUs: 1, GPUs: 0.5}) || o.BatchSize() != 16 || o.NumWorkers() != 3 {
		t.Errorf("overridden: name %q res %+v batch %d workers %d", o.Name(), o.Resources(), o.BatchSize(), o.NumWorkers())
	}
	if want := map[string]string{"A": "1", "B": "20", "C": "3"}; !maps.Equal(o.Env(), want) {
		t.Errorf("overridden Env() = %v, want %v", o.Env(), want)
	}
	if o.Kind() != stage.FanOut {
		t.Errorf("Kind() = %s, want the inner stage's fan-out", o.Kind())
	}

	// The original is untouched.
	if base.Name() != "orig" || base.Resources() != (stage.Resources{CPUs: 2}) || base.BatchSize() != 4 || base.NumWorkers() != 0 {
		t.Errorf("original changed: name %q res %+v batch %d workers %d", base.Name(), base.Resources(), base.BatchSize(), base.NumWorkers())
	}
	if want := map[string]string{"A": "1", "B": "2"}; !maps.Equal(base.Env(), want) {
		t.Errorf("original Env() = %v, want %v", base.Env(), want)
	}

	// Without options every setting is the inner stage's.
	same := stage.With(base)
	if same.Name() != "orig" || same.BatchSize() != 4 || !maps.Equal(same.Env(), base.Env()) || same.Resources() != base.Resources() {
		t.Errorf("With without options changed a setting")
	}
}

func TestWithStacks(t *testing.T) {
	base := &plain{Base: stage.Base{StageName: "orig", Batch: 4, EnvVars: map[string]string{"A": "1"}}}
	first := stage.With(base, stage.WithName("first"), stage.WithNumWorkers(3), stage.WithEnv(map[string]string{"B": "2", "C": "3"}))
	second := stage.With(first, stage.WithBatchSize(32), stage.WithEnv(map[string]string{"C": "30", "D": "4"}))

	if second.Name() != "first" || second.NumWorkers() != 3 || second.BatchSize() != 32 {
		t.Errorf("stacked: name %q workers %d batch %d; want first, 3, 32", second.Name(), second.NumWorkers(), second.BatchSize())
	}
	if want := map[string]string{"A": "1", "B": "2", "C": "30", "D": "4"}; !maps.Equal(second.Env(), want) {
		t.Errorf("stacked Env() = %v, want %v", second.Env(), want)
	}
	// The first override is unchanged by the second.
	if first.BatchSize() != 4 {
		t.Errorf("first.BatchSize() = %d after stacking, want 4", first.BatchSize())
	}
	if want := map[string]string{"A": "1", "B": "2", "C": "3"}; !maps.Equal(first.Env(), want) {
		t.Errorf("first Env() = %v after stacking, want %v", first.Env(), want)
	}
	// Stacking does not nest wrappers.
	o, ok := second.(*stage.Overridden)
	if !ok {
		t.Fatalf("With returned %T, want *stage.Overridden", second)
	}
	if o.Unwrap() != stage.Stage(base) {
		t.Errorf("stacked Unwrap() = %T, want the original stage", o.Unwrap())
	}
}

func TestUnwrapAsShuffleAsLSH(t *testing.T) {
	p := &plain{}
	sh := &shuffler{}
	ls := &lsher{}
	wrappedShuffle := stage.With(stage.With(sh, stage.WithName("a")), stage.WithBatchSize(2))
	wrappedLSH := stage.With(ls, stage.WithNumWorkers(4))

	if stage.Unwrap(wrappedShuffle) != stage.Stage(sh) || stage.Unwrap(p) != stage.Stage(p) {
		t.Error("Unwrap does not return the innermost stage")
	}
	if ss, ok := stage.AsShuffle(wrappedShuffle); !ok || ss.NumPartitions() != 7 {
		t.Errorf("AsShuffle(wrapped shuffle) = %v, %v", ss, ok)
	}
	if _, ok := stage.AsLSH(wrappedShuffle); ok {
		t.Error("AsLSH accepted a plain shuffle stage")
	}
	if l, ok := stage.AsLSH(wrappedLSH); !ok || l.Iterations() != 4 || l.IterationName(1) != "bands [5,10)" {
		t.Errorf("AsLSH(wrapped LSH) = %v, %v", l, ok)
	}
	if _, ok := stage.AsShuffle(wrappedLSH); !ok {
		t.Error("AsShuffle rejected an LSH stage")
	}
	if _, ok := stage.AsShuffle(stage.With(p)); ok {
		t.Error("AsShuffle accepted a plain stage")
	}
	if _, ok := stage.AsLSH(p); ok {
		t.Error("AsLSH accepted a plain stage")
	}
}

func TestDescriptorOfUnregistered(t *testing.T) {
	if _, ok := stage.DescriptorOf(&plain{}); ok {
		t.Error("DescriptorOf(plain stage) reported a descriptor")
	}
	if _, ok := stage.DescriptorOf(stage.With(&plain{}, stage.WithName("x"))); ok {
		t.Error("DescriptorOf(With of an unregistered stage) reported a descriptor")
	}
}

func TestNewInstanceIsPerActor(t *testing.T) {
	ctx := context.Background()
	proto := &stateful{Base: stage.Base{StageName: "s"}, shared: new(atomic.Int64)}
	a := stage.NewInstance(proto).(*stateful)
	b := stage.NewInstance(proto).(*stateful)
	if a == proto || b == proto || a == b {
		t.Fatal("NewInstance returned the prototype or the same instance twice")
	}
	if err := errors.Join(a.Setup(ctx, nil), b.Setup(ctx, nil)); err != nil {
		t.Fatal(err)
	}
	if a.drawn == b.drawn || a.drawn == 0 || b.drawn == 0 {
		t.Errorf("per-actor field: a=%d b=%d, want two different draws", a.drawn, b.drawn)
	}
	if proto.drawn != 0 {
		t.Errorf("prototype's per-actor field = %d, want 0 (Setup ran on copies)", proto.drawn)
	}
	if a.shared != proto.shared || b.shared != proto.shared || proto.shared.Load() != 2 {
		t.Errorf("construction-time pointer not shared: counter %d", proto.shared.Load())
	}
	if a.Name() != "s" {
		t.Errorf("instance Name() = %q, want s", a.Name())
	}
}

func TestNewInstanceThroughOverridden(t *testing.T) {
	ctx := context.Background()
	proto := &stateful{Base: stage.Base{StageName: "s"}, shared: new(atomic.Int64)}
	wrapped := stage.With(proto, stage.WithName("renamed"), stage.WithBatchSize(8))
	i1 := stage.NewInstance(wrapped)
	i2 := stage.NewInstance(wrapped)
	if i1.Name() != "renamed" || i1.BatchSize() != 8 {
		t.Errorf("instance lost overrides: name %q batch %d", i1.Name(), i1.BatchSize())
	}
	if err := errors.Join(i1.Setup(ctx, nil), i2.Setup(ctx, nil)); err != nil {
		t.Fatal(err)
	}
	in1, in2 := stage.Unwrap(i1).(*stateful), stage.Unwrap(i2).(*stateful)
	if in1 == proto || in2 == proto || in1 == in2 {
		t.Fatal("instances through Overridden share the inner stage")
	}
	if in1.drawn == in2.drawn || proto.drawn != 0 {
		t.Errorf("per-actor fields: %d, %d, prototype %d", in1.drawn, in2.drawn, proto.drawn)
	}
	if stage.Unwrap(wrapped) != stage.Stage(proto) {
		t.Error("NewInstance replaced the prototype's inner stage")
	}
}

func TestNewInstanceUsesCloner(t *testing.T) {
	proto := &cloning{Base: stage.Base{StageName: "c"}, clones: new(atomic.Int64)}
	inst := stage.NewInstance(proto).(*cloning)
	if !inst.fresh || proto.clones.Load() != 1 {
		t.Errorf("NewInstance did not use CloneStage: fresh=%v clones=%d", inst.fresh, proto.clones.Load())
	}
	wrapped := stage.NewInstance(stage.With(proto, stage.WithNumWorkers(2)))
	if c, ok := stage.Unwrap(wrapped).(*cloning); !ok || !c.fresh || proto.clones.Load() != 2 {
		t.Errorf("NewInstance through Overridden did not use CloneStage: %T clones=%d", stage.Unwrap(wrapped), proto.clones.Load())
	}
	if wrapped.NumWorkers() != 2 {
		t.Errorf("cloned instance lost NumWorkers override: %d", wrapped.NumWorkers())
	}
}

// logRecord is one line of slog's JSON handler output.
type logRecord struct {
	Level         string `json:"level"`
	Stage         string `json:"stage"`
	Var           string `json:"var"`
	ExecutorValue string `json:"executor_value"`
	StageValue    string `json:"stage_value"`
}

func TestMergeEnv(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	execEnv := map[string]string{"HOME": "/h", "LANG": "C", "OMP_NUM_THREADS": "8", "SAME": "v"}
	stageEnv := map[string]string{"LANG": "en_US.UTF-8", "OMP_NUM_THREADS": "1", "SAME": "v", "NEW": "n"}
	execCopy, stageCopy := maps.Clone(execEnv), maps.Clone(stageEnv)

	got := stage.MergeEnv(execEnv, stageEnv, "embed", logger)

	want := map[string]string{"HOME": "/h", "LANG": "en_US.UTF-8", "OMP_NUM_THREADS": "1", "SAME": "v", "NEW": "n"}
	if !maps.Equal(got, want) {
		t.Errorf("MergeEnv = %v, want %v", got, want)
	}
	if !maps.Equal(execEnv, execCopy) || !maps.Equal(stageEnv, stageCopy) {
		t.Error("MergeEnv modified an input map")
	}
	got["HOME"] = "changed"
	if execEnv["HOME"] != "/h" {
		t.Error("MergeEnv's result aliases the executor env")
	}

	var warned []string
	for line := range bytes.Lines(buf.Bytes()) {
		var r logRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Level != "WARN" || r.Stage != "embed" {
			t.Errorf("log record %+v: want a WARN for stage embed", r)
		}
		if r.ExecutorValue != execEnv[r.Var] || r.StageValue != stageEnv[r.Var] {
			t.Errorf("warning for %s carries %q -> %q, want %q -> %q", r.Var, r.ExecutorValue, r.StageValue, execEnv[r.Var], stageEnv[r.Var])
		}
		warned = append(warned, r.Var)
	}
	slices.Sort(warned)
	if want := []string{"LANG", "OMP_NUM_THREADS"}; !slices.Equal(warned, want) {
		t.Errorf("warned for %v, want exactly %v (changed values only)", warned, want)
	}
}

func TestMergeEnvNilInputs(t *testing.T) {
	if got := stage.MergeEnv(nil, nil, "s", nil); got == nil || len(got) != 0 {
		t.Errorf("MergeEnv(nil, nil) = %#v, want an empty map", got)
	}
	if got := stage.MergeEnv(nil, map[string]string{"A": "1"}, "s", nil); !maps.Equal(got, map[string]string{"A": "1"}) {
		t.Errorf("MergeEnv(nil, A) = %v", got)
	}
	// A nil logger must not panic even when a variable is overridden.
	if got := stage.MergeEnv(map[string]string{"A": "0"}, map[string]string{"A": "1"}, "s", nil); got["A"] != "1" {
		t.Errorf("MergeEnv override with nil logger = %v", got)
	}
}
