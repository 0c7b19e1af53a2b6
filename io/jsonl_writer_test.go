package dataio

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/task"
)

// nonBlankLines returns the non-blank lines of data, each with "\n".
func nonBlankLines(data string) []string {
	var out []string
	for _, l := range strings.SplitAfter(data, "\n") {
		if !isBlank([]byte(strings.TrimSuffix(l, "\n"))) {
			out = append(out, strings.TrimSuffix(l, "\n")+"\n")
		}
	}
	return out
}

func TestJSONLRawRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "in.jsonl.gz", []byte(sample))
	want := nonBlankLines(sample)
	for _, out := range []string{"out.jsonl", "out.jsonl.gz", "out.jsonl.zst"} {
		t.Run(out, func(t *testing.T) {
			r, err := NewJSONLReader([]string{src}, ReadOptions{BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), out)
			w, err := CreateJSONL(dst, JSONLWriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for {
				b, err := r.Next(context.Background())
				if err != nil {
					break
				}
				// Keep rows with an even record index.
				keep := make([]bool, b.NumRows())
				for i, row := range col(t, b, RowColumn).Ints {
					keep[i] = row%2 == 0
					if keep[i] {
						kept = append(kept, want[row])
					}
				}
				if err := w.Write(b.Filter(keep)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Fatalf("output visible before Close: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := string(readDecompressed(t, dst)); got != strings.Join(kept, "") {
				t.Fatalf("got\n%q\nwant\n%q", got, strings.Join(kept, ""))
			}
			if w.Rows() != 3 {
				t.Fatalf("rows %d", w.Rows())
			}
			if names := dirEntries(t, filepath.Dir(dst)); !slices.Equal(names, []string{out}) {
				t.Fatalf("directory holds %v", names)
			}
		})
	}
}

func TestJSONLWriteColumns(t *testing.T) {
	b := task.NewDocumentBatch("ds", "text", []string{"plain", "quote\" back\\ nl\n tab\t ctl\x01 é 😀", "bad\xffutf8"})
	b.SetColumn(&task.Column{Name: "id", Type: task.String, Strings: []string{`"a"`, `7`, ``}})
	b.SetColumn(&task.Column{Name: "n", Type: task.Int64, Ints: []int64{1, -2, math.MaxInt64}})
	b.SetColumn(&task.Column{Name: "f", Type: task.Float64, Floats: []float64{0.5, 1e22, -1e-7}})
	b.SetColumn(&task.Column{Name: "ok", Type: task.Bool, Bools: []bool{true, false, true}})
	b.SetColumn(&task.Column{Name: "bin", Type: task.Bytes, Bytes: [][]byte{{0, 1, 2}, nil, []byte("x")}})
	b.SetColumn(&task.Column{Name: "sig", Type: task.Uint32List, U32s: [][]uint32{{1, math.MaxUint32}, nil, {}}})
	b.SetColumn(&task.Column{Name: RowColumn, Type: task.Int64, Ints: []int64{0, 1, 2}})
	b.Meta()[MetaRawJSONColumns] = "id"

	dst := filepath.Join(t.TempDir(), "cols.jsonl.zst")
	w, err := CreateJSONL(dst, JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(readDecompressed(t, dst)), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	type rec struct {
		Text string          `json:"text"`
		ID   json.RawMessage `json:"id"`
		N    int64           `json:"n"`
		F    float64         `json:"f"`
		OK   bool            `json:"ok"`
		Bin  []byte          `json:"bin"`
		Sig  []uint32        `json:"sig"`
	}
	for i, l := range lines {
		var got rec
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields() // _sluice_row must not be written
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		wantText := strings.ToValidUTF8(b.Texts()[i], "\uFFFD")
		if got.Text != wantText || got.N != b.Columns[2].Ints[i] || got.F != b.Columns[3].Floats[i] ||
			got.OK != b.Columns[4].Bools[i] || !bytes.Equal(got.Bin, b.Columns[5].Bytes[i]) || !slices.Equal(got.Sig, b.Columns[6].U32s[i]) {
			t.Errorf("line %d decoded to %+v", i, got)
		}
		if wantID := b.Columns[1].Strings[i]; string(got.ID) != wantID {
			t.Errorf("line %d id %s, want %s", i, got.ID, wantID)
		}
	}
	if strings.Contains(lines[2], `"id"`) {
		t.Errorf("empty raw id written: %s", lines[2])
	}
	if !strings.HasPrefix(lines[0], `{"text":"plain","id":"a","n":1,"f":0.5,"ok":true,`) {
		t.Errorf("column order or formatting: %s", lines[0])
	}
}

func TestJSONLWriteErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	b := task.NewDocumentBatch("", "text", []string{"a"})
	b.SetColumn(&task.Column{Name: "f", Type: task.Float64, Floats: []float64{math.NaN()}})
	w, err := CreateJSONL(filepath.Join(dir, "nan.jsonl"), JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err == nil || !strings.Contains(err.Error(), `"f"`) {
		t.Fatalf("NaN write: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after failed Write succeeded")
	}
	// Raw lines requested but absent; inconsistent batch; aborted writer.
	w2, err := CreateJSONL(filepath.Join(dir, "raw.jsonl"), JSONLWriterOptions{Mode: RawLines})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Write(task.NewDocumentBatch("", "text", []string{"a"})); err == nil {
		t.Fatal("RawLines without raw column accepted")
	}
	w3, err := CreateJSONL(filepath.Join(dir, "abort.jsonl"), JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := task.NewDocumentBatch("", "text", []string{"a", "b"})
	bad.SetColumn(&task.Column{Name: "n", Type: task.Int64, Ints: []int64{1}})
	if err := w3.Write(bad); err == nil {
		t.Fatal("inconsistent batch accepted")
	}
	w4, err := CreateJSONL(filepath.Join(dir, "abort2.jsonl"), JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w4.Write(task.NewDocumentBatch("", "text", []string{"a"})); err != nil {
		t.Fatal(err)
	}
	w4.Abort()
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %v", names)
	}
}

func TestJSONLAppendColumnsAndModes(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "in.jsonl", []byte("{\"text\":\"a\",\"id\":1}\r\n{ }\n{\"text\":\"b\"}  \n"))
	r, err := NewJSONLReader([]string{src}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	b.SetColumn(&task.Column{Name: "score", Type: task.Float64, Floats: []float64{0.25, 1}})
	dst := filepath.Join(dir, "out.jsonl")
	w, err := CreateJSONL(dst, JSONLWriterOptions{AppendColumns: []string{"score"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "{\"text\":\"a\",\"id\":1,\"score\":0.25}\r\n{\"text\":\"b\",\"score\":1}  \n"
	if got := string(readDecompressed(t, dst)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// ColumnObjects ignores the raw column and writes the id verbatim.
	dst2 := filepath.Join(dir, "out2.jsonl")
	w, err = CreateJSONL(dst2, JSONLWriterOptions{Mode: ColumnObjects})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want = "{\"text\":\"a\",\"id\":1,\"score\":0.25}\n{\"text\":\"b\",\"score\":1}\n"
	if got := string(readDecompressed(t, dst2)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
