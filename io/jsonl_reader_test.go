package dataio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sample has records with escapes, non-ASCII text, ids of several kinds, a
// missing id, extra fields, blank lines (including whitespace-only and a
// CRLF one), a CRLF record and a final record without a newline.
const sample = `{"id": "a-1", "text": "hello", "meta": {"k": [1, 2.5e3, null, true]}}
{"text":"tab\there \"quoted\" \u00e9\ud83d\ude00", "id": 2}

   
{"id":{"nested":1},"text":"ünïcödé 日本語"}
{"text":"no id","other":"x"}` + "\r\n" + "\r\n" + `{"text":"","id":null}
{"text":"last line without newline","id":-3.5e2}`

type wantRow struct {
	text, id string
	row      int64
	line     string
}

var sampleRows = []wantRow{
	{"hello", `"a-1"`, 0, `{"id": "a-1", "text": "hello", "meta": {"k": [1, 2.5e3, null, true]}}`},
	{"tab\there \"quoted\" é😀", `2`, 1, `{"text":"tab\there \"quoted\" \u00e9\ud83d\ude00", "id": 2}`},
	{"ünïcödé 日本語", `{"nested":1}`, 2, `{"id":{"nested":1},"text":"ünïcödé 日本語"}`},
	{"no id", ``, 3, `{"text":"no id","other":"x"}` + "\r"},
	{"", `null`, 4, `{"text":"","id":null}`},
	{"last line without newline", `-3.5e2`, 5, `{"text":"last line without newline","id":-3.5e2}`},
}

func TestJSONLReadCompressions(t *testing.T) {
	for _, name := range []string{"s.jsonl", "s.jsonl.gz", "s.jsonl.zst"} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), name, []byte(sample))
			r, err := NewJSONLReader([]string{path}, ReadOptions{Dataset: "ds", BatchRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b := mustReadAll(t, r, 2)
			if b.NumRows() != len(sampleRows) {
				t.Fatalf("got %d rows, want %d", b.NumRows(), len(sampleRows))
			}
			if got := b.ColumnNames(); !slices.Equal(got, []string{"text", "id", FileColumn, RowColumn, RawColumn}) {
				t.Fatalf("columns %v", got)
			}
			if b.TextColumn != "text" || b.DatasetName != "ds" || b.Metadata[MetaRawJSONColumns] != "id" {
				t.Fatalf("header: text column %q dataset %q meta %v", b.TextColumn, b.DatasetName, b.Metadata)
			}
			for i, w := range sampleRows {
				if got := col(t, b, "text").Strings[i]; got != w.text {
					t.Errorf("row %d text %q, want %q", i, got, w.text)
				}
				if got := col(t, b, "id").Strings[i]; got != w.id {
					t.Errorf("row %d id %q, want %q", i, got, w.id)
				}
				if got := col(t, b, RowColumn).Ints[i]; got != w.row {
					t.Errorf("row %d index %d, want %d", i, got, w.row)
				}
				if got := col(t, b, FileColumn).Strings[i]; got != path {
					t.Errorf("row %d file %q", i, got)
				}
				if got := string(col(t, b, RawColumn).Bytes[i]); got != w.line {
					t.Errorf("row %d raw %q, want %q", i, got, w.line)
				}
			}
			st := r.Stats()
			want := ReadStats{Files: 1, Rows: 6, BlankLines: 3, Bytes: int64(len(sample)), FileBytes: statSize(t, path)}
			if st != want {
				t.Fatalf("stats %+v, want %+v", st, want)
			}
		})
	}
}

func statSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestJSONLOptions(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "a.jsonl", []byte(`{"content":"x","doc":"d1","text":7}`+"\n"))
	r, err := NewJSONLReader([]string{path}, ReadOptions{TextField: "content", IDField: "doc", OmitRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	if got := b.ColumnNames(); !slices.Equal(got, []string{"content", "doc", FileColumn, RowColumn}) {
		t.Fatalf("columns %v", got)
	}
	if b.Texts()[0] != "x" || col(t, b, "doc").Strings[0] != `"d1"` {
		t.Fatalf("got text %q id %q", b.Texts()[0], col(t, b, "doc").Strings[0])
	}

	r, err = NewJSONLReader([]string{path}, ReadOptions{TextField: "content", IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	b = mustReadAll(t, r, DefaultBatchRows)
	if got := b.ColumnNames(); !slices.Equal(got, []string{"content", FileColumn, RowColumn, RawColumn}) {
		t.Fatalf("columns without id: %v", got)
	}

	for _, o := range []ReadOptions{{TextField: "x", IDField: "x"}, {TextField: RowColumn}, {OnBadRecord: 9}} {
		if _, err := NewJSONLReader(nil, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestJSONLKeyMatchingIsExactAndLastWins(t *testing.T) {
	path := writeFile(t, t.TempDir(), "k.jsonl", []byte(strings.Join([]string{
		`{"Text":"upper","text":"lower","TEXT":"caps"}`,
		`{"text":"first","text":"second"}`,
		`{"te\u0078t":"escaped key"}`,
		`{"id":1,"nested":{"text":"inner"},"text":"outer"}`,
	}, "\n")))
	r, err := NewJSONLReader([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	want := []string{"lower", "second", "escaped key", "outer"}
	if !slices.Equal(b.Texts(), want) {
		t.Fatalf("texts %q, want %q", b.Texts(), want)
	}
}

func TestJSONLMultipleFilesAndEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	emptyGz := filepath.Join(dir, "0.jsonl.gz")
	emptyZst := filepath.Join(dir, "1.jsonl.zst")
	for _, p := range []string{emptyGz, emptyZst} { // zero-byte compressed files
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{
		emptyGz,
		writeFile(t, dir, "2.jsonl", []byte(`{"text":"a"}`+"\n"+`{"text":"b"}`+"\n")),
		emptyZst,
		writeFile(t, dir, "3.jsonl", nil),
		writeFile(t, dir, "4.jsonl.gz", nil), // a valid gzip stream of nothing
		writeFile(t, dir, "5.jsonl.zst", []byte("\n  \n\t\n")),
		writeFile(t, dir, "6.jsonl.zst", []byte(`{"text":"c"}`)),
	}
	r, err := NewJSONLReader(paths, ReadOptions{BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var texts, files []string
	var rows []int64
	for {
		b, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, b.NumRows())
		texts = append(texts, b.Texts()...)
		files = append(files, col(t, b, FileColumn).Strings...)
		rows = append(rows, col(t, b, RowColumn).Ints...)
	}
	if _, err := r.Next(context.Background()); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
	if !slices.Equal(sizes, []int{2, 1}) || !slices.Equal(texts, []string{"a", "b", "c"}) {
		t.Fatalf("batch sizes %v texts %v", sizes, texts)
	}
	if !slices.Equal(files, []string{paths[1], paths[1], paths[6]}) || !slices.Equal(rows, []int64{0, 1, 0}) {
		t.Fatalf("files %v rows %v", files, rows)
	}
	st := r.Stats()
	if st.Files != 7 || st.EmptyFiles != 5 || st.Rows != 3 || st.BlankLines != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// badCases are single-record files and what the reader must say about them.
var badCases = []struct {
	name, line, field, reason string
}{
	{"malformed", `{"text": "a",}`, "", "malformed JSON"},
	{"unterminated", `{"text": "abc`, "", "malformed JSON"},
	{"trailing data", `{"text": "a"} {"text": "b"}`, "", "after the JSON object"},
	{"array", `["text", "a"]`, "", "not a JSON object"},
	{"bare string", `"text"`, "", "not a JSON object"},
	{"bad escape", `{"text": "a\qb"}`, "", "invalid escape"},
	{"raw control char", "{\"text\": \"a\x01b\"}", "", "control character"},
	{"bad number", `{"text": "a", "n": 01}`, "", "malformed JSON"},
	{"bad literal", `{"text": "a", "n": nul}`, "", "malformed JSON"},
	{"missing text", `{"id": 1, "body": "x"}`, "text", "missing field"},
	{"number text", `{"text": 42}`, "text", "is a JSON number, want string"},
	{"null text", `{"text": null}`, "text", "is a JSON null, want string"},
	{"object text", `{"text": {"a": "b"}}`, "text", "is a JSON object, want string"},
	{"invalid utf-8", "{\"text\": \"caf\xe9\"}", "text", "invalid UTF-8"},
	{"deep nesting", `{"text":"a","x":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `}`, "", "nesting deeper"},
}

func TestJSONLBadRecordFail(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			// The bad record sits on physical line 3 (after a good record
			// and a blank line) and is record index 1.
			content := `{"text":"ok"}` + "\n\n" + tc.line + "\n" + `{"text":"after"}` + "\n"
			path := writeFile(t, t.TempDir(), "bad.jsonl", []byte(content))
			r, err := NewJSONLReader([]string{path}, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = r.Next(context.Background())
			var bre *BadRecordError
			if !errors.As(err, &bre) {
				t.Fatalf("got %v, want *BadRecordError", err)
			}
			if bre.File != path || bre.Line != 3 || bre.Row != 1 || bre.Field != tc.field || !strings.Contains(bre.Reason, tc.reason) {
				t.Fatalf("got %+v, want line 3 row 1 field %q reason containing %q", bre, tc.field, tc.reason)
			}
			if string(bre.Raw) != tc.line {
				t.Fatalf("raw %q, want %q", bre.Raw, tc.line)
			}
			if !strings.HasPrefix(err.Error(), path+":3: ") {
				t.Fatalf("message %q does not start with file:line", err.Error())
			}
			if tc.field != "" && !strings.Contains(err.Error(), `"text"`) {
				t.Fatalf("message %q does not name the field", err.Error())
			}
			if _, again := r.Next(context.Background()); again != err {
				t.Fatalf("error not sticky: %v", again)
			}
		})
	}
}

func TestJSONLOverlongLine(t *testing.T) {
	long := `{"text":"` + strings.Repeat("x", 3<<20) + `"}`
	content := long + "\n" + `{"text":"short"}` + "\n"
	path := writeFile(t, t.TempDir(), "long.jsonl.zst", []byte(content))
	// A 3 MiB line is fine by default (it exceeds the 1 MiB read buffer).
	r, err := NewJSONLReader([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	if b.NumRows() != 2 || string(col(t, b, RawColumn).Bytes[0]) != long {
		t.Fatalf("long line not read intact")
	}
	if st := r.Stats(); st.Bytes != int64(len(content)) {
		t.Fatalf("bytes %d, want %d", st.Bytes, len(content))
	}
	// With a 2 MiB limit it is a bad record and is skipped.
	q := filepath.Join(t.TempDir(), "q.jsonl")
	qf, err := CreateQuarantineFile(q)
	if err != nil {
		t.Fatal(err)
	}
	r, err = NewJSONLReader([]string{path}, ReadOptions{MaxLineBytes: 2 << 20, OnBadRecord: Skip, Quarantine: qf})
	if err != nil {
		t.Fatal(err)
	}
	b = mustReadAll(t, r, DefaultBatchRows)
	if b.NumRows() != 1 || b.Texts()[0] != "short" || col(t, b, RowColumn).Ints[0] != 1 {
		t.Fatalf("got %v rows %v", b.Texts(), col(t, b, RowColumn).Ints)
	}
	if err := qf.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readQuarantine(t, q)
	if len(recs) != 1 || recs[0]["raw_truncated"] != true || len(recs[0]["raw"].(string)) != maxQuarantinedRaw {
		t.Fatalf("quarantine %v", recs)
	}
}

func readQuarantine(t testing.TB, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(readDecompressed(t, path)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("quarantine line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestJSONLBadRecordSkipQuarantine(t *testing.T) {
	dir := t.TempDir()
	var content strings.Builder
	var wantTexts []string
	var wantRows []int64
	for i, tc := range badCases {
		fmt.Fprintf(&content, "{\"text\":\"good %d\"}\n%s\n", i, tc.line)
		wantTexts = append(wantTexts, fmt.Sprintf("good %d", i))
		wantRows = append(wantRows, int64(2*i))
	}
	path := writeFile(t, dir, "mixed.jsonl.gz", []byte(content.String()))
	qpath := filepath.Join(dir, "quarantine.jsonl")
	q, err := CreateQuarantineFile(qpath)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewJSONLReader([]string{path}, ReadOptions{OnBadRecord: Skip, Quarantine: q, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, 3)
	if !slices.Equal(b.Texts(), wantTexts) || !slices.Equal(col(t, b, RowColumn).Ints, wantRows) {
		t.Fatalf("texts %q rows %v", b.Texts(), col(t, b, RowColumn).Ints)
	}
	if st := r.Stats(); st.BadRecords != int64(len(badCases)) || st.Rows != int64(len(badCases)) {
		t.Fatalf("stats %+v", st)
	}
	if _, err := os.Stat(qpath); !os.IsNotExist(err) {
		t.Fatalf("quarantine file visible before Close: %v", err)
	}
	if q.Count() != int64(len(badCases)) {
		t.Fatalf("quarantine count %d", q.Count())
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readQuarantine(t, qpath)
	if len(recs) != len(badCases) {
		t.Fatalf("%d quarantine records, want %d", len(recs), len(badCases))
	}
	for i, tc := range badCases {
		rec := recs[i]
		if rec["file"] != path || rec["line"] != float64(2*i+2) || rec["row"] != float64(2*i+1) ||
			(rec["field"] != nil) != (tc.field != "") || !strings.Contains(rec["reason"].(string), tc.reason) {
			t.Errorf("%s: record %v", tc.name, rec)
		}
		var raw string
		if s, ok := rec["raw"].(string); ok {
			raw = s
		} else {
			var b []byte
			if err := json.Unmarshal([]byte(`"`+rec["raw_base64"].(string)+`"`), &b); err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		if raw != tc.line {
			t.Errorf("%s: quarantined raw %q, want %q", tc.name, raw, tc.line)
		}
	}
	if err := q.Put(&BadRecordError{File: "x"}); err == nil {
		t.Fatal("Put after Close succeeded")
	}
}

func TestJSONLSkipWithoutQuarantineCounts(t *testing.T) {
	path := writeFile(t, t.TempDir(), "a.jsonl", []byte("{\"text\":1}\n{\"text\":\"ok\"}\nnot json\n"))
	r, err := NewJSONLReader([]string{path}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	if b.NumRows() != 1 || r.Stats().BadRecords != 2 {
		t.Fatalf("rows %d stats %+v", b.NumRows(), r.Stats())
	}
}

func TestJSONLTruncatedStream(t *testing.T) {
	var content strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&content, "{\"id\":%d,\"text\":\"document number %d with some words\"}\n", i, i)
	}
	for _, name := range []string{"t.jsonl.gz", "t.jsonl.zst"} {
		for _, policy := range []BadRecordPolicy{Fail, Skip} {
			t.Run(name+"/"+policy.String(), func(t *testing.T) {
				dir := t.TempDir()
				full := compressBytes(t, CompressionOf(name), []byte(content.String()))
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, full[:len(full)*2/3], 0o644); err != nil {
					t.Fatal(err)
				}
				r, err := NewJSONLReader([]string{path}, ReadOptions{OnBadRecord: policy})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				_, err = readAll(t, r, DefaultBatchRows)
				if err == nil {
					t.Fatal("truncated stream read without error")
				}
				var bre *BadRecordError
				if errors.As(err, &bre) || !strings.Contains(err.Error(), path) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("got %v, want a file error naming %s wrapping io.ErrUnexpectedEOF", err, path)
				}
				if _, err := CountRecords(path); err == nil || !strings.Contains(err.Error(), path) {
					t.Fatalf("CountRecords: %v", err)
				}
			})
		}
	}
}

func TestJSONLCorruptGzipHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl.gz")
	if err := os.WriteFile(path, []byte("this is not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewJSONLReader([]string{path}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}

func TestJSONLMissingFile(t *testing.T) {
	r, err := NewJSONLReader([]string{filepath.Join(t.TempDir(), "nope.jsonl")}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestJSONLContextCancel(t *testing.T) {
	path := writeFile(t, t.TempDir(), "a.jsonl", []byte(strings.Repeat(`{"text":"x"}`+"\n", 5000)))
	r, err := NewJSONLReader([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestJSONLByteOrderMark(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bom.jsonl", []byte("\xEF\xBB\xBF{\"text\":\"a\"}\n{\"text\":\"b\"}\n"))
	r, err := NewJSONLReader([]string{path}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	if !slices.Equal(b.Texts(), []string{"a", "b"}) || string(col(t, b, RawColumn).Bytes[0]) != "\xEF\xBB\xBF{\"text\":\"a\"}" {
		t.Fatalf("texts %q raw %q", b.Texts(), col(t, b, RawColumn).Bytes[0])
	}
}

func TestNewReaderDispatch(t *testing.T) {
	if _, err := NewReader([]string{"a.jsonl", "b.parquet"}, ReadOptions{}); err == nil {
		t.Fatal("mixed formats accepted")
	}
	r, err := NewReader([]string{"a.parquet"}, ReadOptions{})
	if _, ok := r.(*ParquetReader); err != nil || !ok {
		t.Fatalf("got %T, %v", r, err)
	}
	r, err = NewReader([]string{"a.jsonl.zst"}, ReadOptions{})
	if _, ok := r.(*JSONLReader); err != nil || !ok {
		t.Fatalf("got %T, %v", r, err)
	}
}

func TestQuarantineFileConcurrentPuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.jsonl.zst")
	q, err := CreateQuarantineFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if err := q.Put(&BadRecordError{File: fmt.Sprint(g), Line: int64(i + 1), Row: int64(i), Reason: "r", Raw: []byte("x")}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := readQuarantine(t, path); len(recs) != 400 || q.Count() != 400 {
		t.Fatalf("%d records, count %d", len(recs), q.Count())
	}
}

// TestJSONLRequireID: missing, null, empty and non-scalar ids are bad
// records naming file:line and the id field; with RequireSingleLineID an
// id holding a line break is too.
func TestJSONLRequireID(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "ids.jsonl", []byte(`{"id":"a","text":"ok"}
{"text":"no id"}
{"id":null,"text":"null id"}

{"id":"","text":"empty id"}
{"id":{"k":1},"text":"object id"}
{"id":"x\ny","text":"two-line id"}
{"id":17,"text":"number id"}
`))
	q := &memQuarantine{}
	r, err := NewJSONLReader([]string{path}, ReadOptions{RequireSingleLineID: true, OnBadRecord: Skip, Quarantine: q})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	r.Close()
	if ids := col(t, b, "id").Strings; !slices.Equal(ids, []string{`"a"`, "17"}) {
		t.Fatalf("good ids %v", ids)
	}
	want := map[int64]string{2: "missing field", 3: "null", 5: "empty string", 6: "is a JSON object", 7: "line break"}
	if len(q.recs) != len(want) {
		t.Fatalf("quarantined %d records, want %d: %+v", len(q.recs), len(want), q.recs)
	}
	for _, rec := range q.recs {
		if rec.Field != "id" || !strings.Contains(rec.Reason, want[rec.Line]) {
			t.Errorf("line %d: field %q reason %q, want id and %q", rec.Line, rec.Field, rec.Reason, want[rec.Line])
		}
	}
	// Without RequireSingleLineID the two-line id is fine; under Fail the
	// first bad id stops the read with file:line and the field.
	r, _ = NewJSONLReader([]string{path}, ReadOptions{RequireID: true})
	_, err = readAll(t, r, DefaultBatchRows)
	r.Close()
	if err == nil || !strings.Contains(err.Error(), "ids.jsonl:2: field \"id\": missing field") {
		t.Fatalf("fail policy: %v", err)
	}
	if _, err := NewJSONLReader(nil, ReadOptions{IDField: "-", RequireID: true}); err == nil {
		t.Fatal("RequireID without an id field accepted")
	}
}

// TestJSONLNextRecordMatchesNext: NextRecord yields exactly the records,
// texts, ids and rows Next puts in batches — blank lines, a byte order
// mark, escapes, two files (one empty) and skipped bad records included —
// with the same statistics and quarantine, and fails on the same bad
// record under the fail policy. It allocates nothing per record.
func TestJSONLNextRecordMatchesNext(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.jsonl", []byte(utf8BOM+`{"id":1,"text":"first"}`+"\n\n"+
		`{"id":"x","text":"esc\"aped\nline \u00e9"}`+"\n"+`{"id":2,"text":17}`+"\n"+`{"text":"no id"}`+"\n  \n"+`not json`+"\n"+`{"id":3,"text":""}`))
	b := writeFile(t, dir, "b.jsonl.gz", []byte(`{"id":4,"text":"gz"}`+"\n"))
	empty := writeFile(t, dir, "c.jsonl", nil)
	paths := []string{a, empty, b}
	type rec struct {
		file, text, id string
		row            int64
	}
	batchQ, recQ := filepath.Join(dir, "q1.jsonl"), filepath.Join(dir, "q2.jsonl")
	read := func(q string, byRecord bool) ([]rec, ReadStats) {
		qf, err := CreateQuarantineFile(q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewJSONLReader(paths, ReadOptions{OnBadRecord: Skip, Quarantine: qf, BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []rec
		for {
			if byRecord {
				x, err := r.NextRecord(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, rec{x.File, string(x.Text), string(x.ID), x.Row})
				continue
			}
			bt, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range bt.Texts() {
				out = append(out, rec{bt.Column(FileColumn).Strings[i], text, bt.Column("id").Strings[i], bt.Column(RowColumn).Ints[i]})
			}
		}
		if err := qf.Close(); err != nil {
			t.Fatal(err)
		}
		return out, r.Stats()
	}
	want, wantSt := read(batchQ, false)
	got, gotSt := read(recQ, true)
	if !slices.Equal(got, want) || gotSt != wantSt {
		t.Fatalf("NextRecord:\n%v %+v\nNext:\n%v %+v", got, gotSt, want, wantSt)
	}
	if len(want) != 5 || want[1].text != "esc\"aped\nline é" || want[1].id != `"x"` || want[4].text != "gz" || wantSt.BadRecords != 2 || wantSt.EmptyFiles != 1 {
		t.Fatalf("unexpected records %+v, stats %+v", want, wantSt)
	}
	if q1, q2 := readQuarantine(t, batchQ), readQuarantine(t, recQ); len(q2) != 2 || fmt.Sprint(q1) != fmt.Sprint(q2) {
		t.Fatalf("quarantines differ: %v and %v", q1, q2)
	}

	r, err := NewJSONLReader(paths, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var bad *BadRecordError
	for err == nil {
		_, err = r.NextRecord(context.Background())
	}
	if !errors.As(err, &bad) || bad.File != a || bad.Line != 4 || bad.Field != "text" {
		t.Fatalf("fail policy: %v", err)
	}
	if _, err2 := r.NextRecord(context.Background()); err2 != err {
		t.Fatalf("error not sticky: %v then %v", err, err2)
	}

	// No allocation per record once the reader runs.
	big := writeFile(t, dir, "big.jsonl", bytes.Repeat([]byte(`{"id":7,"text":"a\nb \u00e9 some text"}`+"\n"), 5000))
	r2, err := NewJSONLReader([]string{big}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.NextRecord(context.Background())
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r2.NextRecord(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("NextRecord allocates %.1f times per record", allocs)
	}
}
