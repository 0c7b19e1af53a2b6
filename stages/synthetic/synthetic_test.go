package synthetic_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/synthetic"
)

// TestPipelineBothModesAgree runs source → generate → normalize → discard in
// both modes, in-process and isolated (each actor built from its
// descriptor, everything through its wire form): the sink's counts reach
// the report through the calls' counters, since actors share nothing.
func TestPipelineBothModesAgree(t *testing.T) {
	reg := stage.NewRegistry()
	if err := synthetic.Register(reg); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []executor.Mode{executor.Streaming, executor.StageByStage} {
		for _, isolate := range []bool{false, true} {
			name := fmt.Sprintf("%s/isolate=%v", mode, isolate)
			opts := local.Options{CPUs: 2, ScratchDir: t.TempDir(), Isolate: isolate}
			if isolate {
				opts.Registry = reg
			}
			rt, err := local.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			var stages []stage.Stage
			for _, d := range []stage.Descriptor{
				{Type: "synthetic_source", Config: []byte(`{"total_bytes":1048576,"shard_bytes":65536,"doc_bytes":500}`)},
				{Type: "synthetic_generate"},
				{Type: "normalize", BatchSize: 2},
				{Type: "discard"},
			} {
				st, err := reg.Build(d)
				if err != nil {
					t.Fatal(err)
				}
				stages = append(stages, st)
			}
			ex := executor.New(rt, executor.Config{Mode: mode})
			if _, err := ex.Execute(context.Background(), stages, nil); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rt.Close()
			rep := ex.Report()
			sink := rep.Stages[3].Counters
			// 1 MiB in documents of ≥500 bytes (whole words) → a little over 1 MiB.
			if b := sink[synthetic.CounterBytes]; b < 1<<20 || b > 1<<20+16*600 {
				t.Fatalf("%s: %d bytes reached the sink (counters %v)", name, b, sink)
			}
			if rep.Stages[1].TasksIn != 16 || rep.Stages[3].ItemsIn != sink[synthetic.CounterDocs] {
				t.Fatalf("%s: report %+v", name, rep.Stages)
			}
		}
	}
}
