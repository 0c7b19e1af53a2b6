package cc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/collective"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runCC runs Components on len(parts) ranks over a LocalHub, rank r getting
// parts[r], and returns each rank's labels and stats.
func runCC(t testing.TB, ctx context.Context, parts [][]Edge) ([][]Label, []Stats, []error) {
	t.Helper()
	return runCCDense(t, ctx, parts, -1)
}

// runCCDense is runCC with each rank's edges in a dense graph over the ids
// [0, universe) (a sparse graph, via ComponentsStats, if universe < 0).
func runCCDense(t testing.TB, ctx context.Context, parts [][]Edge, universe int64) ([][]Label, []Stats, []error) {
	t.Helper()
	n := len(parts)
	hub := collective.NewLocalHub()
	id := collective.NewGroupID()
	labels := make([][]Label, n)
	stats := make([]Stats, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		tr, err := hub.Join(id, r, n)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer tr.Close()
			if universe < 0 {
				labels[r], stats[r], errs[r] = ComponentsStats(ctx, collective.New(tr), parts[r])
				return
			}
			g, err := NewDenseGraph(universe)
			if err != nil {
				errs[r] = err
				return
			}
			for _, e := range parts[r] {
				if err := g.Add(e.U, e.V); err != nil {
					errs[r] = err
					return
				}
			}
			labels[r], stats[r], errs[r] = GraphComponents(ctx, collective.New(tr), g)
		})
	}
	wg.Wait()
	return labels, stats, errs
}

// oracle labels every node of edges with its component's minimum by BFS.
func oracle(edges []Edge) map[int64]int64 {
	adj := make(map[int64][]int64)
	for _, e := range edges {
		adj[e.U] = append(adj[e.U], e.V)
		adj[e.V] = append(adj[e.V], e.U)
	}
	group := make(map[int64]int64, len(adj))
	for start := range adj {
		if _, seen := group[start]; seen {
			continue
		}
		comp := []int64{start}
		group[start] = start
		for q := 0; q < len(comp); q++ {
			for _, y := range adj[comp[q]] {
				if _, seen := group[y]; !seen {
					group[y] = start
					comp = append(comp, y)
				}
			}
		}
		m := slices.Min(comp)
		for _, x := range comp {
			group[x] = m
		}
	}
	return group
}

// check verifies the per-rank results against the BFS oracle: each rank
// returns exactly the nodes it owns, sorted, and every node of the graph
// appears once with its component minimum.
func check(t *testing.T, parts [][]Edge, labels [][]Label, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	var all []Edge
	for _, p := range parts {
		all = append(all, p...)
	}
	want := oracle(all)
	seen := 0
	for r, ls := range labels {
		for i, l := range ls {
			if i > 0 && ls[i-1].Node >= l.Node {
				t.Fatalf("rank %d: labels not strictly sorted at %d: %v then %v", r, i, ls[i-1], l)
			}
			if o := Owner(l.Node, len(parts)); o != r {
				t.Fatalf("rank %d returned node %d owned by rank %d", r, l.Node, o)
			}
			g, ok := want[l.Node]
			if !ok {
				t.Fatalf("rank %d returned node %d, which is in no edge", r, l.Node)
			}
			if l.Group != g {
				t.Fatalf("rank %d: node %d in group %d, want %d", r, l.Node, l.Group, g)
			}
		}
		seen += len(ls)
	}
	if seen != len(want) {
		t.Fatalf("ranks returned %d labels, the graph has %d nodes", seen, len(want))
	}
}

// shuffleSplit deals the edges, shuffled, round-robin to n ranks.
func shuffleSplit(rng *rand.Rand, edges []Edge, n int) [][]Edge {
	edges = slices.Clone(edges)
	rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	parts := make([][]Edge, n)
	for i, e := range edges {
		parts[i%n] = append(parts[i%n], e)
	}
	return parts
}

// blockSplit gives each rank a contiguous block of the edges, in order.
func blockSplit(edges []Edge, n int) [][]Edge {
	parts := make([][]Edge, n)
	for r := range n {
		parts[r] = edges[r*len(edges)/n : (r+1)*len(edges)/n]
	}
	return parts
}

func TestOwner(t *testing.T) {
	for _, size := range []int{1, 2, 3, 4, 7} {
		counts := make([]int, size)
		const n = 100_000
		for id := range int64(n) {
			o := Owner(id, size)
			if o < 0 || o >= size {
				t.Fatalf("Owner(%d, %d) = %d, out of range", id, size, o)
			}
			if o != Owner(id, size) {
				t.Fatalf("Owner(%d, %d) is not deterministic", id, size)
			}
			counts[o]++
		}
		for r, c := range counts {
			if math.Abs(float64(c)-n/float64(size)) > 0.05*n/float64(size) {
				t.Errorf("size %d: rank %d owns %d of %d sequential ids (unbalanced)", size, r, c, n)
			}
		}
	}
	// A hash, not node % size: consecutive ids do not simply alternate.
	mod := 0
	for id := range int64(64) {
		if Owner(id, 2) == int(id%2) {
			mod++
		}
	}
	if mod == 64 {
		t.Error("Owner(id, 2) == id % 2 for all of 0..63")
	}
	if Owner(math.MinInt64, 5) < 0 || Owner(-1, 5) >= 5 {
		t.Error("Owner out of range for negative ids")
	}
}

// randomGraph returns m random edges over the given node ids.
func randomGraph(rng *rand.Rand, nodes []int64, m int) []Edge {
	edges := make([]Edge, m)
	for i := range edges {
		edges[i] = Edge{nodes[rng.IntN(len(nodes))], nodes[rng.IntN(len(nodes))]}
	}
	return edges
}

func TestRandomGraphs(t *testing.T) {
	for _, ranks := range []int{1, 2, 4} {
		for _, density := range []float64{0.2, 0.5, 1, 2, 5} {
			for seed := range uint64(2) {
				t.Run(fmt.Sprintf("ranks=%d/density=%v/seed=%d", ranks, density, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, uint64(ranks)))
					const n = 2000
					nodes := make([]int64, n)
					for i := range nodes {
						if seed == 1 {
							nodes[i] = int64(rng.Uint64()) // sparse ids over all of int64
						} else {
							nodes[i] = int64(i) + 1000*int64(seed)
						}
					}
					parts := shuffleSplit(rng, randomGraph(rng, nodes, int(density*n)), ranks)
					labels, _, errs := runCC(t, context.Background(), parts)
					check(t, parts, labels, errs)
					if seed == 0 { // ids in [0, n): the dense graph too
						labels, _, errs = runCCDense(t, context.Background(), parts, n)
						check(t, parts, labels, errs)
					}
				})
			}
		}
	}
}

// chain returns the edges of the path ids[0] - ids[1] - ... - ids[n-1].
func chain(ids []int64) []Edge {
	edges := make([]Edge, len(ids)-1)
	for i := range edges {
		edges[i] = Edge{ids[i], ids[i+1]}
	}
	return edges
}

// checkChain verifies the labels of a single chain over ids without the
// map-based oracle (cheap enough for 100k nodes under -race): every node is
// returned once, by its owner, sorted, with the chain's minimum as group.
func checkChain(t *testing.T, ids []int64, ranks int, labels [][]Label, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	want := slices.Min(ids)
	var got []int64
	for r, ls := range labels {
		for i, l := range ls {
			if i > 0 && ls[i-1].Node >= l.Node {
				t.Fatalf("rank %d: labels not strictly sorted at %d", r, i)
			}
			if Owner(l.Node, ranks) != r {
				t.Fatalf("rank %d returned node %d it does not own", r, l.Node)
			}
			if l.Group != want {
				t.Fatalf("node %d in group %d, want %d", l.Node, l.Group, want)
			}
			got = append(got, l.Node)
		}
	}
	slices.Sort(got)
	sorted := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, sorted) {
		t.Fatalf("returned %d nodes, want the chain's %d", len(got), len(ids))
	}
}

func TestChains(t *testing.T) {
	ids := func(n int, order string) []int64 {
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(i)
		}
		switch order {
		case "reversed":
			slices.Reverse(s)
		case "random":
			rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
		}
		return s
	}
	type chainCase struct {
		n     int
		order string // ids along the chain: ordered, reversed or random
		split string // edges given to ranks in order (block) or shuffled
	}
	// 100k-node chains with edges in order and shuffled, the cases the
	// pipeline meets; smaller chains for id orders that stress hooking.
	cases := []chainCase{
		{100_000, "ordered", "block"},
		{100_000, "ordered", "shuffle"},
		{10_000, "reversed", "shuffle"},
		{10_000, "random", "block"},
		{10_000, "random", "shuffle"},
	}
	for _, ranks := range []int{1, 2, 4} {
		for _, c := range cases {
			if ranks == 1 && c.n < 100_000 {
				continue // one rank solves any chain with local union-find
			}
			t.Run(fmt.Sprintf("ranks=%d/n=%d/%s-ids/%s", ranks, c.n, c.order, c.split), func(t *testing.T) {
				chainIDs := ids(c.n, c.order)
				edges := chain(chainIDs)
				var parts [][]Edge
				if c.split == "block" {
					parts = blockSplit(edges, ranks)
				} else {
					parts = shuffleSplit(rand.New(rand.NewPCG(3, 4)), edges, ranks)
				}
				labels, stats, errs := runCC(t, context.Background(), parts)
				checkChain(t, chainIDs, ranks, labels, errs)
				st := stats[0]
				t.Logf("rounds: %d hooking, %d jumps, %d exchanges", st.Iterations, st.Jumps, st.Exchanges)
				// Label propagation would need ~n rounds; we need O(log n).
				logn := bits.Len(uint(c.n))
				if st.Iterations > 2*logn || st.Jumps > 4*logn*logn {
					t.Errorf("%d hooking rounds and %d jumps for a %d-chain: not logarithmic", st.Iterations, st.Jumps, c.n)
				}
				for r := range stats {
					if stats[r].Iterations != st.Iterations || stats[r].Jumps != st.Jumps {
						t.Errorf("rank %d did %d/%d rounds, rank 0 %d/%d", r, stats[r].Iterations, stats[r].Jumps, st.Iterations, st.Jumps)
					}
				}
			})
		}
	}
}

func TestEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		parts [][]Edge
	}{
		{"no edges anywhere", [][]Edge{nil, nil, {}, nil}},
		{"one rank has everything", [][]Edge{nil, {{1, 2}, {2, 3}, {10, 11}}, nil, nil}},
		{"self-loops only", [][]Edge{{{5, 5}}, {{5, 5}, {7, 7}}}},
		{"self-loops and edges", [][]Edge{{{5, 5}, {9, 9}}, {{5, 6}}, {{6, 6}, {8, 9}}}},
		{"duplicates both directions", [][]Edge{{{1, 2}, {2, 1}, {1, 2}}, {{2, 1}, {3, 4}}, {{4, 3}, {4, 3}, {2, 3}}}},
		{"extreme ids", [][]Edge{{{math.MaxInt64, math.MinInt64}, {-1, 0}}, {{0, math.MaxInt64}, {-5, -6}}}},
		{"star through many ranks", [][]Edge{{{100, 1}, {100, 2}}, {{100, 3}}, {{4, 100}}, {{100, 0}}}},
		{"two ranks share a component", [][]Edge{{{10, 20}, {30, 40}}, {{20, 30}, {50, 60}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			labels, _, errs := runCC(t, context.Background(), c.parts)
			check(t, c.parts, labels, errs)
		})
	}
	// Spot-check one expected answer by hand, independent of the oracle.
	parts := [][]Edge{{{math.MaxInt64, math.MinInt64}, {-1, 0}}, {{0, math.MaxInt64}, {-5, -6}}}
	labels, _, errs := runCC(t, context.Background(), parts)
	got := map[int64]int64{}
	for r, ls := range labels {
		if errs[r] != nil {
			t.Fatal(errs[r])
		}
		for _, l := range ls {
			got[l.Node] = l.Group
		}
	}
	want := map[int64]int64{math.MaxInt64: math.MinInt64, math.MinInt64: math.MinInt64, -1: math.MinInt64, 0: math.MinInt64, -5: -6, -6: -6}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
}

func TestManySmallComponents(t *testing.T) {
	// The shape fuzzy dedup produces: many small clusters of near-duplicates
	// plus singletons that only appear in self-loops.
	rng := rand.New(rand.NewPCG(9, 9))
	var edges []Edge
	next := int64(1_000_000)
	for range 2000 {
		size := 1 + rng.IntN(6)
		base := next
		next += int64(size) + int64(rng.IntN(3))
		if size == 1 {
			edges = append(edges, Edge{base, base})
			continue
		}
		for range size + rng.IntN(size) {
			edges = append(edges, Edge{base + int64(rng.IntN(size)), base + int64(rng.IntN(size))})
		}
		for i := range int64(size - 1) { // keep the cluster connected
			edges = append(edges, Edge{base + i, base + i + 1 + int64(rng.IntN(size-int(i)-1))})
		}
	}
	for _, ranks := range []int{1, 2, 4} {
		parts := shuffleSplit(rng, edges, ranks)
		labels, _, errs := runCC(t, context.Background(), parts)
		check(t, parts, labels, errs)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parts := [][]Edge{{{1, 2}}, {{2, 3}}}
	_, _, errs := runCC(t, ctx, parts)
	for r, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("rank %d: %v, want context.Canceled", r, err)
		}
	}
	// Cancelling while a rank waits for a peer that never calls Components.
	hub := collective.NewLocalHub()
	a, err := hub.Join("g", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hub.Join("g", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = Components(ctx, collective.New(a), []Edge{{1, 2}})
	a.Close()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Components with an absent peer = %v, want context.DeadlineExceeded", err)
	}
}

func TestIDTable(t *testing.T) {
	tab := newIDTable(0)
	rng := rand.New(rand.NewPCG(5, 5))
	ref := map[int64]int32{}
	for i := range 50_000 {
		k := int64(rng.Uint64() >> uint(rng.IntN(64))) // skewed magnitudes, repeats likely
		if i%3 == 0 {
			k = -k
		}
		got, found := tab.getOrPut(k, int32(i))
		want, ok := ref[k]
		if found != ok || (ok && got != want) || (!ok && got != int32(i)) {
			t.Fatalf("getOrPut(%d) = %d, %v; reference %d, %v", k, got, found, want, ok)
		}
		if !ok {
			ref[k] = int32(i)
		}
	}
	if tab.len() != len(ref) {
		t.Fatalf("len = %d, want %d", tab.len(), len(ref))
	}
	for k, v := range ref {
		if got, ok := tab.get(k); !ok || got != v {
			t.Fatalf("get(%d) = %d, %v; want %d", k, got, ok, v)
		}
	}
	for range 3 {
		tab.reset(0)
		for k := range ref {
			if _, ok := tab.get(k); ok || tab.len() != 0 {
				t.Fatalf("reset table still has %d", k)
			}
		}
		// Reuse after reset: the generation, not stale slots, decides.
		for k, v := range ref {
			if got, found := tab.getOrPut(k, v+1); found || got != v+1 {
				t.Fatalf("after reset, getOrPut(%d) = %d, %v; want %d, false", k, got, found, v+1)
			}
		}
	}
	tab.gen = math.MaxUint32 // force the wrap-around path
	tab.reset(0)
	if tab.gen != 1 || tab.len() != 0 {
		t.Fatalf("after wrap-around reset: gen %d, len %d", tab.gen, tab.len())
	}
	for k := range ref {
		if _, ok := tab.get(k); ok {
			t.Fatalf("wrapped-around table still has %d", k)
		}
	}
}

// TestGraph: a Graph holds each node once however often its edges repeat
// (LSH emits a pair once per shared band), and its forest's roots are the
// smallest ids, which the components labels rely on.
func TestGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	g := NewGraph()
	var edges []Edge
	for range 20 { // every edge 20 times, in random order
		for i := range int64(500) {
			edges = append(edges, Edge{U: 10_000 - i, V: 10_000 - (i+1+rng.Int64N(3))%500})
		}
	}
	rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	for _, e := range edges {
		if err := g.Add(e.U, e.V); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Add(42, 42); err != nil { // a self-loop adds the node alone
		t.Fatal(err)
	}
	want := oracle(append(edges, Edge{42, 42}))
	dense, err := NewDenseGraph(10_001)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(edges, Edge{42, 42}) {
		if err := dense.Add(e.U, e.V); err != nil {
			t.Fatal(err)
		}
	}
	if err := dense.Add(10_001, 1); err == nil {
		t.Fatal("dense graph accepted an id outside [0, 10001)")
	}
	if g.Nodes() != len(want) || g.Edges() != int64(len(edges)+1) {
		t.Fatalf("graph has %d nodes and %d edges, want %d and %d", g.Nodes(), g.Edges(), len(want), len(edges)+1)
	}
	for i, id := range g.ids {
		if root := g.ids[g.find(int32(i))]; root != want[id] {
			t.Fatalf("node %d: root %d, want its component's minimum %d", id, root, want[id])
		}
	}
	// Both kinds give the same forest: nodes in id order, each with the
	// index of its component's minimum.
	if dense.Nodes() != g.Nodes() || dense.Edges() != g.Edges() {
		t.Fatalf("dense graph: %d nodes %d edges, sparse %d %d", dense.Nodes(), dense.Edges(), g.Nodes(), g.Edges())
	}
	ids, roots := g.forest()
	dids, droots := dense.forest()
	if !slices.Equal(ids, dids) || !slices.Equal(roots, droots) {
		t.Fatal("dense and sparse forests differ")
	}
	for i, id := range ids {
		if ids[roots[i]] != want[id] {
			t.Fatalf("forest: node %d has root %d, want %d", id, ids[roots[i]], want[id])
		}
	}
}
