package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
)

// The tests of docs/safety.md: Sluice never deletes or overwrites a file it
// did not write, refuses overlapping paths before any work, and exits
// non-zero when the output on disk is not what it reports.

// snapshot is the bytes of every file under some roots, to check that a
// refused or failed run left them untouched.
type snapshot struct {
	roots []string
	files map[string][]byte
}

func takeSnapshot(t *testing.T, roots ...string) *snapshot {
	t.Helper()
	s := &snapshot{roots: roots, files: map[string][]byte{}}
	for _, r := range roots {
		err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			s.files[p] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(s.files) == 0 {
		t.Fatalf("nothing to snapshot under %v", roots)
	}
	return s
}

// check fails the test if any file was removed, added or changed.
func (s *snapshot) check(t *testing.T, when string) {
	t.Helper()
	now := &snapshot{files: map[string][]byte{}}
	for _, r := range s.roots {
		filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				now.files[p], _ = os.ReadFile(p)
			}
			return nil
		})
	}
	var diffs []string
	for p, b := range s.files {
		got, ok := now.files[p]
		switch {
		case !ok:
			diffs = append(diffs, p+" was deleted")
		case !bytes.Equal(got, b):
			diffs = append(diffs, fmt.Sprintf("%s changed (%d bytes, was %d)", p, len(got), len(b)))
		}
	}
	for p := range now.files {
		if _, ok := s.files[p]; !ok {
			diffs = append(diffs, p+" appeared")
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Errorf("%s: %d file(s) differ: %s", when, len(diffs), strings.Join(diffs[:min(5, len(diffs))], "; "))
	}
}

// dedupInput writes files JSONL files of n documents each (about 400 bytes
// a document) under dir, every fourth document a copy of the one before,
// and returns their paths.
func dedupInput(t *testing.T, dir string, files, n int) []string {
	t.Helper()
	var paths []string
	for f := range files {
		var sb strings.Builder
		prev := ""
		for i := range n {
			text := prev
			if i%4 != 3 {
				text = fmt.Sprintf("file %d document %d: %s", f, i, strings.Repeat(fmt.Sprintf("word%d-%d ", f*n+i, i*7919%1000), 35))
			}
			fmt.Fprintf(&sb, "{\"id\":\"f%d-%d\",\"text\":%q}\n", f, i, text)
			prev = text
		}
		paths = append(paths, writeFile(t, filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", f)), sb.String()))
	}
	return paths
}

// TestDedupOverlapRefused: deduplicating an earlier output in place
// (--input OUT/deduplicated --output OUT), --input X --output X and an
// input inside the cache are refused with exit 2 before any work, naming
// both paths; no input byte changes and nothing is created.
func TestDedupOverlapRefused(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dedupInput(t, data, 2, 40)
	trap := filepath.Join(dir, "o", "trap")
	if r := sluice("dedup", "fuzzy", "--input", data, "--output", trap); r.code != 0 {
		t.Fatal(r)
	}
	in := filepath.Join(trap, "deduplicated")
	snap := takeSnapshot(t, dir)
	for _, extra := range [][]string{nil, {"--overwrite"}} {
		r := sluice(append([]string{"dedup", "fuzzy", "--input", in, "--output", trap}, extra...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--input "+in+" lies inside --output "+trap) {
			t.Errorf("in-place dedup %v: want exit 2 naming both paths\n%s", extra, r)
		}
		snap.check(t, "after the refused in-place run")
	}

	r := sluice("dedup", "fuzzy", "--input", data, "--output", data)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--input "+data+" and --output "+data+" are the same path") {
		t.Errorf("--input X --output X: want exit 2 naming the path twice\n%s", r)
	}
	snap.check(t, "after --input X --output X") // no _cache left behind

	r = sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(dir, "o2"), "--cache", dir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "lies inside --cache "+dir) {
		t.Errorf("input inside the cache: want exit 2\n%s", r)
	}
	snap.check(t, "after an input inside the cache")
	if _, err := os.Stat(filepath.Join(dir, "o2")); !os.IsNotExist(err) {
		t.Errorf("a refused run created its output: %v", err)
	}

	cache := filepath.Join(dir, "c")
	r = sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(cache, "o"), "--cache", cache)
	if r.code != exitUsage || !strings.Contains(r.stderr, "lies inside --cache "+cache) {
		t.Errorf("output inside the cache: want exit 2\n%s", r)
	}
	victim := filepath.Join(data, "part-0.jsonl")
	for _, extra := range [][]string{nil, {"--overwrite"}} {
		r = sluice(append([]string{"dedup", "fuzzy", "--input", data, "--output", filepath.Join(dir, "o3"), "--removed-ids-out", victim}, extra...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--removed-ids-out "+victim) {
			t.Errorf("--removed-ids-out naming an input file %v: want exit 2\n%s", extra, r)
		}
	}
	snap.check(t, "after the refused --removed-ids-out runs")
}

// TestDedupForeignFiles: files Sluice did not write in OUTPUT/deduplicated
// and OUTPUT/duplicates are never deleted: refused by default, listed;
// kept (and logged) with --overwrite; refused in every mode where the run
// would have to overwrite one.
func TestDedupForeignFiles(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	inputs := dedupInput(t, data, 2, 40)
	out := filepath.Join(dir, "out")
	stale := writeFile(t, filepath.Join(out, "deduplicated", "stale.jsonl"), "{\"id\":\"old\",\"text\":\"from elsewhere\"}\n")
	part := writeFile(t, filepath.Join(out, "duplicates", "part.7.parquet"), "not even parquet")
	snap := takeSnapshot(t, dir)

	r := sluice("dedup", "fuzzy", "--input", data, "--output", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "2 file(s) that Sluice did not write (deduplicated/stale.jsonl, duplicates/part.7.parquet)") ||
		!strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("foreign files: want exit 2 listing them\n%s", r)
	}
	snap.check(t, "after the refused run")

	r = sluice("dedup", "fuzzy", "--input", data, "--output", out, "--overwrite")
	if r.code != 0 || !strings.Contains(r.stderr, "keeping files Sluice did not write") || !strings.Contains(r.stderr, "deduplicated/stale.jsonl") {
		t.Fatalf("--overwrite: want success and a warning naming the kept files\n%s", r)
	}
	mustHold(t, stale, "{\"id\":\"old\",\"text\":\"from elsewhere\"}\n")
	mustHold(t, part, "not even parquet")
	// Everything Sluice wrote is readable by others, as files made with
	// os.Create are (temporary files start as 0600).
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != stale && p != part {
			if fi, err := d.Info(); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("%s: mode %v, want 0644", p, fi.Mode())
			}
		}
		return nil
	})
	sum, _ := readSummary(t, out)
	if got := countLines(t, filepath.Join(out, "deduplicated", "part-0.jsonl"), filepath.Join(out, "deduplicated", "part-1.jsonl")); int64(got) != sum.RecordsWritten {
		t.Fatalf("written files hold %d records, summary says %d", got, sum.RecordsWritten)
	}

	// A foreign file exactly where the run writes an output file.
	out2 := filepath.Join(dir, "out2")
	mine := writeFile(t, filepath.Join(out2, "deduplicated", filepath.Base(inputs[0])), "mine\n")
	r = sluice("dedup", "fuzzy", "--input", data, "--output", out2, "--overwrite")
	if r.code != exitUsage || !strings.Contains(r.stderr, "deduplicated/part-0.jsonl") || !strings.Contains(r.stderr, "move them away") {
		t.Fatalf("a foreign file at an output path: want exit 2 before any work\n%s", r)
	}
	mustHold(t, mine, "mine\n")
}

func mustHold(t *testing.T, path, body string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != body {
		t.Errorf("%s: %q, %v; want %q", path, b, err, body)
	}
}

// TestDedupUnwritableOutput: an output or cache that cannot be created is
// reported with the flag and the path, before any work, not as
// "mkdir out/_cache" or "open out/id_map.json.tmp".
func TestDedupUnwritableOutput(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dedupInput(t, data, 1, 8)
	blocker := writeFile(t, filepath.Join(dir, "file"), "x")
	out := filepath.Join(blocker, "out")
	r := sluice("dedup", "fuzzy", "--input", data, "--output", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--output "+out+": cannot") || !strings.Contains(r.stderr, "not a directory") ||
		strings.Contains(r.stderr, "mkdir") || strings.Contains(r.stderr, ".tmp") {
		t.Fatalf("unwritable output: want exit 2 naming --output\n%s", r)
	}
	cache := filepath.Join(blocker, "cache")
	r = sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(dir, "out"), "--cache", cache)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--cache "+cache+": cannot write the cache") || strings.Contains(r.stderr, "mkdir") {
		t.Fatalf("unwritable cache: want exit 2 naming --cache\n%s", r)
	}
	unwritableReadOnly(t, data)
}

// TestDedupCache: a run keeps its cache entry (re-runs resume); when the
// input changes, the entries keyed by the old input are pruned, logged with
// their size, while entries of other, unchanged inputs and everything else
// in the cache directory stay; --remove-cache deletes the run's entry after
// success.
func TestDedupCache(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	inputs := dedupInput(t, data, 2, 20)
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	foreign := writeFile(t, filepath.Join(cache, "notes.txt"), "mine")
	legacy := writeFile(t, filepath.Join(cache, "mh-0000000000000000", "part-0.sig"), "an entry without a marker")
	args := []string{"dedup", "fuzzy", "--input", data, "--output", out, "--cache", cache}
	if r := sluice(args...); r.code != 0 {
		t.Fatal(r)
	}
	other := filepath.Join(dir, "other")
	dedupInput(t, other, 1, 8)
	if r := sluice("dedup", "fuzzy", "--input", other, "--output", filepath.Join(dir, "out-other"), "--cache", cache); r.code != 0 {
		t.Fatal(r)
	}
	first, _ := filepath.Glob(filepath.Join(cache, "mh-*"))
	if len(first) != 3 {
		t.Fatalf("cache entries %v, want the legacy one and two runs'", first)
	}

	f, err := os.OpenFile(inputs[1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "{\"id\":\"new\",\"text\":\"a new document appended to the input\"}\n")
	f.Close()
	r := sluice(append(args, "--overwrite")...)
	if r.code != 0 || !strings.Contains(r.stderr, "pruned a stale cache entry") || !strings.Contains(r.stderr, "size=") ||
		!strings.Contains(r.stderr, inputs[1]) {
		t.Fatalf("changed input: want the stale entry pruned and logged\n%s", r)
	}
	now, _ := filepath.Glob(filepath.Join(cache, "mh-*"))
	if len(now) != 3 || slices.Equal(now, first) || strings.Count(r.stderr, "pruned a stale cache entry") != 1 {
		t.Fatalf("cache entries after the change %v (before %v): want the legacy one, the other input's and the new one", now, first)
	}
	mustHold(t, foreign, "mine")
	mustHold(t, legacy, "an entry without a marker")

	// --remove-cache: with the default cache, nothing of it is left.
	out2 := filepath.Join(dir, "out2")
	r = sluice("dedup", "fuzzy", "--input", data, "--output", out2, "--remove-cache")
	if r.code != 0 || !strings.Contains(r.stderr, "removed the cache entry") {
		t.Fatal(r)
	}
	if _, err := os.Stat(filepath.Join(out2, "_cache")); !os.IsNotExist(err) {
		t.Fatalf("--remove-cache left %s: %v", filepath.Join(out2, "_cache"), err)
	}
	if b := readFile(t, filepath.Join(out2, "summary.json")); !strings.Contains(b, `"cache_removed": true`) {
		t.Fatalf("summary does not say the cache was removed:\n%s", b)
	}
	// With a shared cache, only this run's entry goes.
	r = sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(dir, "out3"), "--cache", cache, "--remove-cache")
	if r.code != 0 {
		t.Fatal(r)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "mh-*")); len(left) != 2 || !slices.Contains(left, filepath.Dir(legacy)) {
		t.Fatalf("after --remove-cache on a shared cache: %v, want the legacy entry and the other input's", left)
	}
	mustHold(t, foreign, "mine")
}

// TestRunWriterModes: a second `sluice run` into the same writer directory
// is refused by default (exit 2, naming the directory and the mode key);
// mode: overwrite replaces only Sluice's earlier files, so the output holds
// exactly the input; mode: append adds to it, leaving the earlier files as
// they were; a writer directory inside the reader's input is refused.
func TestRunWriterModes(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 300 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"record %d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), sb.String())
	out := filepath.Join(dir, "out")
	yml := func(batchRows int, extra string) string {
		return writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: %d } }
  - { type: jsonl_writer, name: write, config: { dir: out %s } }
`, batchRows, extra))
	}
	run := func(p string) result { return sluice("--log-level", "warn", "run", p) }
	if r := run(yml(10, "")); r.code != 0 {
		t.Fatal(r)
	}
	if n := len(readLines(t, out)); n != 300 {
		t.Fatalf("first run wrote %d lines", n)
	}
	snap := takeSnapshot(t, filepath.Join(dir, "in"), out)
	r := run(yml(25, ""))
	if r.code != exitUsage || !strings.Contains(r.stderr, out+" (dir of stage write) already holds 30 file(s) written by an earlier Sluice run") ||
		!strings.Contains(r.stderr, "mode: overwrite") || !strings.Contains(r.stderr, "mode: append") {
		t.Fatalf("second run: want exit 2 naming the dir and the mode key\n%s", r)
	}
	snap.check(t, "after the refused run")

	notes := writeFile(t, filepath.Join(out, "notes.txt"), "mine")
	if r := run(yml(25, ", mode: overwrite")); r.code != 0 || !strings.Contains(r.stderr, "notes.txt") {
		t.Fatalf("overwrite: want success and a warning naming notes.txt\n%s", r)
	}
	if n := countLines(t, jsonlFiles(t, out)...); n != 300 {
		t.Fatalf("after overwrite the output holds %d records, want the 300 input records", n)
	}
	mustHold(t, notes, "mine")

	before := takeSnapshot(t, out)
	if r := run(yml(10, ", mode: append")); r.code != 0 {
		t.Fatal(r)
	}
	if n := countLines(t, jsonlFiles(t, out)...); n != 600 {
		t.Fatalf("after append the output holds %d records, want 300 + 300", n)
	}
	for p, b := range before.files {
		if !strings.Contains(p, "_sluice") && filepath.Base(p) != dataio.SuccessMarker { // Sluice's own records and marker
			mustHold(t, p, string(b))
		}
	}

	r = run(writeFile(t, filepath.Join(dir, "nested.yaml"), `stages:
  - { type: jsonl_reader, name: read, config: { paths: [in] } }
  - { type: jsonl_writer, name: write, config: { dir: in/out } }
`))
	if r.code != exitUsage || !strings.Contains(r.stderr, filepath.Join(dir, "in", "out")+" (dir of stage write) lies inside "+filepath.Join(dir, "in")) {
		t.Fatalf("writer inside the input: want exit 2 naming both\n%s", r)
	}
}

// jsonlFiles lists the .jsonl files directly in dir.
func jsonlFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .jsonl files in %s: %v", dir, err)
	}
	return paths
}

// TestRunParquetWriterModes: parquet_writer follows the same output rules as
// jsonl_writer: a second run into its dir is refused (exit 2) and leaves the
// files as they were; mode: overwrite replaces only Sluice's files.
func TestRunParquetWriterModes(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 40 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"record %d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), sb.String())
	out := filepath.Join(dir, "out")
	yml := func(extra string) string {
		return writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: 10 } }
  - { type: parquet_writer, name: write, config: { dir: out %s } }
`, extra))
	}
	run := func(p string) result { return sluice("--log-level", "warn", "run", p) }
	if r := run(yml("")); r.code != 0 {
		t.Fatal(r)
	}
	snap := takeSnapshot(t, out)
	if r := run(yml("")); r.code != exitUsage || !strings.Contains(r.stderr, out+" (dir of stage write) already holds") {
		t.Fatalf("second run: want exit 2 naming the dir\n%s", r)
	}
	snap.check(t, "after the refused run")
	notes := writeFile(t, filepath.Join(out, "notes.txt"), "mine")
	if r := run(yml(", mode: overwrite")); r.code != 0 {
		t.Fatal(r)
	}
	mustHold(t, notes, "mine")
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	if len(files) != 4 {
		t.Fatalf("after overwrite: %d Parquet files, want 4", len(files))
	}
}
