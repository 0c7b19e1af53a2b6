package dataio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/task"
)

// allTypesBatch returns a batch with one column of every type, n rows.
func allTypesBatch(n int, offset int) *task.DocumentBatch {
	texts := make([]string, n)
	b := task.NewDocumentBatch("ds", "text", texts)
	ints := make([]int64, n)
	floats := make([]float64, n)
	bools := make([]bool, n)
	bins := make([][]byte, n)
	sigs := make([][]uint32, n)
	for i := range n {
		k := i + offset
		texts[i] = fmt.Sprintf("doc %d é", k)
		ints[i] = int64(k) * math.MaxInt32 * -7
		floats[i] = float64(k) / 3
		bools[i] = k%3 == 0
		if k%4 != 0 {
			bins[i] = []byte{byte(k), 0, 255}
		}
		if k%5 != 0 {
			sigs[i] = []uint32{uint32(k), math.MaxUint32, 0, uint32(k * 7)}[:1+k%4]
		}
	}
	b.Columns = append(b.Columns,
		&task.Column{Name: "n", Type: task.Int64, Ints: ints},
		&task.Column{Name: "f", Type: task.Float64, Floats: floats},
		&task.Column{Name: "ok", Type: task.Bool, Bools: bools},
		&task.Column{Name: "bin", Type: task.Bytes, Bytes: bins},
		&task.Column{Name: "sig", Type: task.Uint32List, U32s: sigs},
	)
	return b
}

func openParquetMeta(t testing.TB, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func sameColumn(a, b *task.Column) bool {
	if a.Name != b.Name || a.Type != b.Type || a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.IsNull(i) != b.IsNull(i) {
			return false
		}
		switch a.Type {
		case task.String:
			if a.Strings[i] != b.Strings[i] {
				return false
			}
		case task.Bytes, task.Opaque:
			if string(a.Bytes[i]) != string(b.Bytes[i]) {
				return false
			}
		case task.Int64:
			if a.Ints[i] != b.Ints[i] {
				return false
			}
		case task.Float64:
			if a.Floats[i] != b.Floats[i] {
				return false
			}
		case task.Bool:
			if a.Bools[i] != b.Bools[i] {
				return false
			}
		case task.Uint32List:
			if !slices.Equal(a.U32s[i], b.U32s[i]) {
				return false
			}
		}
	}
	return true
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.parquet")
	w, err := CreateParquet(path, ParquetWriterOptions{RowGroupRows: 40})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{30, 0, 45, 25} {
		b := allTypesBatch(n, i*100)
		// Internal columns are left out, and column order in later batches
		// may differ.
		b.SetColumn(&task.Column{Name: "_sluice_dedup_id", Type: task.Int64, Ints: make([]int64, n)})
		if i == 2 {
			slices.Reverse(b.Columns)
		}
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pf := openParquetMeta(t, path)
	if pf.NumRows() != 100 || len(pf.RowGroups()) != 3 {
		t.Fatalf("rows %d row groups %d, want 100 and 3", pf.NumRows(), len(pf.RowGroups()))
	}
	for _, rg := range pf.Metadata().RowGroups {
		if rg.NumRows > 40 {
			t.Fatalf("row group of %d rows", rg.NumRows)
		}
		for _, c := range rg.Columns {
			if c.MetaData.Codec.String() != "ZSTD" {
				t.Fatalf("column %v codec %v", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}
	r, err := NewParquetReader([]string{path}, ReadOptions{BatchRows: 17, Dataset: "ds2"})
	if err != nil {
		t.Fatal(err)
	}
	got := mustReadAll(t, r, 17)
	if names := got.ColumnNames(); !slices.Equal(names, []string{"text", "n", "f", "ok", "bin", "sig", FileColumn, RowColumn}) {
		t.Fatalf("columns %v", names)
	}
	want, err := task.ConcatBatches([]*task.DocumentBatch{allTypesBatch(30, 0), allTypesBatch(45, 200), allTypesBatch(25, 300)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want.Columns {
		if !sameColumn(c, col(t, got, c.Name)) {
			t.Errorf("column %q differs:\n got %+v\nwant %+v", c.Name, col(t, got, c.Name), c)
		}
	}
	for i, row := range col(t, got, RowColumn).Ints {
		if row != int64(i) || col(t, got, FileColumn).Strings[i] != path {
			t.Fatalf("provenance of row %d: %d %s", i, row, col(t, got, FileColumn).Strings[i])
		}
	}
	if st := r.Stats(); st.Rows != 100 || st.Files != 1 || st.FileBytes != statSize(t, path) {
		t.Fatalf("stats %+v", st)
	}
	if got.DatasetName != "ds2" || got.TextColumn != "text" {
		t.Fatalf("header %+v", got.Header)
	}

	// Projection and IncludeInternal.
	r, err = NewParquetReader([]string{path}, ReadOptions{Columns: []string{"sig"}})
	if err != nil {
		t.Fatal(err)
	}
	got = mustReadAll(t, r, DefaultBatchRows)
	if names := got.ColumnNames(); !slices.Equal(names, []string{"text", "sig", FileColumn, RowColumn}) {
		t.Fatalf("projected columns %v", names)
	}
	r, err = NewParquetReader([]string{path}, ReadOptions{Columns: []string{"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing projected column: %v", err)
	}
}

func TestParquetWriterErrors(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateParquet(filepath.Join(dir, "none.parquet"), ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("Close without batches: %v", err)
	}
	w, err = CreateParquet(filepath.Join(dir, "mismatch.parquet"), ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(allTypesBatch(3, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(task.NewDocumentBatch("", "text", []string{"x"})); err == nil {
		t.Fatal("batch with other columns accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after failed Write succeeded")
	}
	if _, err := CreateParquet(filepath.Join(dir, "x.parquet"), ParquetWriterOptions{Compression: "rar"}); err == nil {
		t.Fatal("unknown compression accepted")
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %v", names)
	}
	// Other codecs and IncludeInternal.
	p := filepath.Join(dir, "snappy.parquet")
	w, err = CreateParquet(p, ParquetWriterOptions{Compression: "snappy", IncludeInternal: true})
	if err != nil {
		t.Fatal(err)
	}
	b := allTypesBatch(2, 0)
	b.SetColumn(&task.Column{Name: "_sluice_dedup_id", Type: task.Int64, Ints: []int64{5, 6}})
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pf := openParquetMeta(t, p)
	if _, ok := pf.Schema().Lookup("_sluice_dedup_id"); !ok {
		t.Fatal("internal column not written with IncludeInternal")
	}
	if c := pf.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); c != "SNAPPY" {
		t.Fatalf("codec %s", c)
	}
}

type nested struct {
	A int64 `parquet:"a"`
}

// foreignRow is written by parquet-go's own struct writer, standing in for
// files produced by other tools.
type foreignRow struct {
	Text   *string   `parquet:"text,optional"`
	I8     int8      `parquet:"i8"`
	I32    int32     `parquet:"i32"`
	U32    uint32    `parquet:"u32"`
	F32    float32   `parquet:"f32"`
	F64    *float64  `parquet:"f64,optional"`
	B      bool      `parquet:"b"`
	Bin    []byte    `parquet:"bin"`
	Enum   string    `parquet:"e,enum"`
	Sig    []uint32  `parquet:"sig,list"`
	U64    uint64    `parquet:"u64"`
	TS     time.Time `parquet:"ts"`
	Nested nested    `parquet:"nested"`
	L64    []int64   `parquet:"l64,list"`
	Rep    []int32   `parquet:"rep"`
}

func writeForeign(t testing.TB, path string, rows []foreignRow, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[foreignRow](f, opts...)
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

func ptr[T any](v T) *T { return &v }

var supportedForeign = []string{"i8", "i32", "u32", "f32", "f64", "b", "bin", "e", "sig"}

func TestParquetForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "foreign.parquet")
	rows := []foreignRow{
		{Text: ptr("first"), I8: -5, I32: -70000, U32: math.MaxUint32, F32: 1.5, F64: ptr(2.25), B: true, Bin: []byte{1, 2}, Enum: "E1", Sig: []uint32{3, 4}},
		{Text: nil, I32: 1, Sig: []uint32{9}},                    // null text: a bad record
		{Text: ptr("caf\xe9"), I32: 2},                           // invalid UTF-8: a bad record
		{Text: ptr("fourth"), I32: 3, F64: nil, Sig: []uint32{}}, // a null double
	}
	writeForeign(t, path, rows)

	// Columns of types task has none for are read as Opaque columns that
	// remember their Parquet type.
	r, err := NewParquetReader([]string{path}, ReadOptions{OnBadRecord: Skip})
	if err != nil {
		t.Fatal(err)
	}
	all := mustReadAll(t, r, DefaultBatchRows)
	for name, what := range map[string]string{"u64": "uint64", "ts": "int64 (TIMESTAMP(isAdjustedToUTC=true,unit=NANOS))",
		"nested": "struct<a: int64>", "l64": "list<int64>", "rep": "repeated int32"} {
		c := col(t, all, name)
		node, ok, err := decodeNode(c.SourceType)
		if c.Type != task.Opaque || !ok || err != nil || c.Len() != 2 || c.HasNulls() {
			t.Fatalf("column %s: %+v (%v %v)", name, c, ok, err)
		}
		if got := describeNode(node); got != what {
			t.Errorf("column %s: type %q, want %q", name, got, what)
		}
	}
	// DropColumns leaves columns out; it must name existing ones.
	r, err = NewParquetReader([]string{path}, ReadOptions{OnBadRecord: Skip, DropColumns: []string{"nested", "ts"}})
	if err != nil {
		t.Fatal(err)
	}
	if b := mustReadAll(t, r, DefaultBatchRows); b.Column("nested") != nil || b.Column("ts") != nil || b.Column("u64") == nil {
		t.Fatalf("dropped: columns %v", b.ColumnNames())
	}
	r, err = NewParquetReader([]string{path}, ReadOptions{DropColumns: []string{"nestd"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), `no column "nestd" to drop`) {
		t.Fatalf("dropping a missing column: %v", err)
	}
	if _, err := NewParquetReader([]string{path}, ReadOptions{DropColumns: []string{"text"}}); err == nil {
		t.Fatal("dropping the text column must fail")
	}

	// Fail policy: the null text is reported with file, row and field.
	r, err = NewParquetReader([]string{path}, ReadOptions{Columns: supportedForeign})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next(context.Background())
	var bre *BadRecordError
	if !errors.As(err, &bre) || bre.File != path || bre.Row != 1 || bre.Field != "text" || bre.Reason != "null text" {
		t.Fatalf("got %v", err)
	}

	// Skip policy with quarantine.
	q := filepath.Join(dir, "q.jsonl")
	qf, err := CreateQuarantineFile(q)
	if err != nil {
		t.Fatal(err)
	}
	r, err = NewParquetReader([]string{path}, ReadOptions{Columns: supportedForeign, OnBadRecord: Skip, Quarantine: qf})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, DefaultBatchRows)
	if err := qf.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Texts(), []string{"first", "fourth"}) || !slices.Equal(col(t, b, RowColumn).Ints, []int64{0, 3}) {
		t.Fatalf("texts %q rows %v", b.Texts(), col(t, b, RowColumn).Ints)
	}
	if r.Stats().BadRecords != 2 {
		t.Fatalf("stats %+v", r.Stats())
	}
	recs := readQuarantine(t, q)
	if len(recs) != 2 || recs[0]["row"] != 1.0 || recs[1]["row"] != 2.0 || recs[1]["reason"] != "invalid UTF-8 in text" {
		t.Fatalf("quarantine %v", recs)
	}
	check := map[string]*task.Column{
		"i8":  {Type: task.Int64, Ints: []int64{-5, 0}},
		"i32": {Type: task.Int64, Ints: []int64{-70000, 3}},
		"u32": {Type: task.Int64, Ints: []int64{math.MaxUint32, 0}},
		"f32": {Type: task.Float64, Floats: []float64{1.5, 0}},
		"f64": {Type: task.Float64, Floats: []float64{2.25, 0}, Nulls: []uint64{1 << 1}}, // the second is null
		"b":   {Type: task.Bool, Bools: []bool{true, false}},
		"bin": {Type: task.Bytes, Bytes: [][]byte{{1, 2}, nil}},
		"e":   {Type: task.String, Strings: []string{"E1", ""}},
		"sig": {Type: task.Uint32List, U32s: [][]uint32{{3, 4}, nil}},
	}
	for name, want := range check {
		want.Name = name
		if got := col(t, b, name); !sameColumn(got, want) {
			t.Errorf("column %s: got %+v want %+v", name, got, want)
		}
	}
}

func TestParquetSchemaChecksAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.parquet")
	b := filepath.Join(dir, "b.parquet")
	empty := filepath.Join(dir, "empty.parquet")
	noRows := filepath.Join(dir, "norows.parquet")
	for _, p := range []struct {
		path string
		b    *task.DocumentBatch
	}{{a, allTypesBatch(5, 0)}, {b, task.NewDocumentBatch("", "text", []string{"x"})}, {noRows, allTypesBatch(0, 0)}} {
		w, err := CreateParquet(p.path, ParquetWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(p.b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewParquetReader([]string{empty, a, noRows, a}, ReadOptions{BatchRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	got := mustReadAll(t, r, 7)
	if got.NumRows() != 10 || r.Stats().EmptyFiles != 2 || r.Stats().Files != 4 {
		t.Fatalf("rows %d stats %+v", got.NumRows(), r.Stats())
	}
	r, err = NewParquetReader([]string{a, b}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, r, DefaultBatchRows); err == nil || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("schema mismatch: %v", err)
	}
	r, err = NewParquetReader([]string{a}, ReadOptions{TextField: "body"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), `"body"`) {
		t.Fatalf("missing text column: %v", err)
	}
	r, err = NewParquetReader([]string{a}, ReadOptions{TextField: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "want string") {
		t.Fatalf("non-string text column: %v", err)
	}
}

func TestParquetReservedColumnClash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "internal.parquet")
	w, err := CreateParquet(p, ParquetWriterOptions{IncludeInternal: true})
	if err != nil {
		t.Fatal(err)
	}
	b := task.NewDocumentBatch("", "text", []string{"x"})
	b.SetColumn(&task.Column{Name: RowColumn, Type: task.Int64, Ints: []int64{9}})
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewParquetReader([]string{p}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), RowColumn) {
		t.Fatalf("got %v", err)
	}
	r, err = NewParquetReader([]string{p}, ReadOptions{Columns: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustReadAll(t, r, DefaultBatchRows); got.NumRows() != 1 || col(t, got, RowColumn).Ints[0] != 0 {
		t.Fatalf("projected read: %v", got.ColumnNames())
	}
}

// TestParquetCorruptFiles damages a valid file in many ways; every read must
// end in an error naming the file or, for damage the format cannot detect,
// in a normal read, but never in a panic or a hang.
func TestParquetCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	w, err := CreateParquet(good, ParquetWriterOptions{RowGroupRows: 50, Compression: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(allTypesBatch(200, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	try := func(name string, content []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := NewParquetReader([]string{p}, ReadOptions{OnBadRecord: Skip})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = readAll(t, r, DefaultBatchRows)
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		return err
	}
	// Truncation anywhere loses the footer: always an error.
	for _, n := range []int{1, 4, 8, 100, len(data) / 2, len(data) - 9, len(data) - 1} {
		if err := try(fmt.Sprintf("trunc%d.parquet", n), data[:n]); err == nil {
			t.Errorf("file truncated to %d bytes read without error", n)
		}
		if _, err := CountRecords(filepath.Join(dir, fmt.Sprintf("trunc%d.parquet", n))); err == nil {
			t.Errorf("CountRecords of file truncated to %d bytes succeeded", n)
		}
	}
	// Overwrite bytes at many offsets with garbage.
	errs := 0
	for off := 4; off < len(data)-8; off += max(1, len(data)/150) {
		bad := slices.Clone(data)
		for i := off; i < min(off+16, len(bad)-8); i++ {
			bad[i] ^= 0xA5
		}
		if try(fmt.Sprintf("flip%d.parquet", off), bad) != nil {
			errs++
		}
	}
	if errs == 0 {
		t.Fatal("no corruption was detected at all")
	}
	t.Logf("%d corrupted variants rejected", errs)
}

func TestParquetContextCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.parquet")
	w, err := CreateParquet(p, ParquetWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(allTypesBatch(10, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewParquetReader([]string{p}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := r.Next(context.Background()); errors.Is(err, io.EOF) || err == nil {
		t.Fatalf("error not sticky: %v", err)
	}
}
