package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
)

const (
	e2eFiles       = 10
	e2eRowsPerFile = 10_000
	e2eBatchRows   = 1000 // 10 batches per file, 100 in all
)

// e2eData writes e2eFiles JSONL files of e2eRowsPerFile records under
// dir/in and returns every line written. Records vary in shape (key order,
// spacing, escapes, extra fields) so that byte-identical output means
// something.
func e2eData(t *testing.T, dir string) []string {
	t.Helper()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	var all []string
	for f := range e2eFiles {
		var b strings.Builder
		for i := range e2eRowsPerFile {
			id := fmt.Sprintf("f%d-%05d", f, i)
			var line string
			switch i % 4 {
			case 0:
				line = fmt.Sprintf(`{"id":%q,"text":"doc %s about rivers"}`, id, id)
			case 1:
				line = fmt.Sprintf(`{"text": "d\u00e9j\u00e0 vu \"%s\"", "id": %q, "n": %d}`, id, id, i)
			case 2:
				line = fmt.Sprintf(`{ "meta": {"k": [1, 2]}, "id":%q , "text":"tab\there %s" }`, id, id)
			default:
				line = fmt.Sprintf(`{"id":%q,"text":"plain %s","score":0.%d}`, id, id, i%10)
			}
			b.WriteString(line)
			b.WriteByte('\n')
			all = append(all, line)
		}
		writeFile(t, filepath.Join(in, fmt.Sprintf("part-%02d.jsonl", f)), b.String())
	}
	return all
}

// e2eYAML is the pipeline of the end-to-end tests: read, chaos, write.
func e2eYAML(outDir, chaosExtra, executorExtra string) string {
	return fmt.Sprintf(`name: e2e
executor:
  max_attempts: 3
  max_actor_deaths: 3
  retry_backoff: 1ms
  failed_manifest: failed.jsonl
%s
stages:
  - type: jsonl_reader
    name: read
    config: { paths: [in], batch_rows: %d }
  - type: chaos
    name: chaos
    config:
      seed: 42
%s
  - type: jsonl_writer
    name: write
    config: { dir: %s }
`, executorExtra, e2eBatchRows, chaosExtra, outDir)
}

// checkOutput compares the written lines with want, as multisets. The input
// lines are distinct (each holds a unique id), so equality means every
// record reached the output exactly once, byte for byte.
func checkOutput(t *testing.T, outDir string, want []string) {
	t.Helper()
	got := readLines(t, outDir)
	want = slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("output has %d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("output differs from input at sorted line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func totals(rep executor.Report) (retries, deaths int64) {
	for _, s := range rep.Stages {
		retries += s.Retries
		deaths += s.ActorDeaths
	}
	return retries, deaths
}

// TestEndToEnd runs 100k records, generated once, through
// jsonl_reader → chaos → jsonl_writer twice.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	lines := e2eData(t, dir)

	// Panics and transient errors are retried away: every record reaches
	// the output exactly once and the run succeeds.
	t.Run("recovers", func(t *testing.T) {
		yml := writeFile(t, filepath.Join(dir, "recovers.yaml"), e2eYAML("out1", "      error_fraction: 0.3\n      panic_on_call: 4", ""))
		sum := filepath.Join(dir, "summary1.json")
		r := sluice("--log-level", "error", "run", yml, "--summary-json", sum, "--cpus", "4")
		if r.code != 0 {
			t.Fatal(r)
		}
		checkOutput(t, filepath.Join(dir, "out1"), lines)
		var s runSummary
		readJSON(t, sum, &s)
		retries, deaths := totals(s.Report)
		if s.Status != "ok" || retries == 0 || deaths == 0 || s.Report.Failed != 0 || len(s.FailedTasks) != 0 || s.OutputTasks != e2eFiles*e2eRowsPerFile/e2eBatchRows {
			t.Fatalf("summary: status %s retries %d deaths %d failed %d outputs %d", s.Status, retries, deaths, s.Report.Failed, s.OutputTasks)
		}
		if !strings.Contains(r.stderr, "retries") || !strings.Contains(r.stderr, "total (streaming)") {
			t.Fatalf("no summary table on stderr:\n%s", r.stderr)
		}
	})

	// Three batches fail on every attempt: within max_failed_fraction the
	// run completes and exits 1, the manifest names exactly those batches,
	// and every other record is written once.
	t.Run("permanent failures", func(t *testing.T) {
		ids, lost := failingBatches(t, dir)
		quoted, _ := json.Marshal(ids)
		chaosCfg := fmt.Sprintf("      error_fraction: 0.2\n      panic_on_call: 5\n      error_ids: %s", quoted)
		yml := writeFile(t, filepath.Join(dir, "failures.yaml"), e2eYAML("out2", chaosCfg, "  max_failed_fraction: 0.05"))
		sum := filepath.Join(dir, "summary2.json")
		r := sluice("--log-level", "error", "run", yml, "--summary-json", sum, "--cpus", "4")
		if r.code != exitFailed || !strings.Contains(r.stderr, "failed.jsonl") {
			t.Fatalf("want exit 1 naming the manifest\n%s", r)
		}
		var kept []string
		for i, l := range lines {
			if !lost[i] {
				kept = append(kept, l)
			}
		}
		checkOutput(t, filepath.Join(dir, "out2"), kept)
		checkManifest(t, filepath.Join(dir, "failed.jsonl"), ids)
		var s runSummary
		readJSON(t, sum, &s)
		slices.Sort(s.FailedTasks)
		if s.Status != "tasks_failed" || s.ExitCode != 1 || !slices.Equal(s.FailedTasks, slices.Sorted(slices.Values(ids))) || s.Report.Failed != 3 {
			t.Fatalf("summary: %+v", s)
		}
	})
}

// failingBatches picks the chaos-input ids of three batches: the second
// batch of files 1 and 5 and the last of file 8. A batch's id is its file
// group's content id and its index (see package jsonl). lost holds the
// indexes, in e2eData's order, of the lines of those batches.
func failingBatches(t *testing.T, dir string) (ids []string, lost map[int]bool) {
	t.Helper()
	groups, err := dataio.FilePartitioning{Paths: []string{filepath.Join(dir, "in")}}.FileGroups("")
	if err != nil || len(groups) != e2eFiles {
		t.Fatalf("groups: %d %v", len(groups), err)
	}
	lost = make(map[int]bool)
	for _, p := range [][2]int{{1, 1}, {5, 1}, {8, 9}} {
		file, batch := p[0], p[1]
		ids = append(ids, fmt.Sprintf("%s_%d", groups[file].ID(), batch))
		for i := batch * e2eBatchRows; i < (batch+1)*e2eBatchRows; i++ {
			lost[file*e2eRowsPerFile+i] = true
		}
	}
	return ids, lost
}

// TestAbortOnFailure: with max_failed_fraction 0 (the default) the first
// permanently failed task aborts the run with exit code 1.
func TestAbortOnFailure(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 200 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"t%d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), sb.String())
	yml := writeFile(t, filepath.Join(dir, "p.yaml"), `executor: { retry_backoff: 1ms, failed_manifest: failed.jsonl }
stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: 10 } }
  - { type: chaos, config: { error_fraction: 1, error_attempts: 5 } }
  - { type: jsonl_writer, config: { dir: out } }
`)
	sum := filepath.Join(dir, "s.json")
	r := sluice("--log-level", "error", "run", yml, "--summary-json", sum, "--failed-manifest", filepath.Join(dir, "elsewhere.jsonl"))
	if r.code != exitFailed || !strings.Contains(r.stderr, "run aborted") {
		t.Fatalf("want an aborted run\n%s", r)
	}
	var s runSummary
	readJSON(t, sum, &s)
	if s.Status != "aborted" || s.ExitCode != 1 || len(s.FailedTasks) == 0 {
		t.Fatalf("summary %+v", s)
	}
	// The flag moved the manifest.
	if _, err := os.Stat(filepath.Join(dir, "elsewhere.jsonl")); err != nil {
		t.Fatalf("manifest from --failed-manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "failed.jsonl")); !os.IsNotExist(err) {
		t.Fatalf("the YAML's manifest path was used: %v", err)
	}
}

// checkManifest checks that the failed-task manifest names exactly ids, as
// failures of the chaos stage after max_attempts tries.
func checkManifest(t *testing.T, path string, ids []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e executor.ManifestEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		if e.Stage != "chaos" || !strings.Contains(e.Error, "error_ids") || e.Attempts < 3 {
			t.Errorf("manifest entry %+v", e)
		}
		got = append(got, e.TaskID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("manifest ids %v, want %v", got, want)
	}
}

// TestBinary builds the sluice binary and runs it: a permanent failure
// gives exit code 1, and SIGINT cancels a hung run cleanly with exit code 1.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var sb strings.Builder
	for i := range 50 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"t%d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), sb.String())
	groups, err := dataio.FilePartitioning{Paths: []string{filepath.Join(dir, "in")}}.FileGroups("")
	if err != nil {
		t.Fatal(err)
	}
	bad := groups[0].ID() + "_2"
	yml := writeFile(t, filepath.Join(dir, "fail.yaml"), fmt.Sprintf(`executor: { max_failed_fraction: 0.5, retry_backoff: 1ms, failed_manifest: failed.jsonl }
stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: 10 } }
  - { type: chaos, config: { error_ids: [%s] } }
  - { type: jsonl_writer, config: { dir: out } }
`, bad))
	cmd := exec.Command(bin, "run", yml)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "1 task") {
		t.Fatalf("exit %d (%v)\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
	checkManifest(t, filepath.Join(dir, "failed.jsonl"), []string{bad})
	if n := len(readLines(t, filepath.Join(dir, "out"))); n != 40 {
		t.Fatalf("%d records written, want 40", n)
	}

	// A batch that hangs (no batch timeout) holds the run until SIGINT.
	hang := writeFile(t, filepath.Join(dir, "hang.yaml"), fmt.Sprintf(`stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: 10 } }
  - { type: chaos, config: { hang_ids: [%s] } }
`, bad))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd = exec.CommandContext(ctx, bin, "--log-level", "debug", "run", hang)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "pipeline starting") {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // let the hung batch start
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if ctx.Err() != nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(log.String(), "interrupted") {
		t.Fatalf("after SIGINT: exit %d (%v, %v)\n%s", cmd.ProcessState.ExitCode(), err, ctx.Err(), log.String())
	}
}
