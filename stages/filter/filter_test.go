package filter

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// readBatch reads a JSONL file into one batch with raw lines.
func readBatch(t *testing.T, path string) *task.DocumentBatch {
	t.Helper()
	r, err := dataio.NewReader([]string{path}, dataio.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err != io.EOF {
		t.Fatalf("more than one batch: %v", err)
	}
	b.TaskID = "b0"
	return b
}

// expectations maps each record id of docs.jsonl to its "expect" field.
func expectations(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../testdata/filter/docs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			ID     any    `json:"id"`
			Expect string `json:"expect"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		id, _ := json.Marshal(rec.ID)
		out[string(id)] = rec.Expect
	}
	return out
}

func process(t *testing.T, s stage.Stage, in ...task.Task) (batches []*task.DocumentBatch, stats map[string]int64) {
	t.Helper()
	if err := s.Setup(context.Background(), &stage.Worker{}); err != nil {
		t.Fatal(err)
	}
	info := &stage.CallInfo{Attempt: 1}
	out, err := s.ProcessBatch(stage.WithCall(context.Background(), info), in)
	if err != nil {
		t.Fatal(err)
	}
	stats = info.Counts.Take()
	if stats == nil {
		stats = map[string]int64{}
	}
	for _, o := range out {
		switch o := o.(type) {
		case *task.DocumentBatch:
			batches = append(batches, o)
		default:
			t.Fatalf("unexpected output %T", o)
		}
	}
	return batches, stats
}

func readRejected(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, m)
		}
	}
	return out
}

func TestGopherPresetStage(t *testing.T) {
	b := readBatch(t, "../../testdata/filter/docs.jsonl")
	rawBefore := slices.Clone(b.Column(dataio.RawColumn).Bytes)
	want := expectations(t)
	rej := t.TempDir()
	q, err := New(Config{Preset: "gopher", RejectedDir: rej})
	if err != nil {
		t.Fatal(err)
	}
	out, stats := process(t, q, b)
	if len(out) != 1 {
		t.Fatalf("%d batches", len(out))
	}
	kept := out[0]
	// Kept rows: exactly the "keep" records, raw lines byte-identical.
	for i, id := range kept.Column("id").Strings {
		if want[id] != "keep" {
			t.Errorf("kept %s, want dropped by %s", id, want[id])
		}
		j := slices.Index(b.Column("id").Strings, id)
		if string(kept.Column(dataio.RawColumn).Bytes[i]) != string(rawBefore[j]) {
			t.Errorf("kept line %s changed", id)
		}
	}
	// Dropped rows: counted per rule and written with rejected_by.
	rejected := readRejected(t, rej)
	if len(rejected)+kept.NumRows() != b.NumRows() {
		t.Fatalf("%d rejected + %d kept != %d read", len(rejected), kept.NumRows(), b.NumRows())
	}
	var dropped int64
	for _, r := range rejected {
		id, _ := json.Marshal(r["id"])
		if r[RejectedByField] != want[string(id)] {
			t.Errorf("record %s rejected by %v, want %s", id, r[RejectedByField], want[string(id)])
		}
		if _, ok := r[RejectedScoreField].(float64); !ok {
			t.Errorf("record %s: no rejected_score", id)
		}
		if stats[CounterDropped+want[string(id)]] < 1 {
			t.Errorf("no counter for %s", want[string(id)])
		}
		dropped++
	}
	var counted int64
	for k, v := range stats {
		if strings.HasPrefix(k, CounterDropped) {
			counted += v
		}
	}
	if counted != dropped {
		t.Errorf("counters %v sum to %d, want %d", stats, counted, dropped)
	}
	// The input batch was not modified.
	if !slices.EqualFunc(rawBefore, b.Column(dataio.RawColumn).Bytes, func(a, b []byte) bool { return string(a) == string(b) }) || b.NumRows() != 9 {
		t.Error("input batch modified")
	}
}

func TestScoreFieldsInvertAndScoreOnly(t *testing.T) {
	b := readBatch(t, "../../testdata/filter/docs.jsonl")
	// word_count with min 50: invert keeps the short documents only.
	q, err := NewScoreFilter(ScoreFilterConfig{RuleConfig: RuleConfig{Filter: "word_count", ScoreField: "n_words", Invert: true}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Name() != "word_count" {
		t.Errorf("stage name %q, want the filter's", q.Name())
	}
	out, stats := process(t, q, b)
	kept := out[0]
	if kept.NumRows() != 1 || kept.Column("id").Strings[0] != `"short"` {
		t.Fatalf("inverted word_count kept %v", kept.Column("id").Strings)
	}
	if got := kept.Column("n_words").Floats[0]; got != 2 {
		t.Errorf("n_words = %v, want 2", got)
	}
	raw := string(kept.Column(dataio.RawColumn).Bytes[0])
	if !strings.HasSuffix(raw, `,"n_words":2}`) || !strings.HasPrefix(raw, `{"id": "short", "text": "Buy now!"`) {
		t.Errorf("raw line %s", raw)
	}
	if stats[CounterDropped+"word_count"] != 8 {
		t.Errorf("stats %v", stats)
	}
	// score_only keeps everything and scores every row.
	q, _ = New(Config{ScoreOnly: true, Filters: []RuleConfig{{Filter: "mean_word_length", ScoreField: "mwl"}, {Filter: "c4_lines"}}})
	out, stats = process(t, q, b)
	if out[0].NumRows() != 9 || len(stats) != 0 {
		t.Fatalf("score_only: %d rows, stats %v", out[0].NumRows(), stats)
	}
	for i, s := range out[0].Column("mwl").Floats {
		if s <= 0 {
			t.Errorf("row %d: mwl %v", i, s)
		}
	}
}

func TestRewriterUpdatesRawLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	good := "This line has five words."
	lines := []string{
		`{"id":1,"text":"` + good + `\nmenu\n` + good + `\n` + good + `","keep":{"x":[1,2]}}`,
		`{"text":"Lorem ipsum dolor sit amet.\n` + good + `","id":2}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := readBatch(t, path)
	q, err := New(Config{Preset: "c4", RejectedDir: filepath.Join(dir, "rej")})
	if err != nil {
		t.Fatal(err)
	}
	out, stats := process(t, q, b)
	want := `{"id":1,"text":"` + good + `\n` + good + `\n` + good + `","keep":{"x":[1,2]}}`
	if got := string(out[0].Column(dataio.RawColumn).Bytes[0]); got != want {
		t.Errorf("raw line\n got %s\nwant %s", got, want)
	}
	if out[0].Texts()[0] != good+"\n"+good+"\n"+good {
		t.Errorf("text %q", out[0].Texts()[0])
	}
	if stats[CounterRewritten] != 1 || stats[CounterDropped+"c4_lorem_ipsum"] != 1 {
		t.Errorf("stats %v", stats)
	}
	rej := readRejected(t, filepath.Join(dir, "rej"))
	if len(rej) != 1 || rej[0][RejectedByField] != "c4_lorem_ipsum" || rej[0]["text"] != "Lorem ipsum dolor sit amet.\n"+good {
		t.Errorf("rejected %v", rej)
	}
	if _, ok := rej[0][RejectedScoreField]; ok {
		t.Error("a rewriter's drop has no score, but rejected_score was written")
	}
}

func TestModifiers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	body := `{"id":"a","text":"cafÃ© at https://x.org/menu\r\nnow\u0007","n":1}` + "\n" + `{"id":"b","text":"clean","n":2}` + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	b := readBatch(t, path)
	fix, err := NewTextFix(DefaultTextFixConfig())
	if err != nil {
		t.Fatal(err)
	}
	out, stats := process(t, fix, b)
	if got := out[0].Texts()[0]; got != "café at https://x.org/menu\nnow" || stats[CounterModified] != 1 {
		t.Fatalf("text_fix: %q %v", got, stats)
	}
	urls := NewURLRemover(URLRemoverConfig{})
	out, stats = process(t, urls, out[0])
	raw := out[0].Column(dataio.RawColumn).Bytes
	if string(raw[0]) != `{"id":"a","text":"café at \nnow","n":1}` || string(raw[1]) != `{"id":"b","text":"clean","n":2}` || stats[CounterModified] != 1 {
		t.Errorf("url_remover raw lines %q %q, stats %v", raw[0], raw[1], stats)
	}
	if _, err := NewTextFix(TextFixConfig{Normalization: "NFD"}); err == nil {
		t.Error("NFD accepted")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{},
		{Preset: "dolma"},
		{Filters: []RuleConfig{{Filter: "word_count", Params: json.RawMessage(`{"min": 3}`)}}},
		{Filters: []RuleConfig{{}}},
		{Filters: []RuleConfig{{Filter: "c4_lines", Invert: true}}},
		{Filters: []RuleConfig{{Filter: "word_count", ScoreField: "s"}, {Filter: "numbers", ScoreField: "s"}}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	q, _ := New(Config{Filters: []RuleConfig{{Filter: "word_count"}}, TextField: "body"})
	b := task.NewDocumentBatch("ds", "text", []string{"x"})
	if _, err := q.ProcessBatch(context.Background(), []task.Task{b}); err == nil || !stage.IsPermanent(err) || !strings.Contains(err.Error(), `"body"`) {
		t.Errorf("missing text field: %v", err)
	}
	if _, err := q.ProcessBatch(context.Background(), []task.Task{task.NewEmpty()}); err == nil {
		t.Error("empty task accepted")
	}
}

func TestRejectedDirUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	q, _ := New(Config{Preset: "gopher", RejectedDir: filepath.Join(blocker, "rej")})
	if err := q.Setup(context.Background(), &stage.Worker{}); err == nil {
		t.Fatal("setup with an unusable rejected_dir succeeded")
	}
	q.doc = nil
	b := readBatch(t, "../../testdata/filter/docs.jsonl")
	if _, err := q.ProcessBatch(context.Background(), []task.Task{b}); err == nil || !strings.Contains(err.Error(), "rejected output") {
		t.Fatalf("writing rejected records under a file: %v", err)
	}
}

// TestBadRawLine checks that a raw line a stage cannot rewrite fails the
// batch permanently, naming the row, rather than writing a stale record.
func TestBadRawLine(t *testing.T) {
	b := task.NewDocumentBatch("ds", "text", []string{"see https://x.org now", "plain"})
	b.TaskID = "bad"
	b.SetColumn(&task.Column{Name: dataio.RawColumn, Type: task.Bytes, Bytes: [][]byte{[]byte(`{"text": truncated`), []byte(`{"text":"plain"}`)}})
	_, err := NewURLRemover(URLRemoverConfig{}).ProcessBatch(context.Background(), []task.Task{b})
	if err == nil || !stage.IsPermanent(err) || !strings.Contains(err.Error(), "row 0") {
		t.Fatalf("bad raw line: %v", err)
	}
	q, _ := New(Config{Filters: []RuleConfig{{Filter: "word_count", Params: json.RawMessage(`{"min_words": 1}`), ScoreField: "n"}}})
	if _, err := q.ProcessBatch(context.Background(), []task.Task{b}); err == nil || !stage.IsPermanent(err) || !strings.Contains(err.Error(), "row 0") {
		t.Fatalf("score field into a bad raw line: %v", err)
	}
}
