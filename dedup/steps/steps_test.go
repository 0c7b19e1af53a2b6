package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/dedup/exact"
	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/testcorpus"
	"github.com/sluice-data/sluice/pipeline"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/builtin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// record is one input line.
type record struct {
	id, text, line string
}

// writeInput writes three JSONL files of generated documents: short and
// long texts, near-duplicates (some exact), and byte-identical copies
// injected under new ids. It returns the records in input order (files
// sorted by path, lines in order).
func writeInput(t *testing.T, dir string) []record {
	t.Helper()
	docs, _ := testcorpus.Generate(testcorpus.Options{Seed: 9, Bases: 90, WordsMin: 8, WordsMax: 120, DupFraction: 0.4, CopiesMax: 3, EditRate: 0.02})
	rng := rand.New(rand.NewPCG(9, 9))
	var recs []record
	for i, d := range docs {
		recs = append(recs, record{id: d.ID, text: d.Text})
		if rng.IntN(5) == 0 {
			recs = append(recs, record{id: fmt.Sprintf("copy-%d", i), text: recs[rng.IntN(len(recs))].text})
		}
	}
	var files [3][]byte
	for i := range recs {
		b, _ := json.Marshal(map[string]any{"id": recs[i].id, "text": recs[i].text, "n": i})
		recs[i].line = string(b)
	}
	// Contiguous thirds, so that input order is file order.
	for i, r := range recs {
		f := i * 3 / len(recs)
		files[f] = append(append(files[f], r.line...), '\n')
	}
	for i, b := range files {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// execute loads the pipeline file and runs it on a local runtime of 2 CPUs.
func execute(t *testing.T, path string) (*pipeline.Result, error) {
	t.Helper()
	spec, err := pipeline.LoadFile(path, builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Pipeline()
	if err != nil {
		return nil, err
	}
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	return p.Execute(context.Background(), pipeline.Runner{Runtime: rt, Config: spec.Executor}, nil)
}

// readLines reads the JSONL lines of every file in dir (not in _ names).
func readLines(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// reference runs the standalone workflows the pipeline chains: exact
// dedup of the filtered records (written as one file per input third, so
// ids follow input order), then fuzzy dedup of what it kept. It returns
// the ids each removed.
func reference(t *testing.T, filtered []record, n int) (exactRemoved, fuzzyRemoved []string) {
	t.Helper()
	reg := builtin.Registry()
	rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	in := filepath.Join(t.TempDir(), "in")
	var files [3][]byte
	for _, r := range filtered {
		var i int
		fmt.Sscanf(r.line[strings.Index(r.line, `"n":`)+4:], "%d", &i)
		f := i * 3 / n
		files[f] = append(append(files[f], r.line...), '\n')
	}
	for i, b := range files {
		if err := os.MkdirAll(in, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("part-%d.jsonl", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ec := exact.DefaultConfig()
	ec.Inputs, ec.Output = []string{in}, filepath.Join(t.TempDir(), "exact")
	ec.RemovedIDsOut = filepath.Join(ec.Output, "removed.txt")
	if _, err := (&exact.Workflow{Cfg: ec, Runtime: rt, Registry: reg}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	fc := fuzzy.DefaultConfig()
	fc.Inputs, fc.Output = []string{filepath.Join(ec.Output, "deduplicated")}, filepath.Join(t.TempDir(), "fuzzy")
	fc.RemovedIDsOut = filepath.Join(fc.Output, "removed.txt")
	if _, err := (&fuzzy.Workflow{Cfg: fc, Runtime: rt, Registry: reg}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	read := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(b))
	}
	return read(ec.RemovedIDsOut), read(fc.RemovedIDsOut)
}

// TestPipelineFilterExactFuzzy runs read → text_filter → dedup_exact →
// dedup_fuzzy → write from a pipeline file and checks that every record is
// accounted for (read = kept + dropped by the filter + duplicates of each
// step), that the steps remove exactly what the standalone workflows remove
// when chained by hand on the filtered records (the same documents kept:
// ids follow input order in both), that every written line is
// byte-identical to its input line, and that the steps' spools are gone.
func TestPipelineFilterExactFuzzy(t *testing.T) {
	dir := t.TempDir()
	recs := writeInput(t, filepath.Join(dir, "in"))
	const minChars = 300
	var filtered []record
	for _, r := range recs {
		if utf8.RuneCountInString(r.text) >= minChars {
			filtered = append(filtered, r)
		}
	}
	exactRemoved, fuzzyRemoved := reference(t, filtered, len(recs))
	if len(filtered) == len(recs) || len(exactRemoved) < 5 || len(fuzzyRemoved) < 5 {
		t.Fatalf("weak corpus: %d records, %d filtered, %d exact and %d fuzzy duplicates", len(recs), len(filtered), len(exactRemoved), len(fuzzyRemoved))
	}
	yaml := fmt.Sprintf(`name: curate
stages:
  - type: jsonl_reader
    name: read
    config: { paths: [in], batch_rows: 16 }
  - type: text_filter
    name: filter
    config: { min_chars: %d }
  - type: dedup_exact
    name: exact
  - type: dedup_fuzzy
    name: fuzzy
  - type: jsonl_writer
    name: write
    config: { dir: out, mode: overwrite }
`, minChars)
	path := filepath.Join(dir, "curate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := execute(t, path)
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.Records{Read: int64(len(recs)), Kept: int64(len(filtered) - len(exactRemoved) - len(fuzzyRemoved)), Complete: true,
		Removed: []pipeline.Removed{{Stage: "filter", Kind: "stage", Documents: int64(len(recs) - len(filtered))},
			{Stage: "exact", Kind: "step", Documents: int64(len(exactRemoved))}, {Stage: "fuzzy", Kind: "step", Documents: int64(len(fuzzyRemoved))}}}
	if !slices.Equal(res.Records.Removed, want.Removed) || res.Records.Read != want.Read || res.Records.Kept != want.Kept || !res.Records.Complete || !res.Records.Balanced() {
		t.Fatalf("records %+v, want %+v", res.Records, want)
	}

	removed := map[string]bool{}
	for _, id := range append(exactRemoved, fuzzyRemoved...) {
		removed[id] = true
	}
	var wantLines []string
	for _, r := range filtered {
		if !removed[`"`+r.id+`"`] && !removed[r.id] {
			wantLines = append(wantLines, r.line)
		}
	}
	got := readLines(t, filepath.Join(dir, "out"))
	sort.Strings(got)
	sort.Strings(wantLines)
	if !slices.Equal(got, wantLines) {
		for _, l := range got {
			if !slices.Contains(wantLines, l) {
				t.Logf("extra %.60s", l)
			}
		}
		for _, l := range wantLines {
			if !slices.Contains(got, l) {
				t.Logf("missing %.60s", l)
			}
		}
		t.Fatalf("written %d lines, want %d (the lines kept by the standalone workflows, byte for byte)", len(got), len(wantLines))
	}

	names := map[string]bool{}
	for _, s := range res.Report.Stages {
		names[s.Name] = true
	}
	for _, n := range []string{"exact_spool", "exact", "exact/hash", "exact/remove", "fuzzy", "fuzzy/minhash", "fuzzy/lsh", "fuzzy_read"} {
		if !names[n] {
			t.Errorf("report lacks row %s (has %v)", n, names)
		}
	}
	// The node rows count the calls of the steps' phases too: stage and
	// node CPU sums agree (up to the rounding of seconds in the workflows'
	// summaries).
	var stageCPU, nodeCPU time.Duration
	for _, s := range res.Report.Stages {
		if s.Kind != "step" {
			stageCPU += s.CPU
		}
	}
	for _, n := range res.Report.Nodes {
		nodeCPU += n.CPU
	}
	if len(res.Report.Nodes) != 1 || (stageCPU-nodeCPU).Abs() > time.Millisecond {
		t.Errorf("nodes %+v: %s CPU, the stages %s", res.Report.Nodes, nodeCPU, stageCPU)
	}
	if names["fuzzy_spool"] || names["exact_read"] {
		t.Error("files between two steps were read and spooled again")
	}
	spooled, _ := filepath.Glob(filepath.Join(dir, "out", "_cache", "exact", "input", "*.jsonl"))
	if len(spooled) != 0 {
		t.Errorf("the spool of step exact was left: %v", spooled)
	}
	var sum struct{ Duplicates int64 }
	b, err := os.ReadFile(filepath.Join(dir, "out", "_cache", "exact", "output", "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || sum.Duplicates != int64(len(exactRemoved)) {
		t.Fatalf("the step's summary.json (%v): %s", err, b)
	}

	// The same file runs again: the writer and the steps replace their
	// earlier files.
	res2, err := execute(t, path)
	if err != nil || res2.Records.Kept != want.Kept {
		t.Fatalf("second run: %v, records %+v", err, res2.Records)
	}
}

// TestStepNeedsAllInput: when tasks fail before a step, even within
// max_failed_fraction, the run stops before the step (no step runs, the
// writer writes nothing) with the tasks-failed error.
func TestStepNeedsAllInput(t *testing.T) {
	dir := t.TempDir()
	writeInput(t, filepath.Join(dir, "in"))
	yaml := `executor: { max_failed_fraction: 0.9, max_attempts: 1 }
stages:
  - type: jsonl_reader
    name: read
    config: { paths: [in], batch_rows: 16 }
  - type: chaos
    config: { error_fraction: 0.3, error_attempts: 9, seed: 3, panic_on_call: 2 }
  - type: dedup_exact
    name: exact
  - type: jsonl_writer
    name: write
    config: { dir: out }
`
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := execute(t, path)
	var tfe *executor.TasksFailedError
	if !errors.As(err, &tfe) || !strings.Contains(err.Error(), "stopped before the next step") {
		t.Fatalf("want a tasks-failed error stopping before the step, got %v", err)
	}
	if len(res.Failed) == 0 || slices.ContainsFunc(res.Report.Stages, func(s executor.StageReport) bool { return s.Name == "exact" || s.Name == "write" }) {
		t.Fatalf("failed %d, report %+v", len(res.Failed), res.Report.Stages)
	}
	if files := readLines(t, filepath.Join(dir, "out")); len(files) != 0 {
		t.Fatalf("the writer wrote %d lines", len(files))
	}
}

// TestStepConfig: the step types reject bad parameters when the pipeline
// is built (before any work), and a step needs a cache directory when no
// writer gives it one.
func TestStepConfig(t *testing.T) {
	reg := builtin.Registry()
	for _, c := range []struct{ typ, config, want string }{
		{"dedup_fuzzy", `{"bands": 300, "rows": 300}`, "at most 65536"},
		{"dedup_fuzzy", `{"preset": "fast"}`, `"fast"`},
		{"dedup_fuzzy", `{"hash_bits": 16}`, "32 or 64"},
		{"dedup_exact", `{"memory_limit": -1}`, "negative"},
		{"dedup_exact", `{"normalise": true}`, "normalise"},
	} {
		_, err := reg.Build(stage.Descriptor{Type: c.typ, Config: []byte(c.config)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: want an error mentioning %s, got %v", c.typ, c.config, c.want, err)
		}
	}
	// A preset, with an explicit key winning.
	if _, err := reg.Build(stage.Descriptor{Type: "dedup_fuzzy", Config: []byte(`{"preset": "high-recall", "bands": 20, "memory_limit": "64MiB"}`)}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	writeInput(t, filepath.Join(dir, "in"))
	path := filepath.Join(dir, "p.yaml")
	yaml := "stages:\n  - {type: jsonl_reader, name: read, config: {paths: [in]}}\n  - {type: dedup_exact}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := pipeline.LoadFile(path, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Pipeline(); err == nil || !strings.Contains(err.Error(), "cache: DIR") {
		t.Fatalf("a step without writer or cache: %v", err)
	}
	spec.Cache = filepath.Join(dir, "in", "cache")
	p, err := spec.Pipeline()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PrepareOutputs(nil); err == nil || !strings.Contains(err.Error(), "lies inside "+filepath.Join(dir, "in")) {
		t.Fatalf("a cache inside the input: %v", err)
	}
}
