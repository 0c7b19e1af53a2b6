package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exactSummary is the part of an exact summary.json the tests check.
type exactSummary struct {
	Records         int64 `json:"records"`
	RecordsWritten  int64 `json:"records_written"`
	Duplicates      int64 `json:"duplicates"`
	DuplicateGroups int64 `json:"duplicate_groups"`
	BadRecords      int64 `json:"bad_records"`
	Params          struct {
		Normalize bool `json:"normalize"`
	} `json:"params"`
	Phases []struct {
		Name    string `json:"name"`
		Resumed bool   `json:"resumed"`
	} `json:"phases"`
}

func readExactSummary(t *testing.T, out string) exactSummary {
	t.Helper()
	var s exactSummary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "summary.json"))), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// exactCorpus writes a JSONL file whose records 2, 5, 8… copy the record
// before them byte for byte, and whose records 3, 6, 9… copy it with the
// first letter upper-cased (a duplicate only with --normalize).
func exactCorpus(t *testing.T, path string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		text := fmt.Sprintf("record %d says something", i-i%3)
		if i%3 == 2 {
			text = "R" + text[1:]
		}
		fmt.Fprintf(&b, `{"id":"doc-%d","text":%q}`+"\n", i, text)
	}
	return writeFile(t, path, b.String())
}

// TestDedupExact: the command removes the byte-identical copies (and, with
// --normalize, the case variants too), lists their ids in
// --removed-ids-out, keeps every other line byte for byte, refuses to run
// into its finished output (exit 2) and resumes from the cache with
// --overwrite; positional arguments are inputs.
func TestDedupExact(t *testing.T) {
	dir := t.TempDir()
	path := exactCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 9)
	out := filepath.Join(dir, "out")
	ids := filepath.Join(dir, "removed.txt")
	r := sluice("dedup", "exact", filepath.Dir(path), "--output", out, "--removed-ids-out", ids, "--workers", "2")
	if r.code != 0 {
		t.Fatal(r)
	}
	if s := readExactSummary(t, out); s.Records != 9 || s.Duplicates != 3 || s.RecordsWritten != 6 || s.DuplicateGroups != 3 {
		t.Fatalf("summary %+v", s)
	}
	if got := readFile(t, ids); got != "doc-1\ndoc-4\ndoc-7\n" {
		t.Fatalf("removed ids %q", got)
	}
	var want []string
	for i, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		if i%3 != 1 {
			want = append(want, line)
		}
	}
	if got := readFile(t, filepath.Join(out, "deduplicated", "a.jsonl")); got != strings.Join(want, "\n")+"\n" {
		t.Fatalf("deduplicated:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if !strings.Contains(r.stderr, "duplicates removed         3") {
		t.Errorf("no summary printed:\n%s", r.stderr)
	}

	r = sluice("dedup", "exact", "--input", filepath.Dir(path), "--output", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("rerun into a finished output: want exit 2 naming --overwrite\n%s", r)
	}
	r = sluice("dedup", "exact", "--input", filepath.Dir(path), "--output", out, "--overwrite", "--normalize",
		"--removed-ids-out", ids)
	if r.code != 0 {
		t.Fatal(r)
	}
	s := readExactSummary(t, out)
	if s.Duplicates != 6 || !s.Params.Normalize || s.Phases[0].Resumed {
		t.Fatalf("--normalize: summary %+v (a new cache entry: nothing resumed)", s)
	}
	if got := readFile(t, ids); got != "doc-1\ndoc-2\ndoc-4\ndoc-5\ndoc-7\ndoc-8\n" {
		t.Fatalf("--normalize removed ids %q", got)
	}
	r = sluice("dedup", "exact", "--input", filepath.Dir(path), "--output", out, "--overwrite", "--normalize", "--removed-ids-out", ids)
	if s := readExactSummary(t, out); r.code != 0 || !s.Phases[0].Resumed || !s.Phases[1].Resumed {
		t.Fatalf("rerun with --overwrite did not resume: %+v\n%s", s, r)
	}
}

// TestDedupExactErrors: usage and configuration errors exit 2 before any
// work (no output directory is created); a bad record exits 1 naming
// file:line; under --on-bad-record skip it is quarantined and kept.
func TestDedupExactErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Dir(exactCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 6))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--input", in}, "--output are required"},
		{[]string{"--input", filepath.Join(dir, "nope"), "--output", "O"}, "no such file"},
		{[]string{"--input", in, "--output", "O", "--workers", "0"}, "--workers 0"},
		{[]string{"--input", in, "--output", "O", "--files-per-partition", "2", "--blocksize", "1MiB"}, "give one"},
		{[]string{"--input", in, "--output", "O", "--input-format", "csv"}, `--input-format "csv"`},
		{[]string{"--input", in, "--output", "O", "--on-bad-record", "ignore"}, `"ignore"`},
		{[]string{"--input", in, "--output", "O", "--memory-limit", "lots"}, "--memory-limit"},
		{[]string{"--input", in, "--output", "O", "--mode", "fast"}, "--mode"},
		{[]string{"--input", in, "--output", "O", "--removed-ids-out", "R.txt", "--id-field", "key"}, `--id-field "key"`},
		{[]string{"--input", in, "--output", in}, "are the same path"},
		{[]string{"--input", in, "--output", filepath.Dir(in)}, "lies inside --output"},
		{[]string{"--input", in, "--output", "O", "--cache", in}, "--cache"},
	}
	for i, c := range cases {
		args := []string{"dedup", "exact"}
		for _, a := range c.args {
			if a == "O" {
				a = filepath.Join(dir, fmt.Sprintf("out%d", i))
			}
			args = append(args, a)
		}
		r := sluice(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(args, " "), c.want, r)
		}
		noGoNames(t, args, r.stderr)
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("out%d", i))); !os.IsNotExist(err) {
			t.Errorf("sluice %s: the output directory was created", strings.Join(args, " "))
		}
	}

	bad := writeFile(t, filepath.Join(dir, "bad", "b.jsonl"), `{"id":"a","text":"x"}`+"\n\n"+`{"id":"b","text":["not","a","string"]}`+"\n"+`{"id":"c","text":"x"}`+"\n")
	r := sluice("dedup", "exact", "--input", bad, "--output", filepath.Join(dir, "bad-out"))
	if r.code != exitFailed || !strings.Contains(r.stderr, bad+":3:") || !strings.Contains(r.stderr, `"text"`) {
		t.Fatalf("bad record: want exit 1 naming %s:3\n%s", bad, r)
	}
	out := filepath.Join(dir, "skip-out")
	r = sluice("dedup", "exact", "--input", bad, "--output", out, "--on-bad-record", "skip")
	if s := readExactSummary(t, out); r.code != 0 || s.BadRecords != 1 || s.Duplicates != 1 || s.RecordsWritten != 2 {
		t.Fatalf("skip: summary %+v\n%s", s, r)
	}
	if q := readFile(t, filepath.Join(out, "quarantine.jsonl")); !strings.Contains(q, `"line":3`) {
		t.Fatalf("quarantine: %s", q)
	}
}

// TestRunDedupSteps: `sluice run` runs a pipeline file with a filter and
// both dedup steps, shows the steps in --dry-run, prints and writes the
// record accounting, and refuses (exit 2, before any work) a step with no
// writer to put its cache in.
func TestRunDedupSteps(t *testing.T) {
	dir := t.TempDir()
	exactCorpus(t, filepath.Join(dir, "in", "a.jsonl"), 12)
	writeFile(t, filepath.Join(dir, "in", "b.jsonl"), `{"id":"short","text":"tiny"}`+"\n")
	yaml := writeFile(t, filepath.Join(dir, "p.yaml"), `stages:
  - {type: jsonl_reader, name: read, config: {paths: [in]}}
  - {type: text_filter, name: filter, config: {min_chars: 10}}
  - {type: dedup_exact, name: exact, config: {normalize: true}}
  - {type: dedup_fuzzy, name: fuzzy, config: {bands: 10, rows: 5}}
  - {type: jsonl_writer, name: write, config: {dir: out}}
`)
	r := sluice("run", yaml, "--dry-run")
	if r.code != 0 || strings.Count(r.stdout, " step ") != 2 || !strings.Contains(r.stdout, "exact_spool") || !strings.Contains(r.stdout, "fuzzy_read") {
		t.Fatalf("dry run:\n%s", r)
	}
	sumPath := filepath.Join(dir, "run.json")
	r = sluice("run", yaml, "--summary-json", sumPath, "--workers", "2")
	if r.code != 0 || !strings.Contains(r.stderr, "records: 13 documents read, 4 kept, 1 removed by filter, 8 removed as duplicates by exact") {
		t.Fatalf("run:\n%s", r)
	}
	var sum struct {
		Records struct {
			Read, Kept int64
			Complete   bool
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(readFile(t, sumPath)), &sum); err != nil || sum.Records.Read != 13 || sum.Records.Kept != 4 || !sum.Records.Complete {
		t.Fatalf("summary %+v (%v)", sum, err)
	}
	if n := countLines(t, mustGlob(t, filepath.Join(dir, "out", "*.jsonl"))...); n != 4 {
		t.Fatalf("wrote %d records, want 4", n)
	}

	noWriter := writeFile(t, filepath.Join(dir, "q.yaml"), `stages:
  - {type: jsonl_reader, name: read, config: {paths: [in]}}
  - {type: dedup_exact}
`)
	if r := sluice("run", noWriter); r.code != exitUsage || !strings.Contains(r.stderr, "cache: DIR") {
		t.Fatalf("a step without a cache:\n%s", r)
	}
	if r := sluice("run", noWriter, "--cache", filepath.Join(dir, "c"), "--summary-json", sumPath); r.code != 0 || !strings.Contains(r.stderr, "records: 13 documents read, 9 kept, 4 removed as duplicates by dedup_exact") {
		t.Fatalf("with --cache:\n%s", r)
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v %v", pattern, m, err)
	}
	return m
}
