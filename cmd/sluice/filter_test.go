package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// TestFilterGopher runs `sluice filter --preset gopher` on the shipped
// test data: every record is kept byte for byte or rejected with the rule
// its "expect" field names, and the summary adds up.
func TestFilterGopher(t *testing.T) {
	in := "../../testdata/filter/docs.jsonl"
	dir := t.TempDir()
	out, rej, sumPath := filepath.Join(dir, "out"), filepath.Join(dir, "rejected"), filepath.Join(dir, "summary.json")
	r := sluice("filter", "--preset", "gopher", "--input", in, "--output", out, "--rejected", rej, "--summary-json", sumPath)
	if r.code != 0 {
		t.Fatal(r)
	}
	inputs := map[string]string{} // raw line -> expect
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	wantDropped := map[string]int64{}
	for sc.Scan() {
		var rec struct{ Expect string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		inputs[sc.Text()] = rec.Expect
		if rec.Expect != "keep" {
			wantDropped[rec.Expect]++
		}
	}
	kept := readLines(t, out)
	for _, line := range kept {
		if inputs[line] != "keep" {
			t.Errorf("output line not a kept input line, byte for byte: %s", line)
		}
	}
	rejected := readLines(t, rej)
	if files, _ := filepath.Glob(filepath.Join(rej, "gopher_*.jsonl")); len(files) != 1 {
		t.Errorf("rejected files %v, want one named after the stage (gopher_<batch id>.jsonl)", files)
	}
	for _, line := range rejected {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["rejected_by"] != rec["expect"] {
			t.Errorf("rejected_by %v, want %v", rec["rejected_by"], rec["expect"])
		}
	}
	var sum filterSummary
	readJSON(t, sumPath, &sum)
	if sum.Read != int64(len(inputs)) || sum.Kept != int64(len(kept)) || sum.Dropped != int64(len(rejected)) || sum.Read != sum.Kept+sum.Dropped {
		t.Errorf("summary read %d kept %d dropped %d; files: %d inputs, %d kept, %d rejected", sum.Read, sum.Kept, sum.Dropped, len(inputs), len(kept), len(rejected))
	}
	for rule, n := range wantDropped {
		if sum.ByRule[rule] != n {
			t.Errorf("dropped by %s: %d, want %d", rule, sum.ByRule[rule], n)
		}
	}
	if len(sum.ByRule) != len(wantDropped) {
		t.Errorf("dropped by rule %v, want %v", sum.ByRule, wantDropped)
	}
	for _, want := range []string{"records read", "dropped by gopher_stop_words", "records kept"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stderr)
		}
	}
	// Running again into the same, now non-empty, output is refused.
	if r := sluice("filter", "--preset", "gopher", "--input", in, "--output", out); r.code != exitUsage || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("re-run into a non-empty output: %v", r)
	}
}

func TestFilterErrorsAndList(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in", "a.jsonl"), `{"text":"x"}`+"\n"+`{"txt":"y"}`+"\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"filter", "--input", in, "--output", filepath.Join(dir, "o")}, "--preset is required"},
		{[]string{"filter", "--preset", "dolma", "--input", in, "--output", filepath.Join(dir, "o")}, `unknown preset "dolma"`},
		{[]string{"filter", "--preset", "c4", "--output", filepath.Join(dir, "o")}, "--input and --output are required"},
		{[]string{"filter", "--preset", "c4", "--input", filepath.Dir(in), "--output", filepath.Join(dir, "in", "o")}, "inside the input"},
		{[]string{"filter", "--preset", "c4", "--input", in, "--output", filepath.Join(dir, "o"), "--on-bad-record", "skip"}, "needs --quarantine"},
		{[]string{"filter", "--preset", "c4", "--input", in, "--output", filepath.Join(dir, "o"), "--blocksize", "lots"}, "--blocksize"},
	} {
		if r := sluice(c.args...); r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 2 with %q, got %v", c.args, c.want, r)
		}
	}
	// A bad record fails the run (exit 1) naming the file and the field.
	r := sluice("filter", "--preset", "c4", "--input", in, "--output", filepath.Join(dir, "o1"))
	if r.code != exitFailed || !strings.Contains(r.stderr, "a.jsonl") || !strings.Contains(r.stderr, "text") {
		t.Errorf("bad record: %v", r)
	}
	// With skip, it is quarantined and counted.
	q := filepath.Join(dir, "q")
	r = sluice("filter", "--preset", "c4", "--input", in, "--output", filepath.Join(dir, "o2"), "--on-bad-record", "skip", "--quarantine", q)
	if r.code != 0 || !strings.Contains(r.stderr, "bad records (quarantined, not read)  1") {
		t.Errorf("skip: %v", r)
	}
	r = sluice("filter", "--list")
	for _, want := range []string{"preset gopher", "preset fineweb", "gopher_dup_10_gram", "filter repeating_top_ngrams", "NeMo RepeatingTopNGramsFilter"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("--list lacks %q: %v", want, r)
		}
	}
}

// TestFilterParquetInput filters Parquet input: kept records come out as
// Parquet with the input's columns, with the score-free preset's rewrite.
func TestFilterParquetInput(t *testing.T) {
	dir := t.TempDir()
	good := "This line has five words."
	b := task.NewDocumentBatch("ds", "text", []string{good + "\n" + good + "\nmenu\n" + good, "Lorem ipsum dolor sit amet."})
	b.SetColumn(&task.Column{Name: "n", Type: task.Int64, Ints: []int64{7, 8}})
	in := filepath.Join(dir, "in.parquet")
	w, err := dataio.CreateParquet(in, dataio.ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	r := sluice("filter", "--preset", "c4", "--input", in, "--output", out, "--id-field", "-")
	if r.code != 0 {
		t.Fatal(r)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	pr, err := dataio.NewReader(files, dataio.ReadOptions{TextField: "text"})
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var texts []string
	var ns []int64
	for {
		ob, err := pr.Next(context.Background())
		if err != nil {
			break
		}
		texts = append(texts, ob.Texts()...)
		ns = append(ns, ob.Column("n").Ints...)
	}
	want := good + "\n" + good + "\n" + good
	if len(texts) != 1 || texts[0] != want || len(ns) != 1 || ns[0] != 7 {
		t.Errorf("output %q %v, want [%q] [7]", texts, ns, want)
	}
	if !strings.Contains(r.stderr, "dropped by c4_lorem_ipsum  1") || !strings.Contains(r.stderr, "texts rewritten (kept)") {
		t.Errorf("summary:\n%s", r.stderr)
	}
}

// TestFilterSummaryAccounting checks the check that makes the command exit
// 1 when the records read are not all kept or dropped.
func TestFilterSummaryAccounting(t *testing.T) {
	rep := executor.Report{Stages: []executor.StageReport{
		{Name: "read", ItemsOut: 10},
		{Name: "gopher", ItemsIn: 10, ItemsOut: 6, Counters: map[string]int64{"dropped.gopher_word_count": 3, "dropped.gopher_stop_words": 1, "rewritten": 2}},
	}}
	s := newFilterSummary(&filterFlags{preset: "gopher"}, rep, 0, 0)
	if !s.accounted() || s.Dropped != 4 || s.Rewritten != 2 || s.ByRule["gopher_word_count"] != 3 {
		t.Errorf("summary %+v", s)
	}
	rep.Stages[1].Counters["dropped.gopher_stop_words"] = 0 // one record unaccounted for
	if s := newFilterSummary(&filterFlags{preset: "gopher"}, rep, 0, 0); s.accounted() {
		t.Errorf("a lost record passed the check: %+v", s)
	}
}

// TestFilterPipelineYAML runs examples/filter.yaml (text_fix, language_id,
// the Gopher preset) and checks that the report accounts for every record:
// read = written + the drops each stage counted, and each drop is in a
// rejected file naming its rule.
func TestFilterPipelineYAML(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../examples/filter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../../testdata/filter")
	yaml := strings.ReplaceAll(string(data), "../testdata/filter", abs)
	yaml = strings.ReplaceAll(yaml, "out/filter", filepath.Join(dir, "out"))
	path := writeFile(t, filepath.Join(dir, "filter.yaml"), yaml)
	sum := filepath.Join(dir, "summary.json")
	r := sluice("run", path, "--summary-json", sum)
	if r.code != 0 {
		t.Fatal(r)
	}
	var s runSummary
	readJSON(t, sum, &s)
	by := map[string]executor.StageReport{}
	for _, st := range s.Report.Stages {
		by[st.Name] = st
	}
	read, written := by["read"].ItemsOut, by["write"].ItemsIn
	var dropped int64
	for _, name := range []string{"fix", "language", "gopher"} {
		st := by[name]
		var d int64
		for k, v := range st.Counters {
			if strings.HasPrefix(k, "dropped.") {
				d += v
			}
		}
		if st.ItemsIn != st.ItemsOut+d {
			t.Errorf("stage %s: %d in, %d out, %d dropped", name, st.ItemsIn, st.ItemsOut, d)
		}
		dropped += d
	}
	if read != 25 || read != written+dropped || by["language"].Counters["dropped.language_not_kept"] < 15 {
		t.Errorf("read %d, written %d, dropped %d; language counters %v", read, written, dropped, by["language"].Counters)
	}
	rejected := append(readLines(t, filepath.Join(dir, "out", "rejected", "language")), readLines(t, filepath.Join(dir, "out", "rejected", "gopher"))...)
	if int64(len(rejected)) != dropped || int64(len(readLines(t, filepath.Join(dir, "out", "kept")))) != written {
		t.Errorf("%d rejected lines for %d drops", len(rejected), dropped)
	}
	for _, line := range rejected {
		if !strings.Contains(line, `"rejected_by":"`) {
			t.Errorf("rejected record without rejected_by: %s", line)
		}
	}
	if !strings.Contains(r.stderr, "gopher: dropped.gopher_stop_words = ") {
		t.Errorf("the report does not print the drops per rule:\n%s", r.stderr)
	}
}
