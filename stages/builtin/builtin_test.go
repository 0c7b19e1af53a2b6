package builtin

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

func TestRegistry(t *testing.T) {
	reg := Registry()
	var names []string
	for _, typ := range reg.Types() {
		names = append(names, typ.Name)
		if typ.Doc == "" {
			t.Errorf("type %s has no documentation", typ.Name)
		}
		for _, f := range typ.Fields {
			if f.Name == "" || f.Doc == "" || f.Type == "" {
				t.Errorf("type %s: undocumented field %+v", typ.Name, f)
			}
		}
		// Every type builds from an empty config or rejects it with an error.
		if _, err := reg.Build(stage.Descriptor{Type: typ.Name, Config: []byte(`{"no_such_field":1}`)}); err == nil {
			t.Errorf("type %s accepted an unknown field", typ.Name)
		}
	}
	for _, want := range []string{"chaos", "file_partitioning", "jsonl_read_files", "jsonl_reader", "jsonl_writer", "text_filter"} {
		if !slices.Contains(names, want) {
			t.Errorf("registry lacks %s (has %v)", want, names)
		}
	}
	// Each call returns a fresh registry.
	if err := Registry().Register(TextFilterType()); err == nil {
		t.Fatal("registering text_filter twice succeeded")
	}
	if err := stage.NewRegistry().Register(TextFilterType()); err != nil {
		t.Fatal(err)
	}
}

func TestTextFilter(t *testing.T) {
	f, err := NewTextFilter(TextFilterConfig{MinChars: 2, MaxChars: 4})
	if err != nil {
		t.Fatal(err)
	}
	b := task.NewDocumentBatch("ds", "text", []string{"a", "éé", "abcd", "abcde", ""})
	b.SetColumn(&task.Column{Name: "n", Type: task.Int64, Ints: []int64{0, 1, 2, 3, 4}})
	all := task.NewDocumentBatch("ds", "text", []string{"keep"})
	none := task.NewDocumentBatch("ds", "text", []string{"x"})
	out, err := f.ProcessBatch(context.Background(), []task.Task{b, all, none})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[1] != task.Task(all) {
		t.Fatalf("out = %v", out)
	}
	kept := out[0].(*task.DocumentBatch)
	if !slices.Equal(kept.Texts(), []string{"éé", "abcd"}) || !slices.Equal(kept.Column("n").Ints, []int64{1, 2}) {
		t.Fatalf("kept %v %v", kept.Texts(), kept.Column("n").Ints)
	}
	if _, err := f.ProcessBatch(context.Background(), []task.Task{task.NewEmpty()}); err == nil {
		t.Fatal("empty task accepted")
	}
	for _, c := range []TextFilterConfig{{MinChars: -1}, {MinChars: 5, MaxChars: 2}} {
		if _, err := NewTextFilter(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := Registry().Build(stage.Descriptor{Type: "text_filter", Config: []byte(`{"min_chars":3}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Registry().Build(stage.Descriptor{Type: "text_filter", Config: []byte(`{"min":3}`)}); err == nil || !strings.Contains(err.Error(), "min") {
		t.Fatalf("unknown field: %v", err)
	}
}
