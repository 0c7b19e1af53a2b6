package fuzzy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// bfsLabels labels every node of edges with the smallest node reachable from
// it, by breadth-first search over an adjacency list.
func bfsLabels(edges [][2]int64) map[int64]int64 {
	adj := map[int64][]int64{}
	for _, e := range edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	labels := map[int64]int64{}
	for start := range adj {
		if _, done := labels[start]; done {
			continue
		}
		comp := []int64{start}
		seen := map[int64]bool{start: true}
		for i := 0; i < len(comp); i++ {
			for _, m := range adj[comp[i]] {
				if !seen[m] {
					seen[m] = true
					comp = append(comp, m)
				}
			}
		}
		root := slices.Min(comp)
		for _, n := range comp {
			labels[n] = root
		}
	}
	return labels
}

// testGraph is a named edge list.
type testGraph struct {
	name  string
	edges [][2]int64
}

func componentGraphs() []testGraph {
	rng := rand.New(rand.NewPCG(5, 6))
	var gs []testGraph

	// A path visiting 3,000 ids in random order: the smallest id must travel
	// up to 3,000 hops.
	perm := rng.Perm(3000)
	var chain [][2]int64
	for i := 1; i < len(perm); i++ {
		chain = append(chain, [2]int64{int64(perm[i-1]), int64(perm[i])})
	}
	gs = append(gs, testGraph{"random-order-path", chain})

	// A path of large, sparse ids written from the largest end, every edge
	// reversed, plus a second path sharing no node with it.
	var far [][2]int64
	for i := int64(2000); i > 0; i-- {
		far = append(far, [2]int64{1e12 + 7*i, 1e12 + 7*(i-1)})
		far = append(far, [2]int64{5e11 + 3*i, 5e11 + 3*(i-1)})
	}
	gs = append(gs, testGraph{"two-sparse-paths", far})

	// A sparse random graph over sparse ids: a few large components and
	// many small ones, with repeated and reversed edges.
	nodes := make([]int64, 2500)
	for i := range nodes {
		nodes[i] = rng.Int64N(1 << 40)
	}
	var rnd [][2]int64
	for range 2200 {
		a, b := nodes[rng.IntN(len(nodes))], nodes[rng.IntN(len(nodes))]
		if a == b {
			continue
		}
		rnd = append(rnd, [2]int64{a, b})
		if rng.IntN(10) == 0 {
			rnd = append(rnd, [2]int64{b, a})
		}
	}
	gs = append(gs, testGraph{"random-sparse", rnd})

	// Stars and cliques, as LSH buckets of exact copies make them.
	var stars [][2]int64
	for c := int64(0); c < 50; c++ {
		hub := 100000 + 1000*c
		for k := int64(1); k <= c%7+1; k++ {
			stars = append(stars, [2]int64{hub + k, hub})
			for j := int64(1); j < k; j++ {
				stars = append(stars, [2]int64{hub + j, hub + k})
			}
		}
	}
	gs = append(gs, testGraph{"stars-and-cliques", stars})
	return gs
}

// TestComponentsStageMatchesBFS runs the components stage with 1, 2 and 4
// ranks over edge files written here (shuffled over six files, one of them
// empty) and checks, against breadth-first search: every node's group is the
// smallest id of its component, each node is labelled once, the duplicates
// are exactly the nodes that are not their group's smallest id, sorted in
// each file, and the counts and largest groups in the task metadata agree.
func TestComponentsStageMatchesBFS(t *testing.T) {
	rt, err := local.New(local.Options{CPUs: 4, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, g := range componentGraphs() {
		want := bfsLabels(g.edges)
		wantDups := nonRoots(want)
		for _, ranks := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/ranks=%d", g.name, ranks), func(t *testing.T) {
				dir := t.TempDir()
				rng := rand.New(rand.NewPCG(uint64(ranks), 9))
				edges := slices.Clone(g.edges)
				rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
				var tasks []task.Task
				const files = 6
				for f := range files {
					lo, hi := len(edges)*f/(files-1), len(edges)*(f+1)/(files-1)
					if f == files-1 {
						lo, hi = 0, 0 // an empty edge file
					}
					p := filepath.Join(dir, "edges", fmt.Sprintf("part.%d.parquet", f))
					writeEdgeFile(t, p, edges[lo:hi])
					tasks = append(tasks, task.NewFileGroup("", []string{p}))
				}
				rng.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })

				st, err := fuzzy.NewComponentsStage(fuzzy.ComponentsConfig{OutputDir: filepath.Join(dir, "cc"), TopGroups: 5})
				if err != nil {
					t.Fatal(err)
				}
				ex := executor.New(rt, executor.Config{})
				out, err := ex.Execute(context.Background(), []stage.Stage{stage.With(st, stage.WithNumWorkers(ranks))}, tasks)
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != ranks {
					t.Fatalf("%d output tasks from %d ranks", len(out), ranks)
				}
				if d := diffLabels(readComponentDir(t, filepath.Join(dir, "cc")), want); d != "" {
					t.Fatalf("labels differ from BFS: %s", d)
				}
				var nodes, dups int64
				var top []fuzzy.GroupSize
				var allDups []int64
				for _, o := range out {
					fg := o.(*task.FileGroup)
					ids, err := dataio.ReadAllIDs(fg.Paths[1], dataio.DedupIDColumn)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.IsSorted(ids) {
						t.Fatalf("%s is not sorted", fg.Paths[1])
					}
					allDups = append(allDups, ids...)
					n, _ := strconv.ParseInt(o.Meta()[fuzzy.MetaNodes], 10, 64)
					d, _ := strconv.ParseInt(o.Meta()[fuzzy.MetaDups], 10, 64)
					if d != int64(len(ids)) {
						t.Fatalf("%s: metadata says %d duplicates, file has %d", fg.Paths[1], d, len(ids))
					}
					nodes += n
					dups += d
					if tg := o.Meta()[fuzzy.MetaTopGroups]; tg != "" {
						if top != nil {
							t.Fatal("two ranks reported the largest groups")
						}
						if err := json.Unmarshal([]byte(tg), &top); err != nil {
							t.Fatal(err)
						}
					}
				}
				slices.Sort(allDups)
				if !slices.Equal(allDups, wantDups) {
					t.Fatalf("duplicates: %d ids, want %d", len(allDups), len(wantDups))
				}
				if nodes != int64(len(want)) || dups != int64(len(wantDups)) {
					t.Fatalf("metadata: %d nodes %d duplicates, want %d and %d", nodes, dups, len(want), len(wantDups))
				}
				if wantTop := topGroups(want, 5); !slices.Equal(top, wantTop) {
					t.Fatalf("largest groups %v, want %v", top, wantTop)
				}
			})
		}
	}
}

// topGroups is the k largest groups, largest first, ties by smaller id.
func topGroups(labels map[int64]int64, k int) []fuzzy.GroupSize {
	size := map[int64]int64{}
	for _, g := range labels {
		size[g]++
	}
	var out []fuzzy.GroupSize
	for g, n := range size {
		out = append(out, fuzzy.GroupSize{Group: g, Size: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Group < out[j].Group
	})
	return out[:min(k, len(out))]
}
