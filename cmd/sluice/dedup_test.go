package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countLines counts the non-empty lines of every file in paths.
func countLines(t *testing.T, paths ...string) int {
	t.Helper()
	n := 0
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) != "" {
				n++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fuzzySummary is the part of summary.json the tests check.
type fuzzySummary struct {
	Records        int64  `json:"records"`
	RecordsWritten int64  `json:"records_written"`
	Duplicates     int64  `json:"duplicates"`
	BadRecords     int64  `json:"bad_records"`
	Quarantine     string `json:"quarantine"`
	Dir            string `json:"deduplicated_dir"`
}

// readSummary reads OUT/summary.json, returning it parsed and raw.
func readSummary(t *testing.T, out string) (fuzzySummary, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum fuzzySummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	return sum, b
}

// TestDedupFuzzySample runs the README's main job, `sluice dedup fuzzy` on
// the shipped sample, through the CLI: exit 0, a summary that accounts for
// every record, the same file layout, a removed-ids list as long as the
// duplicate count, and a second run that resumes from the cache.
func TestDedupFuzzySample(t *testing.T) {
	in := "../../examples/fuzzy/data"
	inputs, err := filepath.Glob(filepath.Join(in, "*.jsonl"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("sample inputs: %v %v", inputs, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	removed := filepath.Join(t.TempDir(), "removed.txt")
	args := []string{"dedup", "fuzzy", "--input", in, "--output", out, "--removed-ids-out", removed, "--workers", "2"}
	r := sluice(args...)
	if r.code != 0 {
		t.Fatal(r)
	}
	sum, b := readSummary(t, out)
	inLines := countLines(t, inputs...)
	if sum.Records != int64(inLines) || sum.Duplicates == 0 || sum.Records != sum.RecordsWritten+sum.Duplicates || sum.BadRecords != 0 {
		t.Fatalf("summary does not account for the %d input lines: %s", inLines, b)
	}
	if got := countLines(t, removed); int64(got) != sum.Duplicates {
		t.Fatalf("removed-ids-out has %d ids, summary says %d duplicates", got, sum.Duplicates)
	}
	var outputs []string
	for _, p := range inputs {
		outputs = append(outputs, filepath.Join(sum.Dir, filepath.Base(p)))
	}
	if got := countLines(t, outputs...); int64(got) != sum.RecordsWritten {
		t.Fatalf("output files hold %d lines, summary says %d written", got, sum.RecordsWritten)
	}
	for _, want := range []string{"records read", "duplicates removed", "peak RSS"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("summary table lacks %q:\n%s", want, r.stderr)
		}
	}

	if _, err := os.Stat(filepath.Join(out, "_cache", "_spill")); !os.IsNotExist(err) {
		t.Errorf("the spill directory was left behind: %v", err)
	}

	// A tiny --memory-limit makes the LSH shuffle spill: same duplicates.
	out2 := filepath.Join(t.TempDir(), "out")
	removed2 := filepath.Join(t.TempDir(), "removed.txt")
	r = sluice("dedup", "fuzzy", "--input", in, "--output", out2, "--removed-ids-out", removed2, "--memory-limit", "4KiB", "--no-remove")
	if r.code != 0 {
		t.Fatal(r)
	}
	if a, b := readFile(t, removed), readFile(t, removed2); a != b {
		t.Fatalf("--memory-limit 4KiB removed other documents (%d vs %d bytes of ids)", len(b), len(a))
	}

	// The same command again is refused: the output holds a finished
	// run's result. With --overwrite it resumes every phase from the cache
	// and removes the same documents.
	r2 := sluice(args...)
	if r2.code != exitUsage || !strings.Contains(r2.stderr, "already") || !strings.Contains(r2.stderr, "--overwrite") {
		t.Fatalf("second run into a finished output was not refused:\n%s", r2)
	}
	r2 = sluice(append(args, "--overwrite")...)
	if r2.code != 0 || !strings.Contains(r2.stderr, "resuming") {
		t.Fatalf("second run did not resume:\n%s", r2)
	}
	if got := countLines(t, removed); int64(got) != sum.Duplicates {
		t.Fatalf("second run removed %d, first %d", got, sum.Duplicates)
	}
}

// TestDedupFuzzyErrors: configuration mistakes exit 2 naming the flag; bad
// input under the default --on-bad-record=fail exits 1 naming file:line and
// the field; with skip it is quarantined and counted.
func TestDedupFuzzyErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in", "a.jsonl"),
		`{"id":"1","text":"the quick brown fox jumps over the lazy dog again and again"}`+"\n"+
			`{"id":"2","txt":"no text field here"}`+"\n"+
			`{"id":"3","text":"the quick brown fox jumps over the lazy dog again and again"}`+"\n")
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"--hash-bits", "16"}, "--hash-bits 16"},
		{[]string{"--bands", "70000", "--rows", "1"}, "--bands 70000"},
		{[]string{"--verify-threshold", "1.5"}, "--verify-threshold 1.5"},
		{[]string{"--input-format", "csv"}, `--input-format "csv"`},
		{[]string{"--on-bad-record", "ignore"}, "ignore"},
		{[]string{"--memory-limit", "lots"}, "lots"},
	}
	for _, c := range usage {
		args := append([]string{"dedup", "fuzzy", "--input", filepath.Dir(in), "--output", filepath.Join(dir, "o")}, c.args...)
		r := sluice(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(args, " "), c.want, r)
		}
	}

	r := sluice("dedup", "fuzzy", "--input", filepath.Dir(in), "--output", filepath.Join(dir, "fail"))
	if r.code != 1 || !strings.Contains(r.stderr, "a.jsonl:2") || !strings.Contains(r.stderr, "text") {
		t.Fatalf("bad record under fail: want exit 1 naming a.jsonl:2 and the text field\n%s", r)
	}
	out := filepath.Join(dir, "skip")
	r = sluice("dedup", "fuzzy", "--input", filepath.Dir(in), "--output", out, "--on-bad-record", "skip")
	if r.code != 0 {
		t.Fatal(r)
	}
	sum, b := readSummary(t, out)
	if sum.Records != 3 || sum.BadRecords != 1 || sum.Duplicates != 1 || sum.Quarantine == "" {
		t.Fatalf("skip: want 3 records, 1 bad, 1 duplicate and a quarantine file: %s", b)
	}
	if got := countLines(t, sum.Quarantine); got != 1 {
		t.Fatalf("quarantine holds %d records, want 1", got)
	}

	// --no-remove with --removed-ids-out lists the removed ids (the later
	// copy, id 3) and writes no dataset; the bad record is still counted.
	out = filepath.Join(dir, "list")
	ids := filepath.Join(dir, "list-ids.txt")
	r = sluice("dedup", "fuzzy", "--input", filepath.Dir(in), "--output", out, "--on-bad-record", "skip", "--no-remove", "--removed-ids-out", ids)
	if r.code != 0 {
		t.Fatal(r)
	}
	if got := readFile(t, ids); got != "3\n" {
		t.Fatalf("--no-remove --removed-ids-out listed %q, want \"3\\n\"", got)
	}
	if _, err := os.Stat(filepath.Join(out, "deduplicated")); !os.IsNotExist(err) {
		t.Fatalf("--no-remove wrote a dataset: %v", err)
	}
}

// TestDedupFuzzyOutputInsideInput: `--input data --output data/out` is a
// common layout; a second run must not read the first run's output (the
// deduplicated copies, the removal lists) as input.
func TestDedupFuzzyOutputInsideInput(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	inputs, err := filepath.Glob("../../examples/fuzzy/data/*.jsonl")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("sample inputs: %v %v", inputs, err)
	}
	for _, p := range inputs {
		writeFile(t, filepath.Join(data, filepath.Base(p)), readFile(t, p))
	}
	want := int64(countLines(t, inputs...))
	for run := range 2 {
		r := sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(data, "out"), "--overwrite")
		if r.code != 0 {
			t.Fatalf("run %d: %s", run, r)
		}
		if sum, b := readSummary(t, filepath.Join(data, "out")); sum.Records != want {
			t.Fatalf("run %d read %d records, want the %d input lines: %s", run, sum.Records, want, b)
		}
	}
}
