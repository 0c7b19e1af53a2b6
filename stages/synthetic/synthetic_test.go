package synthetic_test

import (
	"context"
	"testing"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/synthetic"
)

func TestPipelineBothModesAgree(t *testing.T) {
	for _, mode := range []executor.Mode{executor.Streaming, executor.StageByStage} {
		rt, err := local.New(local.Options{CPUs: 2, ScratchDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		src, err := synthetic.NewSource(synthetic.SourceConfig{TotalBytes: 1 << 20, ShardBytes: 64 << 10, DocBytes: 500})
		if err != nil {
			t.Fatal(err)
		}
		sink := synthetic.NewDiscard()
		stages := []stage.Stage{src, synthetic.NewGenerate(), stage.With(synthetic.NewNormalize(), stage.WithBatchSize(2)), sink}
		ex := executor.New(rt, executor.Config{Mode: mode})
		if _, err := ex.Execute(context.Background(), stages, nil); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		rt.Close()
		// 1 MiB in documents of ≥500 bytes (whole words) → a little over 1 MiB.
		if b := sink.C.Bytes.Load(); b < 1<<20 || b > 1<<20+16*600 {
			t.Fatalf("%s: %d bytes reached the sink", mode, b)
		}
		if rep := ex.Report(); rep.Stages[1].TasksIn != 16 || rep.Stages[3].ItemsIn != sink.C.Docs.Load() {
			t.Fatalf("%s: report %+v", mode, rep.Stages)
		}
	}
}
