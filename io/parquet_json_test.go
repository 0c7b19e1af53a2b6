package dataio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type jsonInner struct {
	A *int32   `parquet:"a,optional"`
	B []string `parquet:"b,list"`
}

type jsonShapes struct {
	Text    string           `parquet:"text"`
	Rep     []int32          `parquet:"rep"`
	Structs []jsonInner      `parquet:"structs,list"`
	IntMap  map[int32]string `parquet:"im"`
	Opt     *jsonInner       `parquet:"opt,optional"`
	Bytes   [4]byte          `parquet:"fixed"`
}

// TestOpaqueJSONShapes renders shapes Arrow does not write: a bare repeated
// field (a legacy list), a list of structs holding lists, a map with
// integer keys, an optional struct, fixed-length binary.
func TestOpaqueJSONShapes(t *testing.T) {
	a := int32(7)
	rows := []jsonShapes{
		{Text: "x", Rep: []int32{1, 2}, Structs: []jsonInner{{A: &a, B: []string{"p", "q"}}, {B: nil}}, IntMap: map[int32]string{3: "c"}, Opt: &jsonInner{A: &a}, Bytes: [4]byte{1, 2, 3, 4}},
		{Text: "y"},
	}
	path := filepath.Join(t.TempDir(), "s.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[jsonShapes](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := NewParquetReader([]string{path}, ReadOptions{IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	out := filepath.Join(t.TempDir(), "s.jsonl")
	jw, err := CreateJSONL(out, JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := jw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"text":"x","rep":[1,2],"structs":[{"a":7,"b":["p","q"]},{"a":null,"b":[]}],"im":[{"key":3,"value":"c"}],"opt":{"a":7,"b":[]},"fixed":"AQIDBA=="}` + "\n" +
		`{"text":"y","rep":[],"structs":[],"im":[],"opt":null,"fixed":"AAAAAA=="}` + "\n"
	if got := string(readDecompressed(t, out)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A corrupt opaque value is an error naming the column and row.
	b.Column("structs").Bytes[1] = []byte{0, 0, 0, 99}
	jw, err = CreateJSONL(filepath.Join(t.TempDir(), "c.jsonl"), JSONLWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := jw.Write(b); err == nil || !strings.Contains(err.Error(), `column "structs" (list<struct<a: int32, b: list<string>>>), row 1`) {
		t.Fatalf("corrupt value: %v", err)
	}
	jw.Abort()
}
