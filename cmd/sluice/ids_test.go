package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// dupText is a text long enough to shingle; equal texts are duplicates.
func dupText(k int) string {
	return fmt.Sprintf("document %d talks at some length about rivers, hills and the weather of place %d", k, k)
}

// idLines writes JSONL records whose id fields are given raw (a JSON value,
// or "" for no id field); record i has text dupText(text[i]).
func idLines(t *testing.T, path string, ids []string, texts []int) string {
	t.Helper()
	var b strings.Builder
	for i, id := range ids {
		if id == "" {
			fmt.Fprintf(&b, "{\"text\":%q}\n", dupText(texts[i]))
		} else {
			fmt.Fprintf(&b, "{\"id\":%s,\"text\":%q}\n", id, dupText(texts[i]))
		}
	}
	return writeFile(t, path, b.String())
}

// pqDoc is a Parquet record with a nested column, as other tools write.
type pqDoc struct {
	ID   string   `parquet:"id"`
	Text string   `parquet:"text"`
	Tags []string `parquet:"tags,list"`
}

func writeParquet[T any](t *testing.T, path string, rows []T) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRemovedIDsWrongField: an --id-field the inputs lack is a usage error
// found before any work, for JSONL and for Parquet.
func TestRemovedIDsWrongField(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Dir(idLines(t, filepath.Join(dir, "j", "a.jsonl"), []string{`"a"`, `"b"`}, []int{1, 1}))
	pq := filepath.Dir(writeParquet(t, filepath.Join(dir, "p", "a.parquet"), []pqDoc{{"a", dupText(1), []string{"x"}}, {"b", dupText(1), nil}}))
	for _, in := range []string{jsonl, pq} {
		out := filepath.Join(dir, "out-"+filepath.Base(in))
		args := []string{"dedup", "fuzzy", "--input", in, "--output", out, "--id-field", "nope", "--removed-ids-out", filepath.Join(dir, "ids.txt")}
		r := sluice(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, `--id-field "nope"`) {
			t.Errorf("%s: want exit 2 naming --id-field \"nope\"\n%s", in, r)
		}
		noGoNames(t, args, r.stderr)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: work started: the output exists (%v)", in, err)
		}
	}
}

// TestRemovedIDsBadIDs: missing, empty and null ids fail the run naming
// file:line and the field; with --on-bad-record skip those records are
// quarantined and counted (and kept in the output, never listed as
// removed), and the list holds exactly the removed documents' ids.
func TestRemovedIDsBadIDs(t *testing.T) {
	dir := t.TempDir()
	// Records 2/3/4 lack a usable id; texts 1 and 2 each occur twice.
	in := filepath.Dir(idLines(t, filepath.Join(dir, "in", "a.jsonl"),
		[]string{`"a"`, "", `""`, "null", `"b"`, `"c"`, `7`}, []int{1, 3, 4, 5, 1, 2, 2}))
	ids := filepath.Join(dir, "ids.txt")
	r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "fail"), "--removed-ids-out", ids)
	if r.code != exitFailed || !strings.Contains(r.stderr, `a.jsonl:2: field "id": missing field`) {
		t.Fatalf("want exit 1 naming a.jsonl:2 and the id field\n%s", r)
	}
	out := filepath.Join(dir, "skip")
	r = sluice("dedup", "fuzzy", "--input", in, "--output", out, "--removed-ids-out", ids, "--on-bad-record", "skip")
	if r.code != 0 {
		t.Fatal(r)
	}
	sum, b := readSummary(t, out)
	if sum.BadRecords != 3 || sum.Duplicates != 2 || sum.RecordsWritten != 5 || countLines(t, sum.Quarantine) != 3 {
		t.Fatalf("want 3 quarantined records, 2 duplicates, 5 written: %s", b)
	}
	if got := readFile(t, ids); got != "b\n7\n" {
		t.Fatalf("removed ids %q, want \"b\\n7\\n\"", got)
	}
}

// TestRemovedIDsLineBreaks: an id holding a line break is never split
// across lines: the text list refuses it (naming the record and the way
// out), a .jsonl list holds it as one JSON string, a .parquet list as one
// value.
func TestRemovedIDsLineBreaks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Dir(idLines(t, filepath.Join(dir, "in", "a.jsonl"), []string{`"a"`, `"x\ny"`, `"b"`}, []int{1, 1, 2}))
	r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "o1"), "--removed-ids-out", filepath.Join(dir, "ids.txt"))
	if r.code != exitFailed || !strings.Contains(r.stderr, "a.jsonl:2") || !strings.Contains(r.stderr, "line break") || !strings.Contains(r.stderr, ".jsonl") {
		t.Fatalf("text list: want exit 1 naming a.jsonl:2, the line break and .jsonl\n%s", r)
	}
	jl := filepath.Join(dir, "ids.jsonl")
	if r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "o2"), "--removed-ids-out", jl); r.code != 0 {
		t.Fatal(r)
	}
	if got := readFile(t, jl); got != "\"x\\ny\"\n" {
		t.Fatalf(".jsonl list %q, want one JSON string", got)
	}
	pq := filepath.Join(dir, "ids.parquet")
	if r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "o3"), "--removed-ids-out", pq); r.code != 0 {
		t.Fatal(r)
	}
	rows, err := parquet.ReadFile[struct {
		ID string `parquet:"id"`
	}](pq)
	if err != nil || len(rows) != 1 || rows[0].ID != "x\ny" {
		t.Fatalf(".parquet list %+v (%v), want the one id x\\ny", rows, err)
	}
}

// TestRemovedIDsParquetNested: --removed-ids-out reads only the id column
// of Parquet inputs, so a nested column (list<string>) does not stop it;
// an empty id is a bad record naming the file and row.
func TestRemovedIDsParquetNested(t *testing.T) {
	dir := t.TempDir()
	docs := []pqDoc{{"a", dupText(1), []string{"x", "y"}}, {"b", dupText(2), nil}, {"c", dupText(1), []string{"z"}}, {"d", dupText(2), []string{}}}
	in := filepath.Dir(writeParquet(t, filepath.Join(dir, "in", "a.parquet"), docs))
	ids := filepath.Join(dir, "ids.txt")
	r := sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "out"), "--removed-ids-out", ids, "--no-remove")
	if r.code != 0 {
		t.Fatal(r)
	}
	if got := strings.Fields(readFile(t, ids)); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("removed ids %v, want [c d]", got)
	}
	docs[1].ID = ""
	in = filepath.Dir(writeParquet(t, filepath.Join(dir, "in2", "a.parquet"), docs))
	r = sluice("dedup", "fuzzy", "--input", in, "--output", filepath.Join(dir, "out2"), "--removed-ids-out", filepath.Join(dir, "ids2.txt"), "--no-remove")
	if r.code != exitFailed || !strings.Contains(r.stderr, "a.parquet") || !strings.Contains(r.stderr, `field "id": empty`) {
		t.Fatalf("empty Parquet id: want exit 1 naming the file, row and field\n%s", r)
	}
}
