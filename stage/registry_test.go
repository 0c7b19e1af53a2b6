package stage_test

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// shoutConfig is the config of the "shout" test stage type.
type shoutConfig struct {
	Suffix string `json:"suffix"`
	MinLen int    `json:"min_len"`
}

// shout upper-cases texts, appends Suffix, and drops texts shorter than MinLen.
type shout struct {
	stage.Base
	cfg shoutConfig
}

func (s *shout) ProcessBatch(_ context.Context, ts []task.Task) ([]task.Task, error) {
	var out []string
	for _, t := range ts {
		for _, x := range t.(*task.DocumentBatch).Texts() {
			if len(x) >= s.cfg.MinLen {
				out = append(out, strings.ToUpper(x)+s.cfg.Suffix)
			}
		}
	}
	return []task.Task{task.NewDocumentBatch("ds", "text", out)}, nil
}

// shoutType returns the registry entry of shout; seen, when not nil,
// receives every config the constructor is given.
func shoutType(seen *[]string) stage.Type {
	return stage.Type{
		Name: "shout",
		Doc:  "Upper-cases texts.",
		Fields: []stage.Field{
			{Name: "suffix", Type: "string", Doc: "appended to every text"},
			{Name: "min_len", Type: "int", Default: "0", Doc: "shorter texts are dropped"},
		},
		New: func(config []byte) (stage.Stage, error) {
			if seen != nil {
				*seen = append(*seen, string(config))
			}
			var cfg shoutConfig
			if err := stage.DecodeConfig(config, &cfg); err != nil {
				return nil, err
			}
			return &shout{Base: stage.Base{StageName: "shout", Batch: 1}, cfg: cfg}, nil
		},
	}
}

func newTestRegistry(t *testing.T, seen *[]string) *stage.Registry {
	t.Helper()
	r := stage.NewRegistry()
	for _, typ := range []stage.Type{
		shoutType(seen),
		{Name: "noop", New: func([]byte) (stage.Stage, error) { return &plain{Base: stage.Base{StageName: "noop"}}, nil }},
		{Name: "another", New: func([]byte) (stage.Stage, error) { return &plain{Base: stage.Base{StageName: "another"}}, nil }},
	} {
		if err := r.Register(typ); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestRegistryRegister(t *testing.T) {
	r := newTestRegistry(t, nil)
	err := r.Register(shoutType(nil))
	if err == nil || !strings.Contains(err.Error(), `"shout"`) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate Register = %v, want an error naming shout", err)
	}
	if err := r.Register(stage.Type{Name: "x"}); err == nil {
		t.Error("Register accepted a type without a constructor")
	}
	if err := r.Register(stage.Type{New: shoutType(nil).New}); err == nil {
		t.Error("Register accepted a type without a name")
	}
	var names []string
	for _, typ := range r.Types() {
		names = append(names, typ.Name)
	}
	if want := []string{"another", "noop", "shout"}; !slices.Equal(names, want) {
		t.Errorf("Types() = %v, want %v (sorted, failed registrations absent)", names, want)
	}
	if got := r.Types()[2]; got.Doc != "Upper-cases texts." || len(got.Fields) != 2 {
		t.Errorf("Types() lost the documentation: %+v", got)
	}

	defer func() {
		if recover() == nil {
			t.Error("MustRegister of a duplicate did not panic")
		}
	}()
	r.MustRegister(shoutType(nil))
}

func TestRegistryBuildUnknownType(t *testing.T) {
	r := newTestRegistry(t, nil)
	_, err := r.Build(stage.Descriptor{Type: "shuot"})
	if err == nil {
		t.Fatal("Build accepted an unknown type")
	}
	if msg := err.Error(); !strings.Contains(msg, `"shuot"`) || !strings.Contains(msg, "another, noop, shout") {
		t.Errorf("error %q does not name the type and list the known ones in order", msg)
	}
}

func TestRegistryBuildConfig(t *testing.T) {
	var seen []string
	r := newTestRegistry(t, &seen)
	ctx := context.Background()

	for _, cfg := range []json.RawMessage{nil, json.RawMessage("  "), json.RawMessage("null")} {
		if _, err := r.Build(stage.Descriptor{Type: "shout", Config: cfg}); err != nil {
			t.Fatalf("Build with config %q: %v", cfg, err)
		}
	}
	if want := []string{"{}", "{}", "{}"}; !slices.Equal(seen, want) {
		t.Errorf("constructor received %q for empty configs, want %q", seen, want)
	}

	s, err := r.Build(stage.Descriptor{Type: "shout", Config: json.RawMessage(`{"suffix":"!","min_len":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.ProcessBatch(ctx, []task.Task{task.NewDocumentBatch("ds", "text", []string{"a", "bc"})})
	if err != nil || len(out) != 1 || !slices.Equal(out[0].(*task.DocumentBatch).Texts(), []string{"BC!"}) {
		t.Errorf("built stage ignores its config: %v, %v", out, err)
	}

	_, err = r.Build(stage.Descriptor{Type: "shout", Name: "loud", Config: json.RawMessage(`{"suffix":"!","colour":"red"}`)})
	if err == nil {
		t.Fatal("Build accepted an unknown config field")
	}
	if msg := err.Error(); !strings.Contains(msg, "loud (shout)") || !strings.Contains(msg, `"colour"`) {
		t.Errorf("error %q does not name the stage, its type and the unknown field", msg)
	}
}

func TestRegistryBuildAppliesOverrides(t *testing.T) {
	r := newTestRegistry(t, nil)
	d := stage.Descriptor{
		Type:       "shout",
		Name:       "loud",
		Config:     json.RawMessage(`{"suffix":"?"}`),
		Resources:  &stage.Resources{CPUs: 0.5, GPUMemoryGB: 8},
		BatchSize:  7,
		NumWorkers: 3,
		Env:        map[string]string{"LANG": "C"},
	}
	s, err := r.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "loud" || s.Resources() != *d.Resources || s.BatchSize() != 7 || s.NumWorkers() != 3 || !maps.Equal(s.Env(), d.Env) {
		t.Errorf("built stage: name %q res %+v batch %d workers %d env %v", s.Name(), s.Resources(), s.BatchSize(), s.NumWorkers(), s.Env())
	}
	if inner, ok := stage.Unwrap(s).(*shout); !ok || inner.cfg.Suffix != "?" {
		t.Errorf("Unwrap(built) = %#v, want the shout stage with its config", stage.Unwrap(s))
	}

	// Without overrides the constructor's settings show through.
	s, err = r.Build(stage.Descriptor{Type: "shout"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "shout" || s.BatchSize() != 1 || s.Resources() != (stage.Resources{CPUs: 1}) {
		t.Errorf("built stage without overrides: name %q batch %d res %+v", s.Name(), s.BatchSize(), s.Resources())
	}

	_, err = r.Build(stage.Descriptor{Type: "shout", Resources: &stage.Resources{GPUs: 1, GPUMemoryGB: 8}})
	if err == nil || !strings.Contains(err.Error(), "mutually exclusive") || !strings.Contains(err.Error(), "shout") {
		t.Errorf("Build with invalid resources = %v, want an error naming the stage type", err)
	}
}

func TestDecodeConfig(t *testing.T) {
	var cfg shoutConfig
	if err := stage.DecodeConfig([]byte(`{"suffix":"!","min_len":3}`), &cfg); err != nil || cfg != (shoutConfig{Suffix: "!", MinLen: 3}) {
		t.Errorf("DecodeConfig = %+v, %v", cfg, err)
	}
	err := stage.DecodeConfig([]byte(`{"suffix":"!","minlen":3}`), &cfg)
	if err == nil || !strings.Contains(err.Error(), `"minlen"`) {
		t.Errorf("DecodeConfig with an unknown field = %v, want an error naming minlen", err)
	}
	if err := stage.DecodeConfig([]byte(`{"min_len":"three"}`), &cfg); err == nil {
		t.Error("DecodeConfig accepted a string for an int field")
	}
}

func TestDescriptorYAML(t *testing.T) {
	const doc = `
stages:
  - type: shout
    name: loud
    config:
      suffix: "!"
      min_len: 2
      nested:
        list: [1, two, 3.5]
        map: {a: b, "on": true}
    resources: {cpus: 2, gpu_memory_gb: 8}
    batch_size: 3
    num_workers: 2
    env:
      LANG: C
  - type: noop
`
	var p struct {
		Stages []stage.Descriptor `yaml:"stages"`
	}
	if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Stages) != 2 {
		t.Fatalf("decoded %d stages, want 2", len(p.Stages))
	}
	d := p.Stages[0]
	if d.Type != "shout" || d.Name != "loud" || d.BatchSize != 3 || d.NumWorkers != 2 ||
		d.Resources == nil || *d.Resources != (stage.Resources{CPUs: 2, GPUMemoryGB: 8}) || !maps.Equal(d.Env, map[string]string{"LANG": "C"}) {
		t.Errorf("descriptor = %+v", d)
	}
	var gotCfg, wantCfg any
	if err := json.Unmarshal(d.Config, &gotCfg); err != nil {
		t.Fatalf("config %q is not JSON: %v", d.Config, err)
	}
	want := `{"suffix":"!","min_len":2,"nested":{"list":[1,"two",3.5],"map":{"a":"b","on":true}}}`
	if err := json.Unmarshal([]byte(want), &wantCfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotCfg, wantCfg) {
		t.Errorf("config = %s, want %s", d.Config, want)
	}
	if p.Stages[1].Type != "noop" || p.Stages[1].Config != nil || p.Stages[1].Resources != nil {
		t.Errorf("descriptor without config = %+v", p.Stages[1])
	}

	// The decoded config reaches the constructor, which rejects the
	// unknown "nested" field by name.
	_, err := newTestRegistry(t, nil).Build(d)
	if err == nil || !strings.Contains(err.Error(), `"nested"`) {
		t.Errorf("Build(YAML descriptor) = %v, want the unknown nested field rejected", err)
	}

	// A config mapping that JSON cannot represent is an error with a line number.
	var bad stage.Descriptor
	err = yaml.Unmarshal([]byte("type: shout\nname: x\nconfig:\n  1: one\n"), &bad)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("config with an integer key = %v, want an error at line 4", err)
	}
}

// rebuild sends s's descriptor through JSON, as the driver does for another
// process, and builds it again.
func rebuild(t *testing.T, r *stage.Registry, s stage.Stage) (stage.Stage, stage.Descriptor) {
	t.Helper()
	d, ok := stage.DescriptorOf(s)
	if !ok {
		t.Fatalf("DescriptorOf(%s) reported no descriptor", s.Name())
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var d2 stage.Descriptor
	if err := json.Unmarshal(b, &d2); err != nil {
		t.Fatal(err)
	}
	s2, err := r.Build(d2)
	if err != nil {
		t.Fatalf("rebuild from %s: %v", b, err)
	}
	return s2, d2
}

func TestDescriptorRoundTrip(t *testing.T) {
	r := newTestRegistry(t, nil)
	var y stage.Descriptor
	const doc = "type: shout\nname: loud\nconfig: {suffix: '!!', min_len: 3}\nresources: {cpus: 2}\nenv: {A: '1'}\n"
	if err := yaml.Unmarshal([]byte(doc), &y); err != nil {
		t.Fatal(err)
	}
	built, err := r.Build(y)
	if err != nil {
		t.Fatal(err)
	}
	// Overrides added after Build travel with the descriptor, stacked on
	// the descriptor's own.
	s := stage.With(built, stage.WithBatchSize(5), stage.WithNumWorkers(2), stage.WithEnv(map[string]string{"B": "2"}))

	d, ok := stage.DescriptorOf(s)
	if !ok {
		t.Fatal("DescriptorOf(built stage) reported no descriptor")
	}
	if d.Type != "shout" || d.Name != "loud" || d.BatchSize != 5 || d.NumWorkers != 2 ||
		d.Resources == nil || *d.Resources != (stage.Resources{CPUs: 2}) ||
		!maps.Equal(d.Env, map[string]string{"A": "1", "B": "2"}) {
		t.Errorf("DescriptorOf = %+v", d)
	}
	// An actor's instance carries the same descriptor.
	if di, ok := stage.DescriptorOf(stage.NewInstance(s)); !ok || di.BatchSize != 5 || string(di.Config) != string(d.Config) {
		t.Errorf("DescriptorOf(NewInstance) = %+v, %v", di, ok)
	}

	s2, _ := rebuild(t, r, s)
	if s2.Name() != s.Name() || s2.Resources() != s.Resources() || s2.BatchSize() != s.BatchSize() ||
		s2.NumWorkers() != s.NumWorkers() || !maps.Equal(s2.Env(), s.Env()) || s2.Kind() != s.Kind() {
		t.Errorf("rebuilt settings differ:\n got name %q res %+v batch %d workers %d env %v\nwant name %q res %+v batch %d workers %d env %v",
			s2.Name(), s2.Resources(), s2.BatchSize(), s2.NumWorkers(), s2.Env(),
			s.Name(), s.Resources(), s.BatchSize(), s.NumWorkers(), s.Env())
	}
	ctx := context.Background()
	in := func() []task.Task {
		return []task.Task{task.NewDocumentBatch("ds", "text", []string{"ab", "abc", "hello"})}
	}
	o1, err1 := stage.NewInstance(s).ProcessBatch(ctx, in())
	o2, err2 := stage.NewInstance(s2).ProcessBatch(ctx, in())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	t1, t2 := o1[0].(*task.DocumentBatch).Texts(), o2[0].(*task.DocumentBatch).Texts()
	if !slices.Equal(t1, []string{"ABC!!", "HELLO!!"}) || !slices.Equal(t1, t2) {
		t.Errorf("outputs: original %q, rebuilt %q; want both [ABC!! HELLO!!]", t1, t2)
	}

	// A second round trip is a fixed point.
	s3, d3 := rebuild(t, r, s2)
	d2, _ := stage.DescriptorOf(s2)
	if !reflect.DeepEqual(d3, d2) || s3.Name() != s.Name() {
		t.Errorf("second round trip changed the descriptor:\n%+v\n%+v", d3, d2)
	}
}
