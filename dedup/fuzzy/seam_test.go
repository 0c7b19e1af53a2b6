package fuzzy_test

import (
	"bytes"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/testcorpus"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
)

// TestWorkflowIsolatedMatchesLocal (issue 8): fuzzy deduplication on a
// runtime that shares no memory with its actors (every actor built from its
// descriptor on one of two virtual nodes, every call, result, error and
// shuffle batch through its wire form, shuffle batches of at most 16 KiB
// delivered asynchronously into per-rank engines) writes byte-identical
// output to the default local runtime's, and its summary sums the CPU the
// calls reported per node.
func TestWorkflowIsolatedMatchesLocal(t *testing.T) {
	o := testcorpus.DefaultOptions()
	o.Bases = 150
	docs, _ := testcorpus.Generate(o)
	in := writeCorpus(t, docs, 3)
	reg := stage.NewRegistry()
	if err := fuzzy.Register(reg); err != nil {
		t.Fatal(err)
	}
	runOn := func(opts local.Options) (*fuzzy.Summary, string) {
		opts.ScratchDir = t.TempDir()
		rt, err := local.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		cfg := fuzzy.DefaultConfig()
		cfg.Inputs, cfg.Output = []string{in}, filepath.Join(t.TempDir(), "out")
		cfg.BandsPerIteration = 7 // three LSH passes
		cfg.MemoryLimit = 64 << 10
		w := &fuzzy.Workflow{Cfg: cfg, Runtime: rt, Registry: reg, Executor: executor.Config{}}
		sum, err := w.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sum, cfg.Output
	}
	base, baseOut := runOn(local.Options{CPUs: 2})
	iso, isoOut := runOn(local.Options{Isolate: true, Registry: reg, MaxMessageBytes: 16 << 10,
		Nodes: []stage.Node{{ID: "n1", CPUs: 1}, {ID: "n2", CPUs: 1}}})
	if base.Duplicates == 0 || iso.Duplicates != base.Duplicates || iso.Documents != base.Documents || iso.CandidateEdges != base.CandidateEdges {
		t.Fatalf("isolated: %d of %d documents removed (%d edges), local: %d of %d (%d edges)",
			iso.Duplicates, iso.Documents, iso.CandidateEdges, base.Duplicates, base.Documents, base.CandidateEdges)
	}
	for _, sub := range []string{"deduplicated", "duplicates"} {
		a, b := readTree(t, filepath.Join(baseOut, sub)), readTree(t, filepath.Join(isoOut, sub))
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%s: %d files locally, %d isolated", sub, len(a), len(b))
		}
		for name, data := range a {
			if !bytes.Equal(data, b[name]) {
				t.Fatalf("%s/%s differs between the runtimes", sub, name)
			}
		}
	}
	if len(iso.Nodes) != 2 {
		t.Fatalf("nodes %+v, want both virtual nodes", iso.Nodes)
	}
	var nodeCPU float64
	for _, n := range iso.Nodes {
		if n.Calls == 0 || n.CPUSec <= 0 || n.PeakRSSBytes <= 0 {
			t.Fatalf("node %+v ran nothing or reported nothing", n)
		}
		nodeCPU += n.CPUSec
	}
	var phases, stages float64
	for _, p := range iso.Phases {
		phases += p.CPUSec
		if p.Stages != nil {
			var sum float64
			for _, s := range p.Stages {
				sum += s.CPU.Seconds()
			}
			if math.Abs(sum-p.CPUSec) > 1e-9 {
				t.Fatalf("phase %s: %g CPU s, its stages %g", p.Name, p.CPUSec, sum)
			}
			stages += sum
		}
	}
	if math.Abs(phases-iso.CPUSec) > 1e-9 || math.Abs(stages-nodeCPU) > 1e-6 || iso.HeadCPUSec <= 0 {
		t.Fatalf("summary CPU %g, phases %g, stages %g, nodes %g, head %g", iso.CPUSec, phases, stages, nodeCPU, iso.HeadCPUSec)
	}
}

// readTree reads every file under dir by its relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
