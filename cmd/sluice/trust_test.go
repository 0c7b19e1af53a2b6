package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// tinyCorpus writes a JSONL file of n records, every third a copy of the
// one before it, and returns its path.
func tinyCorpus(t *testing.T, path string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		k := i
		if i%3 == 2 {
			k = i - 1
		}
		fmt.Fprintf(&b, `{"id":"doc-%d","text":"record number %d says something about rivers and hills, with enough words to shingle %d"}`+"\n", i, k, k)
	}
	return writeFile(t, path, b.String())
}

// noGoNames fails when a message shows a Go package or type name instead of
// the user's words.
func noGoNames(t *testing.T, args []string, stderr string) {
	t.Helper()
	for _, bad := range []string{"dataio:", "fuzzy:", "FilesPerPartition", "BlockSize", "stat ", "executor.Config", "Go struct"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("sluice %s: message shows %q:\n%s", strings.Join(args, " "), bad, stderr)
		}
	}
}

// TestDedupFuzzyUsageBeforeWork: conflicting flags, a missing --input, an
// empty input directory and an explicit 0 for a flag whose zero means
// "default" are usage errors (exit 2) in the user's words, detected before
// anything is written: the output directory is not even created.
func TestDedupFuzzyUsageBeforeWork(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Dir(tinyCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 6))
	empty := filepath.Join(dir, "empty")
	writeFile(t, filepath.Join(empty, "notes.txt"), "not data\n")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--input", in, "--files-per-partition", "2", "--blocksize", "1MiB"}, []string{"--files-per-partition", "--blocksize", "give one"}},
		{[]string{"--input", filepath.Join(dir, "nope")}, []string{"--input", "nope", "no such file"}},
		{[]string{"--input", empty}, []string{"--input", "empty", "no input files", "notes.txt"}},
		{[]string{"--input", in, "--bands", "0"}, []string{"--bands 0"}},
		{[]string{"--input", in, "--char-ngrams", "0"}, []string{"--char-ngrams 0"}},
		{[]string{"--input", in, "--rows", "0"}, []string{"--rows 0"}},
		{[]string{"--input", in, "--bands-per-iteration", "0"}, []string{"--bands-per-iteration 0"}},
		{[]string{"--input", in, "--hash-bits", "0"}, []string{"--hash-bits 0", "32 or 64"}},
		{[]string{"--input", in, "--workers", "0"}, []string{"--workers 0"}},
		{[]string{"--input", in, "--files-per-partition", "0"}, []string{"--files-per-partition 0"}},
		{[]string{"--input", in, "--blocksize", "0"}, []string{"--blocksize 0"}},
		{[]string{"--input", in, "--blocksize", "lots"}, []string{"--blocksize", "lots"}},
		{[]string{"--input", in, "--char-ngrams", "100000"}, []string{"--char-ngrams 100000", "at most 65536"}},
		{[]string{"--input", in, "--bands", "300", "--rows", "300"}, []string{"--bands 300 × --rows 300", "at most 65536"}},
		{[]string{"--input", in, "--seed", "99999999999"}, []string{"--seed 99999999999"}},
	}
	for i, c := range cases {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		args := append([]string{"dedup", "fuzzy", "--output", out}, c.args...)
		r := sluice(args...)
		if r.code != exitUsage {
			t.Errorf("sluice %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("sluice %s: message lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
			}
		}
		noGoNames(t, args, r.stderr)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("sluice %s: the output directory was created (%v)", strings.Join(args, " "), err)
		}
	}
}

// TestDedupFuzzyPositionalInput: `sluice dedup fuzzy DIR --output O` reads
// DIR as an input; `sluice dedup DIR` says exactly what to type.
func TestDedupFuzzyPositionalInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Dir(tinyCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 6))
	out := filepath.Join(dir, "out")
	r := sluice("dedup", "fuzzy", in, "--output", out, "--workers", "1")
	if r.code != 0 {
		t.Fatal(r)
	}
	if sum, b := readSummary(t, out); sum.Records != 6 || sum.Duplicates != 2 {
		t.Fatalf("positional input: want 6 records and 2 duplicates: %s", b)
	}
	r = sluice("dedup", in)
	if r.code != exitUsage || !strings.Contains(r.stderr, "sluice dedup fuzzy --input "+in) || strings.Contains(r.stderr, "unknown command") {
		t.Fatalf("sluice dedup DIR: want exit 2 suggesting `sluice dedup fuzzy --input DIR`\n%s", r)
	}
}

// TestDedupFuzzyJSONExtension: a directory's .json files are JSON Lines, as
// in the pipeline reader; the files a walk skips are logged with a reason.
func TestDedupFuzzyJSONExtension(t *testing.T) {
	dir := t.TempDir()
	tinyCorpus(t, filepath.Join(dir, "in", "a.json"), 6)
	writeFile(t, filepath.Join(dir, "in", "README.md"), "about the data\n")
	out := filepath.Join(dir, "out")
	r := sluice("dedup", "fuzzy", "--input", filepath.Join(dir, "in"), "--output", out, "--workers", "1")
	if r.code != 0 {
		t.Fatal(r)
	}
	if sum, b := readSummary(t, out); sum.Records != 6 {
		t.Fatalf("a.json was not read: %s", b)
	}
	if _, err := os.Stat(filepath.Join(out, "deduplicated", "a.json")); err != nil {
		t.Fatalf("no deduplicated a.json: %v", err)
	}
	if !strings.Contains(r.stderr, "skipped input paths") || !strings.Contains(r.stderr, "README.md") || !strings.Contains(r.stderr, "does not end in") {
		t.Fatalf("the skipped README.md is not logged with its reason:\n%s", r.stderr)
	}
}

// numbered writes n records {"id":i,"text":"tI"} to path.
func numbered(t *testing.T, path string, n int) string {
	t.Helper()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"t%d\"}\n", i, i)
	}
	return writeFile(t, path, sb.String())
}

// TestRunMissingInput: a pipeline whose reader names a missing file, or a
// directory without data files, is a configuration error (exit 2) found
// before any work, naming the path; nothing is retried.
func TestRunMissingInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "empty", "notes.txt"), "x\n")
	for name, paths := range map[string]string{"missing": "[in/missing.jsonl]", "empty": "[empty]"} {
		yml := writeFile(t, filepath.Join(dir, name+".yaml"), `executor: { retry_backoff: 1ms }
stages:
  - { type: jsonl_reader, name: read, config: { paths: `+paths+` } }
  - { type: jsonl_writer, config: { dir: out } }
`)
		for _, args := range [][]string{{"run", yml}, {"run", "--dry-run", yml}} {
			r := sluice(args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, name) || strings.Contains(r.stderr, "attempt") || strings.Contains(r.stderr, "retry") {
				t.Errorf("sluice %s: want exit 2 naming %s, before any work\n%s", strings.Join(args, " "), name, r)
			}
			noGoNames(t, args, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatalf("the writer's directory was created: %v", err)
	}
}

// failingRun runs a reader → chaos → writer pipeline over the 50 records
// of input (see failingInput) in batches of 10; chaos is the chaos stage's
// config. It returns the result and the manifest's path.
func failingRun(t *testing.T, input, chaos, executorExtra string, args ...string) (r result, manifest string) {
	t.Helper()
	dir := t.TempDir()
	yml := writeFile(t, filepath.Join(dir, "p.yaml"), `executor: { retry_backoff: 1ms, failed_manifest: failed.jsonl`+executorExtra+` }
stages:
  - { type: jsonl_reader, name: read, config: { paths: [`+input+`], batch_rows: 10 } }
  - { type: chaos, config: `+chaos+` }
  - { type: jsonl_writer, config: { dir: out } }
`)
	return sluice(append(append([]string{}, args...), "run", yml)...), filepath.Join(dir, "failed.jsonl")
}

// failingInput writes the 50 records failingRun reads.
func failingInput(t *testing.T) string {
	return numbered(t, filepath.Join(t.TempDir(), "in", "a.jsonl"), 50)
}

// batchID is the id of the i-th batch the reader makes of input.
func batchID(t *testing.T, input string, i int) string {
	t.Helper()
	groups, err := dataio.FilePartitioning{Paths: []string{filepath.Dir(input)}}.FileGroups("")
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups %v %v", groups, err)
	}
	return fmt.Sprintf("%s_%d", groups[0].ID(), i)
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// readManifest parses a failed-task manifest.
func readManifest(t *testing.T, path string) []executor.ManifestEntry {
	t.Helper()
	var out []executor.ManifestEntry
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		if line == "" {
			continue
		}
		var e executor.ManifestEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("manifest line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// TestRunFailedTasksNamed: when tasks fail, the last line says which
// records they held (file and record range) and why, in words (no Go map),
// and the manifest gives every failed task's source file and records.
func TestRunFailedTasksNamed(t *testing.T) {
	// Within max_failed_fraction: the run completes, exit 1.
	input := failingInput(t)
	r, manifest := failingRun(t, input, fmt.Sprintf("{ error_ids: [%s] }", batchID(t, input, 2)), ", max_failed_fraction: 0.5", "--log-level", "error")
	last := lastLine(r.stderr)
	if r.code != exitFailed || !strings.Contains(last, "1 task failed permanently (1 in stage chaos)") || strings.Contains(r.stderr, "map[") ||
		!strings.Contains(last, input+" records 21-30") || !strings.Contains(last, "failed.jsonl") {
		t.Fatalf("want exit 1 and a last line naming the task's records and the manifest\n%s", r)
	}
	m := readManifest(t, manifest)
	if len(m) != 1 || len(m[0].Sources) != 1 || m[0].Sources[0] != (task.Source{File: input, Rows: "21-30"}) {
		t.Fatalf("manifest %+v: want one task with source %s rows 21-30", m, input)
	}

	// Beyond it (the default 0), the run aborts: the last line still names
	// the records, and the policy in words.
	r, _ = failingRun(t, input, fmt.Sprintf("{ error_ids: [%s] }", batchID(t, input, 4)), "", "--log-level", "error")
	last = lastLine(r.stderr)
	if r.code != exitFailed || !strings.Contains(last, "run aborted") || !strings.Contains(last, input+" records 41-50") || !strings.Contains(last, "none may fail") {
		t.Fatalf("aborted run: want exit 1 and a last line naming the records\n%s", r)
	}
}

// TestRunPanicMessages: a panic is logged as one ERROR line naming the
// stage, the actor, the panic value and where it was raised; its stack
// goes to the debug log and to the manifest's history, never into the
// manifest's error field or the main log line.
func TestRunPanicMessages(t *testing.T) {
	input := failingInput(t)
	chaos := fmt.Sprintf("{ panic_ids: [%s] }", batchID(t, input, 1))
	r, manifest := failingRun(t, input, chaos, ", max_failed_fraction: 0.5, max_actor_deaths: 2")
	if r.code != exitFailed {
		t.Fatal(r)
	}
	var panicLines int
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, "stage panicked") {
			panicLines++
			for _, want := range []string{"level=ERROR", "stage=chaos", "actor=", "is in panic_ids", "chaos.(*Stage).ProcessBatch (chaos.go:"} {
				if !strings.Contains(line, want) {
					t.Errorf("panic line lacks %q: %s", want, line)
				}
			}
		}
	}
	if panicLines != 2 || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("want 2 one-line panic reports and no stack at INFO\n%s", r.stderr)
	}
	m := readManifest(t, manifest)
	if len(m) != 1 || strings.Contains(m[0].Error, "\n") || strings.Contains(m[0].Error, "goroutine") || !strings.Contains(m[0].Error, "is in panic_ids") ||
		len(m[0].History) != 2 || !strings.Contains(m[0].History[0].Stack, "goroutine ") || len(m[0].Sources) != 1 || m[0].Sources[0].Rows != "11-20" {
		t.Fatalf("manifest %+v: want a one-line error, the stacks in the history, and records 11-20", m)
	}
	// At debug level the stack is logged.
	r, _ = failingRun(t, input, chaos, ", max_failed_fraction: 0.5, max_actor_deaths: 1", "--log-level", "debug")
	if !strings.Contains(r.stderr, "panic stack") || !strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("no stack in the debug log\n%s", r.stderr)
	}
}

// TestDedupFailureWording: a dedup failure names the record and says what
// the user can do, not the executor's max_failed_fraction (dedup has no
// such flag).
func TestDedupFailureWording(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), `{"id":"1","text":"some text here"}`+"\n"+`{"id":"2","txt":"no text"}`+"\n")
	r := sluice("dedup", "fuzzy", "--input", filepath.Join(dir, "in"), "--output", filepath.Join(dir, "out"))
	if r.code != exitFailed || strings.Contains(r.stderr, "max_failed_fraction") || !strings.Contains(r.stderr, "a.jsonl:2") || !strings.Contains(r.stderr, "--on-bad-record skip") {
		t.Fatalf("want exit 1 naming a.jsonl:2 and --on-bad-record skip, without max_failed_fraction\n%s", r)
	}
}

// TestRunYAMLMessages: YAML mistakes are reported at their line, in the
// file's terms: the known keys and the nearest one for a typo, the kind of
// value wanted for a type error, "30s" for a duration without a unit.
func TestRunYAMLMessages(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ body, want string }{
		{"executor:\n  max_atempts: 3\nstages:\n  - {type: chaos}\n",
			`x.yaml:2: executor: unknown key "max_atempts" (did you mean max_attempts?); known keys: mode, `},
		{"executor:\n  max_attempts: lots\nstages:\n  - {type: chaos}\n",
			`x.yaml:2: executor: max_attempts: want a whole number, got "lots"`},
		{"executor:\n  batch_timeout: 30\nstages:\n  - {type: chaos}\n",
			"x.yaml:2: executor: batch_timeout: 30 has no unit; write 30s"},
		{"name: x\nexecutor:\n  max_attempts: 3\nstages:\n  - type: chaos\n   name: foo\n",
			"x.yaml:6: did not find expected '-' indicator; check this line's indentation"},
		{"stages:\n  - type: chaos\n    config:\n      error_fraction: lots\n",
			"x.yaml:4: stage chaos: config: error_fraction: want a number, got a string"},
	}
	for _, c := range cases {
		yml := writeFile(t, filepath.Join(dir, "x.yaml"), c.body)
		r := sluice("run", yml)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: want exit 2 and %q\n%s", c.body, c.want, r)
		}
		noGoNames(t, []string{"run", yml}, r.stderr)
		for _, bad := range []string{"executor.Config", "time.Duration", "unmarshal", "!!"} {
			if strings.Contains(r.stderr, bad) {
				t.Errorf("%q: message shows %q\n%s", c.body, bad, r.stderr)
			}
		}
	}
}

// TestDedupSummaryFields: summary.json's params are snake_case like every
// other key; it names the Sluice version and the start and end times (RFC
// 3339, UTC); the largest groups name a few members by original id, file
// and record, the kept one first.
func TestDedupSummaryFields(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Dir(tinyCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 6))
	out := filepath.Join(dir, "out")
	r := sluice("dedup", "fuzzy", "--input", in, "--output", out, "--workers", "1")
	if r.code != 0 {
		t.Fatal(r)
	}
	var s struct {
		Params        map[string]any `json:"params"`
		SluiceVersion string         `json:"sluice_version"`
		StartedAt     string         `json:"started_at"`
		FinishedAt    string         `json:"finished_at"`
		LargestGroups []struct {
			Group   int64 `json:"group"`
			Size    int64 `json:"size"`
			Members []struct {
				File       string `json:"file"`
				Record     int64  `json:"record"`
				OriginalID string `json:"original_id"`
				Kept       bool   `json:"kept"`
			} `json:"members"`
		} `json:"largest_groups"`
	}
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for k := range s.Params {
		if !snake.MatchString(k) {
			t.Errorf("params key %q is not snake_case", k)
		}
	}
	if s.Params["char_ngrams"] != 24.0 || s.Params["id_field"] != "id" {
		t.Errorf("params %v", s.Params)
	}
	start, err1 := time.Parse(time.RFC3339, s.StartedAt)
	end, err2 := time.Parse(time.RFC3339, s.FinishedAt)
	if s.SluiceVersion == "" || err1 != nil || err2 != nil || !strings.HasSuffix(s.StartedAt, "Z") || end.Before(start) {
		t.Errorf("version %q, started %q (%v), finished %q (%v)", s.SluiceVersion, s.StartedAt, err1, s.FinishedAt, err2)
	}
	// Records 1,2 (doc-1, doc-2) and 4,5 (doc-4, doc-5) are the pairs.
	if len(s.LargestGroups) != 2 {
		t.Fatalf("largest groups %+v", s.LargestGroups)
	}
	g := s.LargestGroups[0]
	if len(g.Members) != 2 || !g.Members[0].Kept || g.Members[0].OriginalID != "doc-1" || g.Members[0].Record != 2 ||
		g.Members[1].Kept || g.Members[1].OriginalID != "doc-2" || g.Members[1].File != filepath.Join(in, "a.jsonl") {
		t.Fatalf("group %+v: want doc-1 (record 2, kept) and doc-2", g)
	}
	if !strings.Contains(r.stderr, `kept "doc-1"; removed "doc-2"`) {
		t.Errorf("the summary table does not name the members:\n%s", r.stderr)
	}
}

// TestVersionFlag: `sluice --version` prints what `sluice version` does.
func TestVersionFlag(t *testing.T) {
	r, want := sluice("--version"), sluice("version")
	if r.code != 0 || want.code != 0 || r.stdout != want.stdout || !strings.HasPrefix(r.stdout, "sluice ") {
		t.Fatalf("--version:\n%s\nversion:\n%s", r, want)
	}
}
