package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
