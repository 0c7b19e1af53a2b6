package dataio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/task"
)

func TestParseOutputMode(t *testing.T) {
	for in, want := range map[string]OutputMode{"": OutputError, "error": OutputError, "overwrite": OutputOverwrite, "append": OutputAppend} {
		if got, err := ParseOutputMode(in); err != nil || got != want {
			t.Errorf("ParseOutputMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseOutputMode("replace"); err == nil || !strings.Contains(err.Error(), "want error, overwrite or append") {
		t.Errorf("ParseOutputMode(replace): %v", err)
	}
}

func TestCheckOverlap(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	data, out, out2 := mk("data"), mk("out"), mk("out2")
	mk("out/deduplicated")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(out, "deduplicated"), link); err != nil {
		t.Fatal(err)
	}
	in := func(p string) NamedPath { return NamedPath{Path: p, Name: "--input"} }
	o := func(p string) NamedPath { return NamedPath{Path: p, Name: "--output"} }
	cases := []struct {
		in, out   string
		insideOK  bool
		want      string // "" = allowed
		wantNames bool
	}{
		{data, out, false, "", false},
		{out, out2, false, "", false}, // a shared name prefix is not nesting
		{out, out + "/", false, "same path", true},
		{filepath.Join(out, "deduplicated"), out, true, "lies inside", true},
		{link, out, true, "lies inside", true}, // through a symbolic link
		{filepath.Join(dir, "out", "..", "out"), out, true, "same path", true},
		{data, filepath.Join(data, "o"), true, "", false},
		{data, filepath.Join(data, "o", "new"), false, "later run would read", true},
	}
	for _, c := range cases {
		err := CheckOverlap(in(c.in), o(c.out), c.insideOK)
		if c.want == "" {
			if err != nil {
				t.Errorf("CheckOverlap(%s, %s): %v", c.in, c.out, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrOutputRejected) || !strings.Contains(err.Error(), c.want) ||
			!strings.Contains(err.Error(), "--input "+c.in) || !strings.Contains(err.Error(), "--output "+c.out) {
			t.Errorf("CheckOverlap(%s, %s) = %v, want %q naming both paths", c.in, c.out, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "output rejected") {
			t.Errorf("message shows the sentinel: %v", err)
		}
	}
	// Stage settings read as "path (name)".
	err := CheckOverlap(NamedPath{data, "paths of stage read"}, NamedPath{data, "dir of stage write"}, false)
	if err == nil || !strings.Contains(err.Error(), data+" (paths of stage read)") {
		t.Errorf("named stage paths: %v", err)
	}
}

// put writes a file under dir.
func put(t *testing.T, dir, rel, body string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOut writes one JSONL file of rows through the Output API, as a
// writer stage does, and returns its path.
func writeOut(t *testing.T, o *Output, name string, rows ...string) string {
	t.Helper()
	path, err := o.Begin(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := CreateJSONL(path, JSONLWriterOptions{Mode: ColumnObjects})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(task.NewDocumentBatch("t", "text", rows)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(path, int64(len(rows))); err != nil {
		t.Fatal(err)
	}
	return path
}

func prepare(t *testing.T, dir string, o PrepareOptions) (*Prepared, *Output) {
	t.Helper()
	p, err := PrepareOutput(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	out, err := OpenOutput(dir, o.Mode)
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

func mustHold(t *testing.T, path, body string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != body {
		t.Errorf("%s: %q, %v; want %q", path, b, err, body)
	}
}

// TestOutputModes: the default refuses earlier output and foreign files,
// naming them; overwrite removes only Sluice's files; append keeps
// everything and renames colliding names; a retry within a run replaces its
// own file.
func TestOutputModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	opts := PrepareOptions{Name: "--output", Remedy: "pass --overwrite", Logger: log}

	_, out := prepare(t, dir, opts) // a new directory
	a := writeOut(t, out, "a.jsonl", "one", "two")
	writeOut(t, out, "sub/b.jsonl", "three")
	a2 := writeOut(t, out, "a.jsonl", "one again") // a retry replaces its own file
	if a2 != a || len(readLinesOf(t, a)) != 1 {
		t.Fatalf("retry wrote %s, want %s with 1 line", a2, a)
	}
	notes := put(t, dir, "notes.txt", "mine")
	put(t, dir, ".DS_Store", "hidden")
	put(t, dir, "_SUCCESS", "")

	_, err := PrepareOutput(dir, opts)
	if err == nil || !errors.Is(err, ErrOutputRejected) {
		t.Fatalf("default mode accepted an occupied directory: %v", err)
	}
	for _, want := range []string{"--output " + dir, "2 file(s) written by an earlier Sluice run (a.jsonl, sub/b.jsonl)",
		"1 file(s) that Sluice did not write (notes.txt)", "pass --overwrite"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), ".DS_Store") || strings.Contains(err.Error(), "_SUCCESS") {
		t.Errorf("hidden files count as data: %v", err)
	}

	opts.Mode = OutputOverwrite
	p, out := prepare(t, dir, opts)
	if len(p.Removed) != 2 || !slices.Equal(p.Kept, []string{"notes.txt"}) {
		t.Fatalf("overwrite removed %v, kept %v", p.Removed, p.Kept)
	}
	mustNotExist(t, a, filepath.Join(dir, "sub", "b.jsonl"))
	mustHold(t, notes, "mine")
	mustHold(t, filepath.Join(dir, ".DS_Store"), "hidden")
	if !strings.Contains(logBuf.String(), "removed the output of an earlier run") || !strings.Contains(logBuf.String(), "notes.txt") {
		t.Errorf("log does not say what was removed and kept:\n%s", logBuf.String())
	}
	writeOut(t, out, "a.jsonl", "x")
	// A foreign file at a name the writer wants is refused, not overwritten.
	put(t, dir, "c.jsonl", "foreign")
	if _, err := out.Begin("c.jsonl"); err == nil || !strings.Contains(err.Error(), "not written by Sluice") {
		t.Fatalf("Begin over a foreign file: %v", err)
	}
	mustHold(t, filepath.Join(dir, "c.jsonl"), "foreign")

	opts.Mode = OutputAppend
	_, out = prepare(t, dir, opts)
	first, _ := os.ReadFile(a)
	got := writeOut(t, out, "a.jsonl", "appended")
	if got != filepath.Join(dir, "a-1.jsonl") {
		t.Fatalf("append wrote %s, want a-1.jsonl", got)
	}
	if again := writeOut(t, out, "a.jsonl", "appended, retried"); again != got {
		t.Fatalf("a retry in append mode wrote %s, want %s", again, got)
	}
	if c := writeOut(t, out, "c.jsonl", "new"); c != filepath.Join(dir, "c-1.jsonl") {
		t.Fatalf("append next to a foreign file wrote %s", c)
	}
	mustHold(t, a, string(first))
	mustHold(t, filepath.Join(dir, "c.jsonl"), "foreign")

	// Overwrite now removes both runs' files, and only them.
	opts.Mode = OutputOverwrite
	p, _ = prepare(t, dir, opts)
	if len(p.Removed) != 3 {
		t.Fatalf("removed %v, want a.jsonl, a-1.jsonl, c-1.jsonl", p.Removed)
	}
	names := dirNames(t, dir)
	if want := []string{".DS_Store", "_SUCCESS", "_sluice", "c.jsonl", "notes.txt", "sub"}; !slices.Equal(names, want) {
		t.Fatalf("after overwrite the directory holds %v, want %v", names, want)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func readLinesOf(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestOutputCompleteAndReserved: with Complete set, the default mode
// replaces an interrupted run's files (the same command resumes) but still
// refuses a finished run's; a foreign file at a Reserved path is refused even
// with overwrite.
func TestOutputCompleteAndReserved(t *testing.T) {
	dir := t.TempDir()
	opts := PrepareOptions{Name: "--output", Complete: "summary.json", Reserved: []string{"deduplicated/a.jsonl"}}
	_, out := prepare(t, dir, opts)
	part := writeOut(t, out, "deduplicated/b.jsonl", "partial")
	p, out := prepare(t, dir, opts) // interrupted: no summary.json
	if len(p.Removed) != 1 {
		t.Fatalf("an interrupted run's files were not replaced: %+v", p)
	}
	mustNotExist(t, part)
	writeOut(t, out, "summary.json", "{}")
	if _, err := PrepareOutput(dir, opts); err == nil || !strings.Contains(err.Error(), "summary.json") {
		t.Fatalf("a finished run's output was not refused: %v", err)
	}

	stale := put(t, dir, "deduplicated/a.jsonl", "stale")
	opts.Mode = OutputOverwrite
	_, err := PrepareOutput(dir, opts)
	if err == nil || !strings.Contains(err.Error(), "deduplicated/a.jsonl") || !strings.Contains(err.Error(), "move them away") {
		t.Fatalf("a foreign file where the run writes was not refused: %v", err)
	}
	mustHold(t, stale, "stale")
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
		t.Fatalf("a refused run removed files: %v", err)
	}
}

// TestOutputOwnershipProof: a file changed after Sluice wrote it, or put
// where Sluice's record points, is not Sluice's any more and is kept;
// records of vanished files and killed writers' temporary files are cleared.
func TestOutputOwnershipProof(t *testing.T) {
	dir := t.TempDir()
	opts := PrepareOptions{Mode: OutputOverwrite}
	_, out := prepare(t, dir, opts)
	edited := writeOut(t, out, "edited.jsonl", "a")
	gone := writeOut(t, out, "gone.jsonl", "b")
	kept := writeOut(t, out, "kept.jsonl", "c")
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(edited, []byte("the user's edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(gone)
	// A writer that Begin-s and is killed before Commit: the record says
	// "writing". A file put there before that record counts as foreign.
	early := put(t, dir, "early.jsonl", "someone else's")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(early, old, old)
	if err := writeRecord(dir, fileRecord{Path: "early.jsonl", Name: "early.jsonl", Run: out.run, State: stateWriting}); err != nil {
		t.Fatal(err)
	}
	tmp := put(t, dir, ".kept.jsonl.tmp-123", "half")
	foreignTmp := put(t, dir, ".other.tmp-9", "not ours")

	scan, err := ScanOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Ours) != 1 || scan.Ours[0].Path != "kept.jsonl" || scan.Ours[0].Rows != 1 ||
		!slices.Equal(scan.Foreign, []string{"early.jsonl", "edited.jsonl"}) {
		t.Fatalf("scan: ours %+v foreign %v", scan.Ours, scan.Foreign)
	}
	p, _ := prepare(t, dir, opts)
	if len(p.Removed) != 1 {
		t.Fatalf("removed %+v", p.Removed)
	}
	mustNotExist(t, kept, tmp)
	mustHold(t, edited, "the user's edit\n")
	mustHold(t, early, "someone else's")
	mustHold(t, foreignTmp, "not ours")
	recs, err := loadRecords(dir)
	if err != nil || len(recs) != 0 {
		t.Fatalf("records left: %v %v", recs, err)
	}
}

// TestOutputErrors: an output that cannot be created is refused with the
// path and the reason, without Go's operation names; an unprepared
// directory cannot be written; names must stay inside the directory.
func TestOutputErrors(t *testing.T) {
	dir := t.TempDir()
	file := put(t, dir, "file", "x")
	_, err := PrepareOutput(filepath.Join(file, "out"), PrepareOptions{Name: "--output"})
	if err == nil || !errors.Is(err, ErrOutputRejected) || !strings.Contains(err.Error(), "--output "+filepath.Join(file, "out")) ||
		!strings.Contains(err.Error(), "not a directory") || strings.Contains(err.Error(), "mkdir") {
		t.Fatalf("unwritable output: %v", err)
	}
	if _, err := OpenOutput(filepath.Join(dir, "new"), OutputError); err == nil || !strings.Contains(err.Error(), "PrepareOutput") {
		t.Fatalf("unprepared directory: %v", err)
	}
	_, out := prepare(t, filepath.Join(dir, "o"), PrepareOptions{})
	for _, bad := range []string{"../x.jsonl", "/abs.jsonl", "_sluice/run.json", ""} {
		if _, err := out.Begin(bad); err == nil {
			t.Errorf("Begin(%q) accepted", bad)
		}
	}
	if err := out.Commit(filepath.Join(dir, "o", "never.jsonl"), 1); err == nil {
		t.Error("Commit without Begin accepted")
	}
}

func TestWithSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"a.jsonl": "a-2.jsonl", "d/part.7.parquet": "d/part.7-2.parquet", "x.jsonl.gz": "x-2.jsonl.gz",
		"fg_1.5_0.jsonl.zst": "fg_1.5_0-2.jsonl.zst", "noext": "noext-2", "data.bin": "data-2.bin",
	} {
		if got := withSuffix(in, 2); got != want {
			t.Errorf("withSuffix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOutputConcurrentActors: actors with their own Output, sharing nothing
// but the directory, write and retry files at once; every file is recorded.
func TestOutputConcurrentActors(t *testing.T) {
	dir := t.TempDir()
	if _, err := PrepareOutput(dir, PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for a := range 4 {
		wg.Go(func() {
			out, err := OpenOutput(dir, OutputError)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range 10 {
				// Every actor also writes "shared.jsonl", like retries of one
				// batch on several actors.
				for _, name := range []string{fmt.Sprintf("a%d-%d.jsonl", a, i), "shared.jsonl"} {
					path, err := out.Begin(name)
					if err == nil {
						var w *JSONLWriter
						if w, err = CreateJSONL(path, JSONLWriterOptions{Mode: ColumnObjects}); err == nil {
							if err = w.Write(task.NewDocumentBatch("t", "text", []string{name})); err == nil {
								err = w.Close()
							}
						}
					}
					if err == nil {
						err = out.Commit(path, 1)
					}
					if err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	scan, err := ScanOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Ours) != 41 || len(scan.Foreign) != 0 {
		t.Fatalf("ours %d (want 41), foreign %v", len(scan.Ours), scan.Foreign)
	}
}

// TestOutputKilledWriter kills writer processes at the two points a crash
// can leave a file without a finished record, and checks that the next
// run's overwrite still knows the files are Sluice's (and removes them),
// while the default mode refuses them.
func TestOutputKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	if _, err := PrepareOutput(dir, PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	helper(t, dir, "commit", "done.jsonl")
	helper(t, dir, "kill-after-rename", "renamed.jsonl")
	helper(t, dir, "kill-in-temp", "partial.jsonl")
	names := dirNames(t, dir)
	if !slices.Contains(names, "renamed.jsonl") || !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, ".partial.jsonl.tmp-") }) {
		t.Fatalf("the killed writers left %v", names)
	}
	if _, err := PrepareOutput(dir, PrepareOptions{}); err == nil || !strings.Contains(err.Error(), "2 file(s) written by an earlier Sluice run") {
		t.Fatalf("default mode after killed writers: %v", err)
	}
	p, err := PrepareOutput(dir, PrepareOptions{Mode: OutputOverwrite})
	if err != nil || len(p.Removed) != 2 || len(p.Kept) != 0 {
		t.Fatalf("overwrite after killed writers: %+v %v", p, err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"_sluice"}) {
		t.Fatalf("left behind: %v", names)
	}
}

// helper runs TestOutputHelperProcess in a child process, which writes name
// into dir and, for the kill-* steps, stops and is killed with SIGKILL.
func helper(t *testing.T, dir, step, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutputHelperProcess$")
	cmd.Env = append(os.Environ(), "SLUICE_OUTPUT_HELPER="+step, "SLUICE_OUTPUT_DIR="+dir, "SLUICE_OUTPUT_NAME="+name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if strings.Contains(step, "kill") {
		cmd.Process.Kill()
	}
	for sc.Scan() {
	}
	cmd.Wait()
	if !ready {
		t.Fatalf("helper %s did not get ready", step)
	}
}

func TestOutputHelperProcess(t *testing.T) {
	step := os.Getenv("SLUICE_OUTPUT_HELPER")
	if step == "" {
		t.Skip("run by TestOutputKilledWriter")
	}
	out, err := OpenOutput(os.Getenv("SLUICE_OUTPUT_DIR"), OutputError)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(step, "batch-") {
		batchHelper(t, out, step, os.Getenv("SLUICE_OUTPUT_NAME"))
		return
	}
	path, err := out.Begin(os.Getenv("SLUICE_OUTPUT_NAME"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := CreateJSONL(path, JSONLWriterOptions{Mode: ColumnObjects})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(task.NewDocumentBatch("t", "text", []string{"doc"})); err != nil {
		t.Fatal(err)
	}
	if step == "kill-in-temp" {
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if step == "kill-after-rename" {
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	if err := out.Commit(path, 1); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
}

// batchHelper writes ten files NAME-i.jsonl as one batch (BeginFiles, a
// WriteBatch, CommitFiles), stopping to be killed while the files are
// still temporary ("batch-kill-in-temp") or after Publish, before
// CommitFiles ("batch-kill-after-publish").
func batchHelper(t *testing.T, out *Output, step, name string) {
	ctx := t.Context()
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("%s-%d.jsonl", name, i))
	}
	paths, err := out.BeginFiles(names)
	if err != nil {
		t.Fatal(err)
	}
	b := NewWriteBatch()
	for _, p := range paths {
		if err := b.WriteFile(ctx, p, []byte("{\"text\":\"doc\"}\n")); err != nil {
			t.Fatal(err)
		}
	}
	if step == "batch-kill-in-temp" {
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	if err := b.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if step == "batch-kill-after-publish" {
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	if err := out.CommitFiles(paths, slices.Repeat([]int64{1}, len(paths))); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
}

// TestOutputKilledBatchWriter is TestOutputKilledWriter for files written
// as one batch: killed while its files are temporary, nothing of the batch
// is visible and the next run removes the temporary files and the record;
// killed after they are in place but before the record says "done", the
// files are still known as Sluice's.
func TestOutputKilledBatchWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	if _, err := PrepareOutput(dir, PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	helper(t, dir, "batch-commit", "done")
	helper(t, dir, "batch-kill-after-publish", "published")
	helper(t, dir, "batch-kill-in-temp", "partial")
	names := dirNames(t, dir)
	temps := 0
	for _, n := range names {
		if strings.HasPrefix(n, ".partial-") && strings.Contains(n, ".tmp-") {
			temps++
		}
	}
	if temps != 10 || slices.Contains(names, "partial-0.jsonl") || !slices.Contains(names, "published-9.jsonl") {
		t.Fatalf("the killed writers left %v", names)
	}
	if _, err := PrepareOutput(dir, PrepareOptions{}); err == nil || !strings.Contains(err.Error(), "20 file(s) written by an earlier Sluice run") {
		t.Fatalf("default mode after killed batch writers: %v", err)
	}
	p, err := PrepareOutput(dir, PrepareOptions{Mode: OutputOverwrite})
	if err != nil || len(p.Removed) != 20 || len(p.Kept) != 0 {
		t.Fatalf("overwrite after killed batch writers: %+v %v", p, err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"_sluice"}) {
		t.Fatalf("left behind: %v", names)
	}
	if recs := recordFiles(t, dir); len(recs) != 0 {
		t.Fatalf("records left behind: %v", recs)
	}
}

// TestOutputSymlinkAndManyFiles: an output given as a symbolic link is
// scanned through the link; a directory full of other files (a mistaken
// --output) is refused after a bounded walk, saying there are more.
func TestOutputSymlinkAndManyFiles(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	for i := range MaxForeignListed + 5 {
		put(t, real, fmt.Sprintf("d%d/f%04d.txt", i%7, i), "x")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := PrepareOutput(link, PrepareOptions{Name: "--output"})
	if err == nil || !strings.Contains(err.Error(), "--output "+link+" already holds more than 1000 file(s) that Sluice did not write") {
		t.Fatalf("symlinked, crowded output: %v", err)
	}
	// Reserved paths are checked directly, not through the bounded list
	// (the walk visits d6/f1000.txt last).
	scan, err := ScanOutput(link, nil)
	if err != nil || !scan.ForeignMore || slices.Contains(scan.Foreign, "d6/f1000.txt") {
		t.Fatalf("scan: more %v, listed d6/f1000.txt %v, %v", scan.ForeignMore, slices.Contains(scan.Foreign, "d6/f1000.txt"), err)
	}
	_, err = PrepareOutput(link, PrepareOptions{Mode: OutputOverwrite, Reserved: []string{"d6/f1000.txt"}})
	if err == nil || !strings.Contains(err.Error(), "d6/f1000.txt") {
		t.Fatalf("a reserved path beyond the listed files: %v", err)
	}
}

// BenchmarkOutputFile measures what the records add to writing one small
// JSONL file (10 rows) with this package's atomic writer.
func BenchmarkOutputFile(b *testing.B) {
	batch := task.NewDocumentBatch("t", "text", slices.Repeat([]string{"a short document of some forty bytes.."}, 10))
	write := func(b *testing.B, path string) {
		w, err := CreateJSONL(path, JSONLWriterOptions{Mode: ColumnObjects})
		if err == nil {
			if err = w.Write(batch); err == nil {
				err = w.Close()
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		dir := b.TempDir()
		for i := 0; b.Loop(); i++ {
			write(b, filepath.Join(dir, fmt.Sprintf("f%d.jsonl", i)))
		}
	})
	b.Run("recorded", func(b *testing.B) {
		dir := b.TempDir()
		if _, err := PrepareOutput(dir, PrepareOptions{}); err != nil {
			b.Fatal(err)
		}
		out, err := OpenOutput(dir, OutputError)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			path, err := out.Begin(fmt.Sprintf("f%d.jsonl", i))
			if err != nil {
				b.Fatal(err)
			}
			write(b, path)
			if err := out.Commit(path, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
}
