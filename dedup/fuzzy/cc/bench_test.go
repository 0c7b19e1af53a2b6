package cc

import (
	"context"
	"math/rand/v2"
	"testing"
)

// benchGraph returns about m edges shaped like fuzzy-dedup output: clusters
// of near-duplicate documents (sizes 2..~30, heavy-tailed) with random
// intra-cluster pairs, over sparse document ids, plus a long chain of
// clusters glued into one big component.
func benchGraph(m int) []Edge {
	rng := rand.New(rand.NewPCG(1, 1))
	edges := make([]Edge, 0, m)
	next := int64(1 << 32)
	for len(edges) < m {
		size := 2 + int(rng.ExpFloat64()*4)
		base := next
		next += int64(size) + int64(rng.IntN(20))
		for i := 1; i < size && len(edges) < m; i++ {
			edges = append(edges, Edge{base + int64(rng.IntN(i)), base + int64(i)})
		}
		if rng.IntN(10) == 0 && len(edges) < m { // glue to the previous cluster
			edges = append(edges, Edge{base, base - 1 - int64(rng.IntN(20))})
		}
	}
	rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	return edges
}

func BenchmarkComponents(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ranks int
		edges []Edge
	}{
		{"clusters-1M/ranks=2", 2, benchGraph(1_000_000)},
		{"random-1M/ranks=2", 2, randomGraph(rand.New(rand.NewPCG(2, 2)), seqIDs(1_000_000), 1_000_000)},
		{"chain-1M/ranks=2", 2, chainShuffled(1_000_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			parts := shuffleSplit(rand.New(rand.NewPCG(3, 3)), bc.edges, bc.ranks)
			var st Stats
			cpu0 := cpuTime()
			for b.Loop() {
				labels, stats, errs := runCC(b, context.Background(), parts)
				for r, err := range errs {
					if err != nil {
						b.Fatalf("rank %d: %v", r, err)
					}
				}
				if len(labels[0]) == 0 {
					b.Fatal("no labels")
				}
				st = stats[0]
			}
			cpu := (cpuTime() - cpu0).Seconds()
			b.ReportMetric(float64(len(bc.edges))*float64(b.N)/b.Elapsed().Seconds(), "edges/s")
			if cpu > 0 {
				// Throughput per CPU-second: what the ranks would reach with
				// one idle core each, whatever else runs on the machine.
				b.ReportMetric(float64(len(bc.edges))*float64(b.N)/cpu, "edges/cpu-s")
			}
			b.ReportMetric(float64(st.Iterations), "hooks")
			b.ReportMetric(float64(st.Jumps), "jumps")
			b.ReportMetric(float64(st.BytesSent)/float64(len(bc.edges)), "B/edge")
		})
	}
}

func seqIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i)
	}
	return ids
}

func chainShuffled(n int) []Edge {
	ids := seqIDs(n)
	rand.New(rand.NewPCG(4, 4)).Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return chain(ids)
}
