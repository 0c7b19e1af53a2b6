package parquet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/task"
)

var ctx = context.Background()

func registry(t *testing.T) *stage.Registry {
	t.Helper()
	reg := stage.NewRegistry()
	if err := jsonl.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// runStage sets up a fresh instance of s and runs one batch through it.
func runStage(t *testing.T, s stage.Stage, in ...task.Task) ([]task.Task, error) {
	t.Helper()
	inst := stage.NewInstance(s)
	if err := inst.Setup(ctx, &stage.Worker{WorkerSpec: stage.WorkerSpec{ID: "w"}}); err != nil {
		t.Fatal(err)
	}
	defer inst.Teardown(ctx)
	return inst.ProcessBatch(ctx, in)
}

type doc struct {
	Text  *string `parquet:"text,optional"`
	Score *int32  `parquet:"score,optional"`
	Tag   string  `parquet:"tag"`
}

// writeDocs writes n rows; row i's text is null when nullText(i).
func writeDocs(t *testing.T, path string, n int, nullText func(int) bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	rows := make([]doc, n)
	for i := range rows {
		text := fmt.Sprintf("doc %d of %s", i, filepath.Base(path))
		score := int32(i)
		rows[i] = doc{Text: &text, Score: &score, Tag: "t"}
		if nullText(i) {
			rows[i].Text = nil
		}
		if i%3 == 0 {
			rows[i].Score = nil
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pq.NewGenericWriter[doc](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func never(int) bool { return false }

// TestReaderWriter builds parquet_reader and parquet_writer from the
// registry and runs them by hand: batch ids, provenance metadata, nulls and
// the written files.
func TestReaderWriter(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeDocs(t, filepath.Join(in, "a.parquet"), 12, never)
	writeDocs(t, filepath.Join(in, "sub", "b.parquet"), 5, never)
	if err := os.WriteFile(filepath.Join(in, "notes.jsonl"), []byte(`{"text":"not picked up"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := registry(t)
	s, err := reg.Build(stage.Descriptor{Type: ReaderType, Name: "read", Config: []byte(fmt.Sprintf(`{"dir":%q,"batch_rows":5,"files_per_partition":2}`, in))})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := stage.Unwrap(s).(*Reader).Rename("read").Decompose()
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{jsonl.PartitionType, ReadFilesType} {
		if d, ok := stage.DescriptorOf(parts[i]); !ok || d.Type != typ {
			t.Fatalf("part %d descriptor %+v %v", i, d, ok)
		}
	}
	groups, err := runStage(t, parts[0], task.NewEmpty())
	if err != nil || len(groups) != 1 || groups[0].NumItems() != 2 {
		t.Fatalf("groups %v %v", groups, err)
	}
	batches, err := runStage(t, parts[1], groups[0])
	if err != nil {
		t.Fatal(err)
	}
	// a.parquet: rows 1-5, 6-10, 11-12; b.parquet: 1-5. Batches never mix files.
	want := []struct{ file, rows string }{{"a.parquet", "1-5"}, {"a.parquet", "6-10"}, {"a.parquet", "11-12"}, {"b.parquet", "1-5"}}
	if len(batches) != len(want) {
		t.Fatalf("%d batches, want %d", len(batches), len(want))
	}
	w, err := reg.Build(stage.Descriptor{Type: WriterType, Name: "write", Config: []byte(fmt.Sprintf(`{"dir":%q,"compression":"snappy"}`, filepath.Join(dir, "out")))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dataio.PrepareOutput(filepath.Join(dir, "out"), dataio.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, bt := range batches {
		b := bt.(*task.DocumentBatch)
		if b.ID() != fmt.Sprintf("%s_%d", groups[0].ID(), i) {
			t.Errorf("batch %d id %s", i, b.ID())
		}
		if filepath.Base(b.Meta()[MetaSourceFile]) != want[i].file || b.Meta()[MetaSourceRows] != want[i].rows {
			t.Errorf("batch %d: source %s rows %s, want %s %s", i, b.Meta()[MetaSourceFile], b.Meta()[MetaSourceRows], want[i].file, want[i].rows)
		}
		score := b.Column("score")
		first := b.Column(dataio.RowColumn).Ints[0]
		for r := range score.Len() {
			if score.IsNull(r) != ((first+int64(r))%3 == 0) {
				t.Errorf("batch %d row %d: score null %v", i, r, score.IsNull(r))
			}
		}
		out, err := runStage(t, w, b)
		if err != nil {
			t.Fatal(err)
		}
		fg := out[0].(*task.FileGroup)
		if fg.Paths[0] != filepath.Join(dir, "out", b.ID()+".parquet") || fg.Meta()["parquet.rows"] != fmt.Sprint(b.NumRows()) {
			t.Fatalf("writer returned %v %v", fg.Paths, fg.Meta())
		}
		if _, ok := fg.Meta()[dataio.MetaParquetKeyValue]; ok {
			t.Error("the file group carries the source file's key/value metadata")
		}
		r, err := dataio.NewParquetReader(fg.Paths, dataio.ReadOptions{IDField: "-"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Next(ctx)
		r.Close()
		if err != nil || got.NumRows() != b.NumRows() || got.Column("score").NullCount() != score.NullCount() || got.Column("score").SourceType != score.SourceType {
			t.Fatalf("read back %v: %v", got, err)
		}
		if got.Column(dataio.FileColumn).Strings[0] != fg.Paths[0] {
			t.Fatalf("provenance columns written: %v", got.ColumnNames())
		}
	}
}

// TestReaderBadText: null texts fail the file group by default, naming the
// file, row and field; with skip they are quarantined and counted.
func TestReaderBadText(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in", "a.parquet")
	writeDocs(t, path, 6, func(i int) bool { return i == 4 })
	g := task.NewFileGroup("", []string{path})
	r, err := NewReadFiles(ReadFilesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runStage(t, r, g); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "row 4") || !strings.Contains(err.Error(), "null text") {
		t.Fatalf("null text: %v", err)
	}
	q := filepath.Join(dir, "q")
	r, err = NewReadFiles(ReadFilesConfig{OnBadRecord: "skip", QuarantineDir: q})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runStage(t, r, g)
	if err != nil {
		t.Fatal(err)
	}
	b := out[0].(*task.DocumentBatch)
	if b.NumRows() != 5 || b.Meta()["parquet.bad_records"] != "1" || b.Meta()[MetaSourceRows] != "1-6" {
		t.Fatalf("rows %d meta %v", b.NumRows(), b.Meta())
	}
	data, err := os.ReadFile(filepath.Join(q, g.ID()+".jsonl"))
	if err != nil || !strings.Contains(string(data), "null text") {
		t.Fatalf("quarantine %q %v", data, err)
	}
	// A file that is not Parquet is refused by name.
	other := filepath.Join(dir, "x.jsonl")
	if _, err := runStage(t, r, task.NewFileGroup("", []string{other})); err == nil || !strings.Contains(err.Error(), "x.jsonl is not a Parquet file") {
		t.Fatalf("jsonl file: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	reg := registry(t)
	for _, c := range []struct {
		typ, config, want string
	}{
		{ReaderType, `{}`, "paths"},
		{ReaderType, `{"paths":["x"],"columns":["a"],"drop_columns":["b"]}`, "not both"},
		{ReaderType, `{"paths":["x"],"drop_columns":["text"]}`, `drop_columns: "text" is the text column`},
		{ReaderType, `{"paths":["x"],"text_field":"body","drop_columns":["body"]}`, `drop_columns: "body" is the text column`},
		{ReaderType, `{"paths":["x"],"on_bad_record":"ignore"}`, "want fail or skip"},
		{ReaderType, `{"paths":["x"],"quarantine_dir":"q"}`, "skip"},
		{ReaderType, `{"paths":["x"],"colums":["a"]}`, `unknown field "colums"`},
		{WriterType, `{}`, "dir"},
		{WriterType, `{"dir":"o","compression":"lzma"}`, `compression "lzma"`},
		{WriterType, `{"dir":"o","page_version":3}`, "page version 3"},
		{WriterType, `{"dir":"o","row_group_rows":-1}`, "negative"},
		{WriterType, `{"dir":"o","output":"both"}`, "files or batches"},
	} {
		_, err := reg.Build(stage.Descriptor{Type: c.typ, Name: "s", Config: []byte(c.config)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: got %v, want %q", c.typ, c.config, err, c.want)
		}
	}
}

// TestJSONLReaderRefusesParquet: jsonl_reader reads JSON Lines only; it
// does not pick Parquet files up from directories, and names a Parquet
// file given to it.
func TestJSONLReaderRefusesParquet(t *testing.T) {
	dir := t.TempDir()
	writeDocs(t, filepath.Join(dir, "a.parquet"), 2, never)
	pc, rc := jsonl.ReaderConfig{Paths: []string{dir}}.Split()
	p, err := jsonl.NewPartition(pc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runStage(t, p, task.NewEmpty()); err == nil || !strings.Contains(err.Error(), "no input files") {
		t.Fatalf("a directory of Parquet files: %v", err)
	}
	rf, err := jsonl.NewReadFiles(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runStage(t, rf, task.NewFileGroup("", []string{filepath.Join(dir, "a.parquet")})); err == nil || !strings.Contains(err.Error(), "parquet_reader") {
		t.Fatalf("a Parquet file: %v", err)
	}
}

// TestReaderWithoutRegistry: built directly, the composite's parts are
// built directly, named after it.
func TestReaderWithoutRegistry(t *testing.T) {
	r, err := NewReader(ReaderConfig{Paths: []string{"x.parquet"}, DropColumns: []string{"meta"}})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := r.Rename("in").Decompose()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Name() != "in_partition" || parts[1].Name() != "in" {
		t.Fatalf("parts %v", parts)
	}
	rf, ok := stage.Unwrap(parts[1]).(*ReadFiles)
	if !ok || rf.cfg.DropColumns[0] != "meta" {
		t.Fatalf("read part %#v", stage.Unwrap(parts[1]))
	}
	if _, err := r.ProcessBatch(ctx, nil); err == nil {
		t.Fatal("a composite must not run")
	}
}
