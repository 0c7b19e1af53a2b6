package task

import (
	"slices"
	"testing"
)

// TestSources: sources survive into a Failed; several files round-trip;
// a FileGroup without them stands for its whole files; a mismatch is an
// error.
func TestSources(t *testing.T) {
	b := NewDocumentBatch("ds", "text", []string{"a", "b", "c"})
	SetSources(b, []string{"x.jsonl", "y.jsonl"}, []int64{9, 1}, []int64{10, 1})
	f := NewFailed(b, "chaos", nil)
	got, err := Sources(f)
	want := []Source{{"x.jsonl", "9-10"}, {"y.jsonl", "1-1"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Sources = %v, %v; want %v", got, err, want)
	}
	if d := DescribeSources(got); d != "x.jsonl records 9-10; y.jsonl records 1-1" {
		t.Fatalf("DescribeSources = %q", d)
	}
	fg := NewFileGroup("ds", []string{"a.parquet", "b.parquet"})
	if got, _ := Sources(NewFailed(fg, "read", nil)); !slices.Equal(got, []Source{{"a.parquet", "all"}, {"b.parquet", "all"}}) {
		t.Fatalf("file group sources %v", got)
	}
	b.Meta()[MetaSourceRows] = "1-2"
	if _, err := Sources(b); err == nil {
		t.Fatal("two files with one range accepted")
	}
	if got, err := Sources(NewEmpty()); got != nil || err != nil {
		t.Fatalf("no sources: %v %v", got, err)
	}
}
