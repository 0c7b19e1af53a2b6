package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/chaos"
	"github.com/sluice-data/sluice/task"
)

// srcConfig has path-like and other keys, to test path resolution.
type srcConfig struct {
	Paths          []string `json:"paths"`
	Dir            string   `json:"dir"`
	QuarantinePath string   `json:"quarantine_path"`
	TextField      string   `json:"text_field"`
	Nested         struct {
		Dir string `json:"dir"`
	} `json:"nested"`
}

type srcStage struct {
	pass
	cfg srcConfig
}

func testRegistry() *stage.Registry {
	reg := stage.NewRegistry()
	reg.MustRegister(chaos.Type())
	reg.MustRegister(stage.Type{Name: "src", New: func(b []byte) (stage.Stage, error) {
		var c srcConfig
		if err := stage.DecodeConfig(b, &c); err != nil {
			return nil, err
		}
		return &srcStage{pass: pass{stage.Base{StageName: "src", In: kinds(task.KindEmpty), Out: docs("text")}}, cfg: c}, nil
	}})
	reg.MustRegister(stage.Type{Name: "needs_score", New: func(b []byte) (stage.Stage, error) {
		return mk("needs_score", docs("score"), docs()), stage.DecodeConfig(b, &struct{}{})
	}})
	return reg
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pipe.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFile(t *testing.T) {
	path := writeYAML(t, `
name: demo
executor:
  mode: stage-by-stage
  max_attempts: 4
  max_failed_fraction: 0.05
  failed_manifest: out/failed.jsonl
  batch_timeout: 30s
  stages: { faults: { max_attempts: 6, batch_timeout: 1m } }
stages:
  - type: src
    name: read
    config:
      paths: [data/a.jsonl, /abs/b.jsonl, "s3://bucket/c.jsonl"]
      dir: out
      quarantine_path: bad/q.jsonl
      text_field: data/not-a-path
      nested: { dir: rel }
    resources: { cpus: 2 }
    num_workers: 3
  - { type: chaos, name: faults, config: { error_fraction: 0.1, sleep: 5ms }, batch_size: 8, env: { A: b } }
`)
	spec, err := LoadFile(path, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	ex := spec.Executor
	if spec.Name != "demo" || spec.Dir != dir || ex.Mode != executor.StageByStage || ex.MaxAttempts != 4 || ex.MaxFailedFraction != 0.05 ||
		ex.BatchTimeout != 30*time.Second || ex.FailedManifest != filepath.Join(dir, "out/failed.jsonl") ||
		ex.Stages["faults"].MaxAttempts != 6 || ex.Stages["faults"].BatchTimeout != time.Minute {
		t.Fatalf("spec = %+v, executor = %+v", spec, ex)
	}
	p, err := spec.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	ss := p.Stages()
	src := stage.Unwrap(ss[0]).(*srcStage).cfg
	want := srcConfig{
		Paths:          []string{filepath.Join(dir, "data/a.jsonl"), "/abs/b.jsonl", "s3://bucket/c.jsonl"},
		Dir:            filepath.Join(dir, "out"),
		QuarantinePath: filepath.Join(dir, "bad/q.jsonl"),
		TextField:      "data/not-a-path",
	}
	want.Nested.Dir = "rel" // only top-level keys are resolved
	if fmt.Sprint(src) != fmt.Sprint(want) {
		t.Fatalf("src config\n got %+v\nwant %+v", src, want)
	}
	if ss[0].Name() != "read" || ss[0].Resources().CPUs != 2 || ss[0].NumWorkers() != 3 {
		t.Fatalf("read overrides: %s %+v %d", ss[0].Name(), ss[0].Resources(), ss[0].NumWorkers())
	}
	c := stage.Unwrap(ss[1]).(*chaos.Stage)
	if ss[1].Name() != "faults" || ss[1].BatchSize() != 8 || ss[1].Env()["A"] != "b" || c.Config().Sleep != chaos.Duration(5*time.Millisecond) {
		t.Fatalf("faults: %s %d %v %+v", ss[1].Name(), ss[1].BatchSize(), ss[1].Env(), c.Config())
	}
	if d, ok := stage.DescriptorOf(ss[1]); !ok || d.Type != "chaos" || d.Name != "faults" {
		t.Fatalf("descriptor = %+v %v", d, ok)
	}
	if got := p.Describe(); !strings.Contains(got, "faults") || !strings.Contains(got, "chaos") || !strings.Contains(got, "src") {
		t.Fatalf("Describe:\n%s", got)
	}
	if len(spec.Stages) != 2 || spec.Stages[1].Type != "chaos" || !strings.Contains(string(spec.Stages[0].Config), filepath.Join(dir, "out")) {
		t.Fatalf("descriptors = %+v", spec.Stages)
	}
}

func TestLoadDefaults(t *testing.T) {
	path := writeYAML(t, "stages:\n  - type: chaos\n")
	spec, err := LoadFile(path, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "pipe" || spec.Executor.Mode != "" || spec.Stages[0].Name != "" {
		t.Fatalf("spec = %+v", spec)
	}
	p, err := spec.Pipeline()
	if err != nil || p.Stages()[0].Name() != "chaos" {
		t.Fatalf("pipeline: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown top-level key", "name: x\nstagez: []\n", []string{"pipe.yaml:2:", `unknown key "stagez"`, "did you mean stages?"}},
		{"unknown executor key", "executor:\n  mode: streaming\n  max_atempts: 3\nstages: [{type: chaos}]\n", []string{"pipe.yaml:3:", `unknown key "max_atempts"`, "did you mean max_attempts?", "known keys: mode, "}},
		{"unknown stage override key", "executor:\n  stages:\n    chaos:\n      max_atempts: 2\nstages: [{type: chaos}]\n", []string{"pipe.yaml:4:", "executor: stages: chaos", "did you mean max_attempts?"}},
		{"executor type error", "executor:\n  max_attempts: lots\nstages: [{type: chaos}]\n", []string{"pipe.yaml:2:", `executor: max_attempts: want a whole number, got "lots"`}},
		{"stage type error", "stages:\n  - type: chaos\n    batch_size: [1]\n", []string{"pipe.yaml:3:", "batch_size: want a whole number, got a list"}},
		{"config type error", "stages:\n  - type: chaos\n    config:\n      error_fraction: lots\n", []string{"pipe.yaml:4:", "stage chaos: config: error_fraction: want a number, got a string"}},
		{"bad indentation in a list", "name: x\nexecutor:\n  max_attempts: 3\nstages:\n  - type: chaos\n   name: foo\n", []string{"pipe.yaml:6:", "indentation"}},
		{"bad indentation in a mapping", "name: x\nstages:\n  - type: chaos\n    config:\n        seed: 1\n      error_fraction: 0.1\n", []string{"pipe.yaml:6:", "indentation"}},
		{"executor duration as a number", "executor:\n  batch_timeout: 30\nstages: [{type: chaos}]\n", []string{"pipe.yaml:2:", "batch_timeout: 30 has no unit; write 30s"}},
		{"bad mode", "executor:\n  mode: fast\nstages: [{type: chaos}]\n", []string{"pipe.yaml:2:", `mode "fast"`}},
		{"bad fraction", "executor:\n  max_failed_fraction: 1.5\nstages: [{type: chaos}]\n", []string{"pipe.yaml:2:", "max_failed_fraction"}},
		{"negative attempts", "executor:\n\n  max_attempts: -1\nstages: [{type: chaos}]\n", []string{"pipe.yaml:3:", "max_attempts must not be negative"}},
		{"unknown stage key", "stages:\n  - type: chaos\n    name: c\n    confg: {}\n", []string{"pipe.yaml:4:", `unknown key "confg"`, "known keys: type"}},
		{"unknown resources key", "stages:\n  - type: chaos\n    resources:\n      cpu: 1\n", []string{"pipe.yaml:4:", `resources: unknown key "cpu"`}},
		{"unknown config key", "stages:\n  - type: chaos\n    name: c\n    config:\n      seed: 1\n      eror_fraction: 0.1\n", []string{"pipe.yaml:6:", "stage c (chaos): config", `unknown key "eror_fraction"`, "did you mean error_fraction?"}},
		{"invalid config value", "stages:\n  - type: chaos\n    config:\n      seed: 2\n      error_fraction: 3\n", []string{"pipe.yaml:5:", "outside [0, 1]"}},
		{"config not a mapping", "stages:\n  - type: chaos\n    config: [1, 2]\n", []string{"pipe.yaml:3:", "config must be a mapping"}},
		{"unknown type", "stages:\n  - name: x\n    type: chaoss\n", []string{"pipe.yaml:3:", `unknown stage type "chaoss"`, "known: chaos, needs_score, src"}},
		{"missing type", "stages:\n  - name: x\n", []string{"pipe.yaml:2:", `stage "x" has no type`}},
		{"duplicate names", "stages:\n  - {type: chaos, name: a}\n  - {type: chaos}\n  - {type: chaos, name: a}\n", []string{"pipe.yaml:4:", `duplicate stage name "a"`, "line 2"}},
		{"duplicate default names", "stages:\n  - {type: chaos}\n  - {type: chaos}\n", []string{"pipe.yaml:3:", `duplicate stage name "chaos"`}},
		{"no stages", "name: x\nstages: []\n", []string{"pipe.yaml:2:", "no stages"}},
		{"stage not a mapping", "stages:\n  - chaos\n", []string{"pipe.yaml:2:", "must be a mapping"}},
		{"negative batch size", "stages:\n  - type: chaos\n    batch_size: -2\n", []string{"pipe.yaml:3:", "batch_size"}},
		{"syntax error", "stages:\n  - {type: chaos\n", []string{"pipe.yaml:2:", "did not find expected ',' or '}'"}},
		{"empty file", "", []string{"empty pipeline file"}},
		{"top level not a mapping", "- a\n- b\n", []string{"pipe.yaml:1:", "must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadFile(writeYAML(t, c.body), testRegistry())
			if err == nil {
				t.Fatal("load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// Messages speak YAML, not Go.
			for _, bad := range []string{"Go struct", "executor.Config", "json:", "!!", "time.Duration", " yaml:", "unmarshal"} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("error %q shows %q", err, bad)
				}
			}
		})
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml"), testRegistry()); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestSpecPipelineChecksColumns(t *testing.T) {
	spec, err := LoadFile(writeYAML(t, "stages:\n  - type: src\n  - type: needs_score\n"), testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.Pipeline()
	if err == nil || !strings.Contains(err.Error(), "pipe.yaml") || !strings.Contains(err.Error(), "stage needs_score requires columns score") {
		t.Fatalf("err = %v", err)
	}
}

// TestPipelineDocListsExecutorKeys: docs/pipeline.md documents every key
// of the executor section and of its per-stage overrides.
func TestPipelineDocListsExecutorKeys(t *testing.T) {
	doc, err := os.ReadFile("../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[executor.Config](), reflect.TypeFor[executor.StageConfig]()} {
		_, keys := yamlFields(typ)
		for _, k := range keys {
			if !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("docs/pipeline.md does not document executor key %s", k)
			}
		}
	}
}
