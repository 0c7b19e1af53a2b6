package fuzzy_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/dedup/fuzzy"
)

// rawFile is a JSONL input file as written: its records' raw lines in row
// order (what the reader numbers), and the file's bytes before compression.
type rawFile struct {
	rel     string   // path relative to the input directory
	records []string // non-blank lines, without "\n"
	content []byte
}

func compress(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".gz"):
		w := gzip.NewWriter(&buf)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(name, ".zst"):
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		return b
	}
	return buf.Bytes()
}

func decompress(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// TestRemovalLosslessJSONL deduplicates JSONL inputs in three compressions,
// with blank and whitespace-only lines, CRLF and indented lines, a last line
// without a terminator and two malformed records under on_bad_record=skip,
// and checks that every input record is either in the output or in the
// removal list, never both and never neither; that the output of each file
// is exactly its kept records' original lines, in order, byte for byte; that
// the malformed lines are kept, counted and quarantined; and that the
// removed ids file lists the removed records' own ids.
func TestRemovalLosslessJSONL(t *testing.T) {
	docs := smallDocs(21, 120)
	in := filepath.Join(t.TempDir(), "in")
	names := []string{"a.jsonl", "b.jsonl.gz", "sub/c.jsonl.zst"}
	files := make([]rawFile, len(names))
	for i := range files {
		files[i].rel = names[i]
	}
	add := func(f *rawFile, line string) {
		f.records = append(f.records, line)
		f.content = append(append(f.content, line...), '\n')
	}
	for i, d := range docs {
		f := &files[i%3]
		switch i {
		case 4:
			f.content = append(f.content, "\n   \t\n"...) // blank lines between records
		case 10:
			add(f, `{"id":"bad-1","text":"unterminated`) // malformed JSON
		case 11:
			add(f, `{"id":"bad-2","text":17}`) // text is not a string
		case 20:
			add(f, "  "+docLine(d)+"\r") // indented, CRLF
			continue
		}
		add(f, docLine(d))
	}
	// The plain file's last record has no terminator.
	files[0].content = files[0].content[:len(files[0].content)-1]
	for _, f := range files {
		writeFile(t, filepath.Join(in, f.rel), compress(t, f.rel, f.content))
	}

	out := filepath.Join(t.TempDir(), "out")
	cfg := quickConfig(in, out)
	cfg.OnBadRecord = "skip"
	cfg.RemovedIDsOut = filepath.Join(out, "removed.txt")
	sum := mustRun(t, cfg)

	total := 0
	for _, f := range files {
		total += len(f.records)
	}
	if sum.BadRecords != 2 || sum.Documents != int64(total-2) {
		t.Fatalf("summary: %d documents %d bad, want %d and 2", sum.Documents, sum.BadRecords, total-2)
	}
	if sum.Duplicates == 0 {
		t.Fatal("nothing removed: the corpus does not exercise removal")
	}
	bases := readIDMap(t, out).fileBases()
	dups := readDuplicates(t, out)
	isDup := func(id int64) bool { _, ok := slices.BinarySearch(dups, id); return ok }
	var removedIDs []string
	seen := 0
	for _, f := range files {
		base, ok := bases[filepath.Join(in, f.rel)]
		if !ok {
			t.Fatalf("no id range for %s", f.rel)
		}
		var want []byte
		for r, line := range f.records {
			if isDup(base + int64(r)) {
				seen++
				if strings.Contains(line, "bad-") {
					t.Fatalf("malformed record %q was removed", line)
				}
				var rec struct{ ID string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				removedIDs = append(removedIDs, rec.ID)
				continue
			}
			want = append(append(want, line...), '\n')
		}
		dst := filepath.Join(out, "deduplicated", f.rel)
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatalf("output for %s: %v", f.rel, err)
		}
		if got := decompress(t, f.rel, b); !bytes.Equal(got, want) {
			t.Fatalf("%s: output is not the kept input lines byte for byte:\n got %d bytes\nwant %d bytes", f.rel, len(got), len(want))
		}
	}
	if seen != len(dups) {
		t.Fatalf("%d of the %d removal-list ids are input records", seen, len(dups))
	}
	if int64(len(dups)) != sum.Duplicates {
		t.Fatalf("duplicates/ lists %d ids, summary %d", len(dups), sum.Duplicates)
	}
	b, err := os.ReadFile(cfg.RemovedIDsOut)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(b))
	slices.Sort(got)
	slices.Sort(removedIDs)
	if !slices.Equal(got, removedIDs) {
		t.Fatalf("removed ids file: %d ids, want %d", len(got), len(removedIDs))
	}

	// Quarantine: both malformed lines, byte for byte, with file and line.
	q, err := os.ReadFile(filepath.Join(out, "quarantine.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type qline struct {
		File  string `json:"file"`
		Line  int64  `json:"line"`
		Field string `json:"field"`
		Raw   string `json:"raw"`
	}
	var qs []qline
	for _, l := range strings.Split(strings.TrimSpace(string(q)), "\n") {
		var ql qline
		if err := json.Unmarshal([]byte(l), &ql); err != nil {
			t.Fatalf("quarantine line %q: %v", l, err)
		}
		qs = append(qs, ql)
	}
	if len(qs) != 2 {
		t.Fatalf("quarantine has %d records, want 2", len(qs))
	}
	for _, ql := range qs {
		found := false
		for _, f := range files {
			if ql.File != filepath.Join(in, f.rel) {
				continue
			}
			lines := strings.Split(string(f.content), "\n")
			if ql.Line < 1 || int(ql.Line) > len(lines) || lines[ql.Line-1] != ql.Raw {
				t.Fatalf("quarantined %q is not line %d of %s", ql.Raw, ql.Line, f.rel)
			}
			found = true
		}
		if !found || !strings.Contains(ql.Raw, "bad-") {
			t.Fatalf("unexpected quarantine record %+v", ql)
		}
	}
}

// pqDoc is the Parquet input schema: the text plus columns the workflow
// never reads, including an optional and a list column.
type pqDoc struct {
	ID    string   `parquet:"id"`
	Text  string   `parquet:"text"`
	Score float64  `parquet:"score"`
	Year  int32    `parquet:"year"`
	Note  *string  `parquet:"note,optional"`
	Tags  []string `parquet:"tags,list"`
}

func writeParquetDocs(t *testing.T, path string, rows []pqDoc) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqDoc](f, parquet.MaxRowsPerRowGroup(25))
	w.SetKeyValueMetadata("origin", "sluice-test")
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readParquetDocs(t *testing.T, path string) ([]pqDoc, *parquet.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	r := parquet.NewGenericReader[pqDoc](f)
	defer r.Close()
	rows := make([]pqDoc, r.NumRows())
	if n, err := r.Read(rows); n != len(rows) || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("%s: read %d of %d rows: %v", path, n, len(rows), err)
	}
	return rows, pf
}

// TestRemovalLosslessParquet deduplicates Parquet inputs (several row
// groups, extra columns of types the workflow cannot even read, key/value
// metadata, and a file with a schema but no rows) and checks that every
// input row is in the output or in the removal list, exactly once, and that
// every output file has its input's schema and metadata.
func TestRemovalLosslessParquet(t *testing.T) {
	docs := smallDocs(22, 120)
	in := filepath.Join(t.TempDir(), "in")
	inputs := map[string][]pqDoc{"p0.parquet": nil, "p1.parquet": nil, "p2-empty.parquet": {}}
	for i, d := range docs {
		name := fmt.Sprintf("p%d.parquet", i%2)
		row := pqDoc{ID: d.ID, Text: d.Text, Score: float64(i) / 3, Year: int32(1900 + i), Tags: []string{d.Family, d.Edit}}
		if i%3 == 0 {
			note := "note " + d.ID
			row.Note = &note
		}
		inputs[name] = append(inputs[name], row)
	}
	for name, rows := range inputs {
		writeParquetDocs(t, filepath.Join(in, name), rows)
	}
	out := filepath.Join(t.TempDir(), "out")
	sum := mustRun(t, quickConfig(in, out))
	if sum.Documents != int64(len(docs)) || sum.Duplicates == 0 {
		t.Fatalf("summary: %d documents %d duplicates", sum.Documents, sum.Duplicates)
	}
	if sum.EmptyFiles != 1 {
		t.Errorf("empty files = %d, want 1", sum.EmptyFiles)
	}
	bases := readIDMap(t, out).fileBases()
	dups := readDuplicates(t, out)
	removed := 0
	for name, rows := range inputs {
		base := bases[filepath.Join(in, name)]
		var want []pqDoc
		for r, row := range rows {
			if _, dup := slices.BinarySearch(dups, base+int64(r)); dup {
				removed++
				continue
			}
			want = append(want, row)
		}
		got, pf := readParquetDocs(t, filepath.Join(out, "deduplicated", name))
		_, inPF := readParquetDocs(t, filepath.Join(in, name))
		if pf.Schema().String() != inPF.Schema().String() {
			t.Fatalf("%s: schema changed:\n%s\nwant\n%s", name, pf.Schema(), inPF.Schema())
		}
		if v, ok := pf.Lookup("origin"); !ok || v != "sluice-test" {
			t.Errorf("%s: key/value metadata lost", name)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
		}
		for i := range want {
			if !pqDocEqual(got[i], want[i]) {
				t.Fatalf("%s: row %d is %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	if removed != len(dups) || int64(removed) != sum.Duplicates {
		t.Fatalf("%d rows removed, removal list %d, summary %d", removed, len(dups), sum.Duplicates)
	}

	// Split into sections of single row groups, the MinHash phase runs more
	// tasks and finds the same duplicates.
	c := quickConfig(in, filepath.Join(t.TempDir(), "out-split"))
	c.SplitBytes = 1
	split := mustRun(t, c)
	if got := readDuplicates(t, c.Output); !slices.Equal(got, dups) || split.Documents != sum.Documents {
		t.Fatalf("split Parquet inputs: %d duplicates of %d documents, want %d of %d", len(got), split.Documents, len(dups), sum.Documents)
	}
	if n := split.Phases[1].Stages[0].TasksIn; n <= 3 {
		t.Fatalf("split run gave %d MinHash tasks, want more than the 3 files", n)
	}
}

func pqDocEqual(a, b pqDoc) bool {
	if (a.Note == nil) != (b.Note == nil) || a.Note != nil && *a.Note != *b.Note {
		return false
	}
	return a.ID == b.ID && a.Text == b.Text && a.Score == b.Score && a.Year == b.Year && slices.Equal(a.Tags, b.Tags)
}

// TestBadInputs checks the workflow's errors and non-errors on bad input:
// --on-bad-record=fail names the file, the physical line and the field; an
// empty file or one of blank lines is counted in summary.empty_files and is
// not an error; a truncated .gz file is an error naming the file.
func TestBadInputs(t *testing.T) {
	good := smallDocs(23, 20)
	var goodLines []byte
	for _, d := range good {
		goodLines = append(append(goodLines, docLine(d)...), '\n')
	}

	t.Run("fail-names-file-line-field", func(t *testing.T) {
		for _, tc := range []struct {
			line, field, reason string
		}{
			{`{"id":"x","text":17}`, `"text"`, "want string"},
			{`{"id":"x","body":"no text here"}`, `"text"`, "missing field"},
		} {
			in := filepath.Join(t.TempDir(), "in")
			writeFile(t, filepath.Join(in, "a.jsonl"), goodLines)
			bad := filepath.Join(in, "b.jsonl")
			// Line 4: two records and a blank line precede it.
			writeFile(t, bad, []byte(docLine(good[0])+"\n\n"+docLine(good[1])+"\n"+tc.line+"\n"+docLine(good[2])+"\n"))
			cfg := quickConfig(in, filepath.Join(t.TempDir(), "out"))
			cfg.OnBadRecord = "fail"
			_, err := runWorkflow(t, cfg, runOptions{})
			if err == nil {
				t.Fatalf("%s: no error", tc.line)
			}
			msg := err.Error()
			if !strings.Contains(msg, bad+":4:") || !strings.Contains(msg, tc.field) || !strings.Contains(msg, tc.reason) {
				t.Fatalf("error %q does not name %s:4, field %s and %q", msg, bad, tc.field, tc.reason)
			}
		}
	})

	t.Run("empty-files-counted", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		writeFile(t, filepath.Join(in, "a.jsonl"), goodLines)
		writeFile(t, filepath.Join(in, "b.jsonl"), nil)
		writeFile(t, filepath.Join(in, "c.jsonl.gz"), compress(t, "c.jsonl.gz", []byte("\n \n\t\n")))
		out := filepath.Join(t.TempDir(), "out")
		sum, err := runWorkflow(t, quickConfig(in, out), runOptions{})
		if err != nil {
			t.Fatalf("empty files made the run fail: %v", err)
		}
		if sum.EmptyFiles != 2 || sum.Documents != int64(len(good)) {
			t.Fatalf("summary: %d empty files, %d documents; want 2 and %d", sum.EmptyFiles, sum.Documents, len(good))
		}
		var written fuzzy.Summary
		b, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &written); err != nil || written.EmptyFiles != 2 {
			t.Fatalf("summary.json empty_files = %d (%v)", written.EmptyFiles, err)
		}
		for _, name := range []string{"b.jsonl", "c.jsonl.gz"} {
			b, err := os.ReadFile(filepath.Join(out, "deduplicated", name))
			if err != nil {
				t.Fatalf("empty input %s has no output: %v", name, err)
			}
			if len(decompress(t, name, b)) != 0 {
				t.Fatalf("output of empty input %s is not empty", name)
			}
		}
	})

	t.Run("zero-byte-parquet", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		var rows []pqDoc
		for _, d := range good {
			rows = append(rows, pqDoc{ID: d.ID, Text: d.Text})
		}
		writeParquetDocs(t, filepath.Join(in, "a.parquet"), rows)
		writeFile(t, filepath.Join(in, "b.parquet"), nil)
		sum, err := runWorkflow(t, quickConfig(in, filepath.Join(t.TempDir(), "out")), runOptions{})
		if err != nil {
			t.Fatalf("an empty Parquet file made the run fail: %v", err)
		}
		if sum.EmptyFiles != 1 || sum.Documents != int64(len(good)) {
			t.Fatalf("summary: %d empty files, %d documents; want 1 and %d", sum.EmptyFiles, sum.Documents, len(good))
		}
	})

	t.Run("truncated-gzip", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		writeFile(t, filepath.Join(in, "a.jsonl"), goodLines)
		gz := compress(t, "b.jsonl.gz", goodLines)
		bad := filepath.Join(in, "b.jsonl.gz")
		writeFile(t, bad, gz[:len(gz)*2/3])
		_, err := runWorkflow(t, quickConfig(in, filepath.Join(t.TempDir(), "out")), runOptions{})
		if err == nil {
			t.Fatal("truncated .gz input: no error")
		}
		if !strings.Contains(err.Error(), bad) {
			t.Fatalf("error %q does not name %s", err, bad)
		}
		if !strings.Contains(err.Error(), "unexpected EOF") {
			t.Errorf("error %q does not say the file is truncated", err)
		}
	})
}
