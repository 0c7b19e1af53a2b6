package dataio

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluice-data/sluice/internal/arrowtest"
	"github.com/sluice-data/sluice/task"
)

// expectJSON is the JSON value (as encoding/json decodes it, numbers
// normalised by normJSON) that the JSONL writer documents for value i of
// an Arrow array, derived from Arrow's in-memory values.
func expectJSON(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return base64.StdEncoding.EncodeToString(a.Value(i))
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64, *array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		return normJSON(json.Number(arr.ValueStr(i)))
	case *array.Float32:
		if math.IsNaN(float64(a.Value(i))) {
			return "NaN"
		}
		return normJSON(json.Number(strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)))
	case *array.Float64:
		return normFloat(a.Value(i))
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		return a.Value(i).ToTime(arrow.Microsecond).UTC().Format(time.RFC3339Nano)
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02")
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Struct:
		m := map[string]any{}
		st := a.DataType().(*arrow.StructType)
		for k := range a.NumField() {
			m[st.Field(k).Name] = expectJSON(a.Field(k), i)
		}
		return m
	case *array.Map:
		start, end := a.ValueOffsets(i)
		m := map[string]any{}
		for k := int(start); k < int(end); k++ {
			m[a.Keys().(*array.String).Value(k)] = expectJSON(a.Items(), k)
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		l := []any{}
		for k := int(start); k < int(end); k++ {
			l = append(l, expectJSON(a.ListValues(), k))
		}
		return l
	}
	panic(fmt.Sprintf("no expectation for %T", arr))
}

func normFloat(f float64) any {
	if math.IsNaN(f) {
		return "NaN" // the "string" NaN policy
	}
	return normJSON(json.Number(strconv.FormatFloat(f, 'g', -1, 64)))
}

// normJSON turns json.Numbers into int64, uint64 or float64, recursively.
func normJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case int64:
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normJSON(e)
		}
	case []any:
		for k, e := range x {
			x[k] = normJSON(e)
		}
	}
	return v
}

// TestJSONLWriterParquetColumns writes batches read from an Arrow file
// (nulls in every column, nested columns, timestamps, decimals, a NaN) as
// JSON Lines and checks every value of every line against Arrow's values.
func TestJSONLWriterParquetColumns(t *testing.T) {
	dir := t.TempDir()
	n := 24
	src, _ := writeArrow(t, dir, "in.parquet", n, arrowtest.WriteOptions{Dictionary: true})
	r, err := NewParquetReader([]string{src}, ReadOptions{IDField: "-", BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, 10)
	dst := filepath.Join(dir, "out.jsonl")
	w, err := CreateJSONL(dst, JSONLWriterOptions{NaN: NaNString})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec := arrowtest.AllTypes(n)
	defer rec.Release()
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	row := 0
	for ; sc.Scan(); row++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var got map[string]any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d: %v: %s", row+1, err, sc.Text())
		}
		normJSON(got)
		for c := range int(rec.NumCols()) {
			name := rec.ColumnName(c)
			want := normJSON(expectJSON(rec.Column(c), row))
			if !reflect.DeepEqual(got[name], want) {
				t.Errorf("line %d column %s: got %#v, want %#v", row+1, name, got[name], want)
			}
		}
		if len(got) != int(rec.NumCols()) {
			t.Errorf("line %d has keys %v", row+1, got)
		}
	}
	if row != n {
		t.Fatalf("%d lines, want %d", row, n)
	}
}

// TestJSONLWriterNaN: NaN and ±Inf fail by default, naming the column, the
// row and the option that writes them; null and string write them.
func TestJSONLWriterNaN(t *testing.T) {
	b := task.NewDocumentBatch("", "text", []string{"a", "b", "c", "d"})
	b.SetColumn(&task.Column{Name: "x", Type: task.Float64, Floats: []float64{1.5, math.NaN(), math.Inf(1), math.Inf(-1)}})
	dir := t.TempDir()
	for _, c := range []struct {
		policy string
		want   string
	}{
		{"", ""},
		{"null", `{"text":"a","x":1.5}` + "\n" + `{"text":"b","x":null}` + "\n" + `{"text":"c","x":null}` + "\n" + `{"text":"d","x":null}` + "\n"},
		{"string", `{"text":"a","x":1.5}` + "\n" + `{"text":"b","x":"NaN"}` + "\n" + `{"text":"c","x":"Infinity"}` + "\n" + `{"text":"d","x":"-Infinity"}` + "\n"},
	} {
		p, err := ParseNaNPolicy(c.policy)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "nan-"+c.policy+".jsonl")
		w, err := CreateJSONL(path, JSONLWriterOptions{NaN: p})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(b)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), `column "x", row 1: NaN has no JSON representation`) || !strings.Contains(err.Error(), "nan option") {
				t.Fatalf("default policy: %v", err)
			}
			if cerr := w.Close(); cerr == nil {
				t.Fatal("Close after a failed Write must fail")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatal("a failed write left a file")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := string(readDecompressed(t, path)); got != c.want {
			t.Errorf("policy %s: got\n%s\nwant\n%s", c.policy, got, c.want)
		}
	}
	if _, err := ParseNaNPolicy("zero"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

// TestJSONLWriterNulls: nulls of every column type are written as null; a
// raw-JSON column's empty value (a missing key) is still left out.
func TestJSONLWriterNulls(t *testing.T) {
	b := task.NewDocumentBatch("", "text", []string{"a", "b"})
	for _, c := range []*task.Column{
		{Name: "s", Type: task.String, Strings: []string{"x", ""}},
		{Name: "raw", Type: task.String, Strings: []string{"", ""}},
		{Name: "bin", Type: task.Bytes, Bytes: [][]byte{{1}, nil}},
		{Name: "i", Type: task.Int64, Ints: []int64{1, 0}},
		{Name: "f", Type: task.Float64, Floats: []float64{0.5, 0}},
		{Name: "ok", Type: task.Bool, Bools: []bool{true, false}},
		{Name: "l", Type: task.Uint32List, U32s: [][]uint32{{1, 2}, nil}},
	} {
		c.SetNull(1)
		b.SetColumn(c)
	}
	path := filepath.Join(t.TempDir(), "n.jsonl")
	w, err := CreateJSONL(path, JSONLWriterOptions{RawJSONColumns: []string{"raw"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"text":"a","s":"x","bin":"AQ==","i":1,"f":0.5,"ok":true,"l":[1,2]}` + "\n" +
		`{"text":"b","s":null,"raw":null,"bin":null,"i":null,"f":null,"ok":null,"l":null}` + "\n"
	if got := string(readDecompressed(t, path)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestParquetWriterRawJSONIDs: the JSONL reader's id column holds raw JSON
// text; the Parquet writer writes what it means (a string unquoted, a
// number as its text, null or a missing id as a null).
func TestParquetWriterRawJSONIDs(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "in.jsonl", []byte(`{"id":"doc-1","text":"a"}
{"id":17,"text":"b"}
{"id":null,"text":"c"}
{"text":"d"}
{"id":"q\"uote","text":"e"}
`))
	r, err := NewJSONLReader([]string{src}, ReadOptions{OmitRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	dst := filepath.Join(dir, "out.parquet")
	w, err := CreateParquet(dst, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tbl, err := arrowtest.ReadParquet(dst)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, row := range tbl.Rows {
		ids = append(ids, row[tbl.Column("id")])
	}
	want := []string{`"doc-1"`, `"17"`, "null", "null", `"q\"uote"`}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids as Arrow reads them: %v, want %v", ids, want)
	}
	if b.Column("id").Strings[0] != `"doc-1"` {
		t.Fatal("the writer changed its input batch")
	}
}
