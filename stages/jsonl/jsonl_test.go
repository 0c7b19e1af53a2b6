package jsonl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

var ctx = context.Background()

func write(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func registry(t *testing.T) *stage.Registry {
	reg := stage.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// runStage sets up a fresh instance of s and runs one batch through it.
func runStage(t *testing.T, s stage.Stage, in ...task.Task) []task.Task {
	t.Helper()
	inst := stage.NewInstance(s)
	if err := inst.Setup(ctx, &stage.Worker{WorkerSpec: stage.WorkerSpec{ID: "w"}}); err != nil {
		t.Fatal(err)
	}
	defer inst.Teardown(ctx)
	out, err := inst.ProcessBatch(ctx, in)
	if err != nil {
		t.Fatalf("%s: %v", s.Name(), err)
	}
	return out
}

// prepareOutput readies a writer's directory for a run, as pipeline.Run does.
func prepareOutput(t *testing.T, s stage.Stage) {
	t.Helper()
	tg := stage.Unwrap(s).(dataio.OutputStage).OutputTarget()
	if _, err := dataio.PrepareOutput(tg.Dir, dataio.PrepareOptions{Mode: tg.Mode}); err != nil {
		t.Fatal(err)
	}
}

// expand decomposes a registry-built jsonl_reader the way a pipeline does.
func expand(t *testing.T, s stage.Stage) []stage.Stage {
	t.Helper()
	c := stage.Unwrap(s).(*Reader)
	parts, err := c.Rename(s.Name()).Decompose()
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func TestReaderCompositeFromRegistry(t *testing.T) {
	dir := t.TempDir()
	var all []string
	for f := range 3 {
		var b strings.Builder
		for i := range 25 {
			line := fmt.Sprintf(`{"id":"f%d-%d","text":"doc %d","extra":[%d]}`, f, i, i, f)
			b.WriteString(line + "\n")
			all = append(all, line)
		}
		write(t, filepath.Join(dir, "in", fmt.Sprintf("p%d.jsonl", f)), b.String())
	}
	write(t, filepath.Join(dir, "in", "notes.txt"), "not picked up\n")
	reg := registry(t)
	s, err := reg.Build(stage.Descriptor{Type: ReaderType, Name: "read", Config: []byte(fmt.Sprintf(`{"dir":%q,"batch_rows":10,"files_per_partition":2,"dataset":"ds"}`, filepath.Join(dir, "in")))})
	if err != nil {
		t.Fatal(err)
	}
	parts := expand(t, s)
	if len(parts) != 2 || parts[0].Name() != "read_partition" || parts[1].Name() != "read" {
		t.Fatalf("parts %v", parts)
	}
	for i, typ := range []string{PartitionType, ReadFilesType} {
		d, ok := stage.DescriptorOf(parts[i])
		if !ok || d.Type != typ {
			t.Fatalf("part %d descriptor = %+v %v", i, d, ok)
		}
		// The descriptor rebuilds the same part, as another process would.
		if _, err := reg.Build(d); err != nil {
			t.Fatalf("rebuild %s: %v", typ, err)
		}
	}
	if k := parts[0].Kind(); k != stage.FanOut || parts[1].Kind() != stage.FanOut {
		t.Fatalf("kinds %s %s", k, parts[1].Kind())
	}

	groups := runStage(t, parts[0], task.NewEmpty())
	if len(groups) != 2 || groups[0].NumItems() != 2 || groups[1].NumItems() != 1 {
		t.Fatalf("groups %v", groups)
	}
	g := groups[0].(*task.FileGroup)
	if g.ID() != g.ContentID() || g.Dataset() != "ds" {
		t.Fatalf("group id %s dataset %s", g.ID(), g.Dataset())
	}
	var got []string
	var ids []string
	for _, gt := range groups {
		for _, bt := range runStage(t, parts[1], gt) {
			b := bt.(*task.DocumentBatch)
			ids = append(ids, b.ID())
			if err := b.RequireColumns(parts[1].Outputs().Columns...); err != nil {
				t.Fatal(err)
			}
			for _, raw := range b.Column(dataio.RawColumn).Bytes {
				got = append(got, string(raw))
			}
		}
	}
	// 50 rows in group 0 (batches of 10), 25 in group 1.
	wantIDs := []string{groups[0].ID() + "_0", groups[0].ID() + "_4", groups[1].ID() + "_2"}
	for _, w := range wantIDs {
		if !slices.Contains(ids, w) {
			t.Errorf("batch id %s missing from %v", w, ids)
		}
	}
	if len(ids) != 8 {
		t.Errorf("%d batches, want 8", len(ids))
	}
	// Each batch records its files and record ranges; the third batch of
	// group 0 spans p0.jsonl's last five records and p1.jsonl's first five.
	b2 := runStage(t, parts[1], groups[0])[2]
	srcs, err := task.Sources(b2)
	want := []task.Source{{File: filepath.Join(dir, "in", "p0.jsonl"), Rows: "21-25"}, {File: filepath.Join(dir, "in", "p1.jsonl"), Rows: "1-5"}}
	if err != nil || !slices.Equal(srcs, want) {
		t.Errorf("batch 2 sources %v (%v), want %v", srcs, err, want)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("read %d raw lines, want the %d input lines in order", len(got), len(all))
	}
}

func TestReaderBadRecords(t *testing.T) {
	dir := t.TempDir()
	in := write(t, filepath.Join(dir, "in.jsonl"), "{\"text\":\"ok\"}\n{\"text\":5}\nnot json\n{\"text\":\"fine\"}\n")
	g := task.NewFileGroup("", []string{in})

	r, err := NewReadFiles(ReadFilesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	inst := stage.NewInstance(r)
	if _, err := inst.ProcessBatch(ctx, []task.Task{g}); err == nil || !strings.Contains(err.Error(), "in.jsonl:2") {
		t.Fatalf("fail policy: err = %v", err)
	}

	qdir := filepath.Join(dir, "quarantine")
	r, err = NewReadFiles(ReadFilesConfig{OnBadRecord: "skip", QuarantineDir: qdir})
	if err != nil {
		t.Fatal(err)
	}
	out := runStage(t, r, g)
	if len(out) != 1 || out[0].NumItems() != 2 || out[0].Meta()["jsonl.bad_records"] != "2" {
		t.Fatalf("skip: %v", out)
	}
	q, err := os.ReadFile(filepath.Join(qdir, g.ID()+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(q), "\n"); n != 2 || !strings.Contains(string(q), "not json") {
		t.Fatalf("quarantine file:\n%s", q)
	}
	// A group without bad records leaves no quarantine file.
	clean := task.NewFileGroup("", []string{write(t, filepath.Join(dir, "clean.jsonl"), "{\"text\":\"a\"}\n")})
	runStage(t, r, clean)
	if _, err := os.Stat(filepath.Join(qdir, clean.ID()+".jsonl")); !os.IsNotExist(err) {
		t.Fatalf("quarantine file for a clean group: %v", err)
	}
}

func TestWriter(t *testing.T) {
	dir := t.TempDir()
	lines := []string{`{"id": 1, "text":"a\u00e9"  }`, `{"text":"b","id":"x","keep":{"n":[1,2]}}`}
	in := write(t, filepath.Join(dir, "in.jsonl"), strings.Join(lines, "\n")+"\n")
	rd, err := dataio.NewReader([]string{in}, dataio.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rd.Next(ctx)
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	b.TaskID = "fg_1/../x_0"

	w, err := NewWriter(WriterConfig{Dir: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	prepareOutput(t, w)
	out := runStage(t, w, b)
	fg, ok := out[0].(*task.FileGroup)
	want := filepath.Join(dir, "out", "fg_1_.._x_0.jsonl")
	if !ok || len(out) != 1 || fg.Paths[0] != want || fg.Meta()["jsonl.rows"] != "2" {
		t.Fatalf("out = %#v, want a file group of %s", out[0], want)
	}
	got, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != strings.Join(lines, "\n")+"\n" {
		t.Fatalf("raw lines not kept byte for byte:\n%s", got)
	}

	// Columns mode serialises the columns; batches mode returns the batch.
	w, err = NewWriter(WriterConfig{Dir: filepath.Join(dir, "cols"), Records: "columns", Output: "batches", Extension: ".json.gz"})
	if err != nil {
		t.Fatal(err)
	}
	prepareOutput(t, w)
	out = runStage(t, w, b)
	if out[0] != task.Task(b) {
		t.Fatalf("batches output returned %v", out[0])
	}
	r2, err := dataio.NewReader([]string{w.PathFor(b.ID())}, dataio.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	b2, err := r2.Next(ctx)
	if err != nil || !slices.Equal(b2.Texts(), []string{"aé", "b"}) {
		t.Fatalf("re-read columns output: %v %v", b2, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b2.Column(dataio.RawColumn).Bytes[1], &obj); err != nil || obj["id"] != "x" || obj["keep"] != nil {
		t.Fatalf("serialised line %s: %v", b2.Column(dataio.RawColumn).Bytes[1], err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "cols"))
	if len(entries) != 2 || entries[0].Name() != dataio.RecordsDir { // the file and Sluice's records
		t.Fatalf("files in output dir: %v", entries)
	}
}

func TestConfigErrors(t *testing.T) {
	reg := registry(t)
	cases := []struct{ typ, cfg, want string }{
		{ReaderType, `{}`, "no input files"},
		{ReaderType, `{"paths":["a"],"files_per_partition":2,"block_size":"1MiB"}`, "not both"},
		{ReaderType, `{"paths":["a"],"block_size":"lots"}`, "lots"},
		{ReaderType, `{"paths":["a"],"on_bad_record":"ignore"}`, `on_bad_record "ignore"`},
		{ReaderType, `{"paths":["a"],"quarantine_dir":"q"}`, `needs on_bad_record "skip"`},
		{ReaderType, `{"paths":["a"],"batchrows":3}`, `unknown field "batchrows"`},
		{WriterType, `{}`, "no output directory"},
		{WriterType, `{"dir":"o","mode":"fancy"}`, `mode "fancy": want error, overwrite or append`},
		{WriterType, `{"dir":"o","mode":"raw"}`, `line format is now set by records: raw`},
		{WriterType, `{"dir":"o","records":"fancy"}`, `records "fancy"`},
		{WriterType, `{"dir":"o","output":"both"}`, `output "both"`},
		{WriterType, `{"dir":"o","extension":"/x"}`, "path separator"},
	}
	for _, c := range cases {
		_, err := reg.Build(stage.Descriptor{Type: c.typ, Config: []byte(c.cfg)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err = %v, want %q", c.typ, c.cfg, err, c.want)
		}
	}
	// A size may be a number or a string.
	if s, err := reg.Build(stage.Descriptor{Type: ReaderType, Config: []byte(`{"paths":["a"],"block_size":"2KiB"}`)}); err != nil || stage.Unwrap(s).(*Reader).Config().BlockSize != 2048 {
		t.Fatalf("block_size: %v", err)
	}
	// Partitioning finds nothing: a run-time error naming the paths.
	p, _ := NewPartition(PartitionConfig{Paths: []string{t.TempDir()}})
	if _, err := p.ProcessBatch(ctx, []task.Task{task.NewEmpty()}); err == nil || !strings.Contains(err.Error(), "no input files") {
		t.Fatalf("empty input: %v", err)
	}
}

// TestReaderDirectDecompose covers a reader built without a registry.
func TestReaderDirectDecompose(t *testing.T) {
	r, err := NewReader(ReaderConfig{Paths: []string{"x.jsonl"}, OmitRaw: true, IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := r.Decompose()
	if err != nil || len(parts) != 2 || parts[0].Name() != "jsonl_reader_partition" || parts[1].Name() != "jsonl_reader" {
		t.Fatalf("parts %v %v", parts, err)
	}
	if cols := parts[1].Outputs().Columns; !slices.Equal(cols, []string{"text", dataio.FileColumn, dataio.RowColumn}) {
		t.Fatalf("columns %v", cols)
	}
	if _, err := r.ProcessBatch(ctx, nil); err == nil {
		t.Fatal("a composite ran")
	}
}

// lines reads a file's lines.
func lines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestWriterRetryOverwrites(t *testing.T) {
	dir := t.TempDir()
	w, _ := NewWriter(WriterConfig{Dir: dir, Records: "columns"})
	prepareOutput(t, w)
	b := task.NewDocumentBatch("ds", "text", []string{"one"})
	b.TaskID = "t"
	runStage(t, w, b)
	b2 := task.NewDocumentBatch("ds", "text", []string{"two", "three"})
	b2.TaskID = "t"
	runStage(t, w, b2)
	if got := lines(t, filepath.Join(dir, "t.jsonl")); len(got) != 2 || !strings.Contains(got[0], "two") {
		t.Fatalf("after retry: %v", got)
	}
	if FileName("") != "_" || FileName(".hidden") != "_hidden" || FileName("a b/c") != "a_b_c" {
		t.Fatal("FileName")
	}
}

// TestPartitionPreflight: a missing path or a directory without data
// files is found by Preflight, before any work, and is a permanent error
// of the stage (never retried).
func TestPartitionPreflight(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "empty", "notes.txt"), "x\n")
	for _, path := range []string{filepath.Join(dir, "missing.jsonl"), filepath.Join(dir, "empty")} {
		p, err := NewPartition(PartitionConfig{Paths: []string{path}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Preflight(ctx); err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "dataio") {
			t.Errorf("Preflight(%s) = %v", path, err)
		}
		if _, err := p.ProcessBatch(ctx, []task.Task{task.NewEmpty()}); !stage.IsPermanent(err) {
			t.Errorf("ProcessBatch(%s) = %v, want a permanent error", path, err)
		}
	}
}
