package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/internal/s3test"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

func TestMain(m *testing.M) {
	natstest.RunChild(natstest.Children{"sluice": sluiceChild})
	// The S3 tests' HTTP client keeps idle connections to their server.
	goleak.VerifyTestMain(s3test.M{M: m},
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// result is the outcome of one in-process run.
type result struct {
	code           int
	stdout, stderr string
}

func sluice(args ...string) result {
	// stderr takes the log and the command's own messages from several
	// goroutines (a head's workers log through it): os.Stderr allows
	// that, a bare bytes.Buffer does not.
	var out bytes.Buffer
	var errb lockedBuffer
	code := run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsageAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.yaml"), "stages:\n  - {type: chaos}\n")
	badKey := writeFile(t, filepath.Join(dir, "bad.yaml"), "stages:\n  - type: chaos\n    config:\n      panic_on_cal: 3\n")
	dup := writeFile(t, filepath.Join(dir, "dup.yaml"), "stages:\n  - {type: chaos}\n  - {type: chaos}\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "accepts 1 arg"},
		{[]string{"run", good, "--bogus"}, "unknown flag: --bogus"},
		{[]string{"run", good, "--mode", "fast"}, `--mode "fast"`},
		{[]string{"run", good, "--max-failed-fraction", "1.5"}, "outside [0, 1]"},
		{[]string{"run", good, "--max-failed-fraction", "lots"}, "invalid argument"},
		{[]string{"run", good, "--cpus", "2", "--workers", "2"}, "give one"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"run", badKey}, `bad.yaml:4: stage chaos: config: unknown key "panic_on_cal" (did you mean panic_on_call?)`},
		{[]string{"run", dup}, `dup.yaml:3: duplicate stage name "chaos"`},
		{[]string{"--log-format", "xml", "version"}, `--log-format "xml"`},
		{[]string{"--log-level", "loud", "version"}, `--log-level "loud"`},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"stages", "nope"}, `unknown stage type "nope"`},
	}
	for _, c := range cases {
		r := sluice(c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
}

func TestStagesVersionDryRun(t *testing.T) {
	r := sluice("stages")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"chaos", "error_fraction", "panic_on_call", "setup_fail_times", "jsonl_reader", "files_per_partition",
		"on_bad_record", "jsonl_writer", "text_filter", "file_partitioning", "jsonl_read_files"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sluice stages lacks %q:\n%s", want, r.stdout)
		}
	}
	r = sluice("stages", "chaos")
	if r.code != 0 || strings.Contains(r.stdout, "jsonl_writer") || !strings.Contains(r.stdout, "hang_ids") {
		t.Fatalf("sluice stages chaos:\n%s", r)
	}
	r = sluice("version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sluice ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("version: %s", r)
	}
	r = sluice("run", "--dry-run", "../../examples/pipeline.yaml")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"pipeline demo: 5 stages", "read_partition", "file_partitioning", "jsonl_read_files", "chaos", "text_filter", "jsonl_writer"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestExamplePipeline runs examples/pipeline.yaml on a copy of the example
// directory: the sample is filtered and written, faults are retried away.
func TestExamplePipeline(t *testing.T) {
	dir := t.TempDir()
	yml, err := os.ReadFile("../../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../examples/data/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), string(yml))
	writeFile(t, filepath.Join(dir, "data", "sample.jsonl"), string(sample))
	sum := filepath.Join(dir, "summary.json")
	r := sluice("--log-format", "json", "run", filepath.Join(dir, "pipeline.yaml"), "--summary-json", sum, "--mode", "stage-by-stage")
	if r.code != 0 {
		t.Fatal(r)
	}
	var s runSummary
	readJSON(t, sum, &s)
	if s.Status != "ok" || s.Report.Mode != "stage-by-stage" || len(s.FailedTasks) != 0 {
		t.Fatalf("summary %+v", s)
	}
	// Every JSON log line parses, and the table went to stderr.
	if !strings.Contains(r.stderr, `"msg":"pipeline finished"`) || !strings.Contains(r.stderr, "total (stage-by-stage)") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	// The output is the sample without its short documents, lines unchanged.
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(sample)), "\n") {
		var rec struct{ Text string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if len([]rune(rec.Text)) >= 20 {
			want = append(want, line)
		}
	}
	got := readLines(t, filepath.Join(dir, "out", "docs"))
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 300 || !slices.Equal(got, want) {
		t.Fatalf("output has %d lines, want %d (of 300)", len(got), len(want))
	}
	if st, err := os.Stat(filepath.Join(dir, "out", "failed.jsonl")); err != nil || st.Size() != 0 {
		t.Fatalf("failed manifest: %v %v", st, err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readLines returns every line of every JSONL file in dir.
func readLines(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
		if e.IsDir() || !strings.Contains(e.Name(), ".json") {
			continue // Sluice's records (_sluice/), a user's notes
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

// TestCPUProfile: --cpuprofile writes a profile that go tool pprof reads
// (gzipped protobuf, so it starts with the gzip magic); an unwritable path
// is a usage error.
func TestCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if r := sluice("--cpuprofile", path, "stages"); r.code != 0 {
		t.Fatal(r)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile %s: %d bytes, err %v", path, len(b), err)
	}
	r := sluice("--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof"), "stages")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--cpuprofile") {
		t.Fatalf("unwritable profile path: %s", r)
	}
}
