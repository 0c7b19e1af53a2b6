// Package cc computes connected components of a graph whose edges are spread
// over the ranks of a collective group, as fuzzy deduplication needs after
// LSH: documents are nodes, candidate duplicate pairs are edges, and every
// component keeps one representative, its smallest document id.
//
// No rank ever holds the whole graph. Each node has an owner rank, chosen by
// [Owner] from a hash of its id, which keeps the node's parent pointer; each
// rank keeps its own edges. Ranks talk only through a
// [collective.Communicator] (AllToAll and AllReduce), so the same code runs
// over in-process goroutines or over the network.
//
// # Algorithm
//
// The algorithm is a distributed variant of Shiloach–Vishkin with min-label
// hooking and pointer jumping (close to FastSV):
//
//  1. Local contraction. Each rank runs union-find over its own edges, so
//     each local component becomes a star: its nodes plus its smallest
//     node. Only these stars are kept (at most one entry per distinct local
//     node), and they connect exactly what the edges connected.
//  2. Registration. Each rank tells the owner of every node it saw the
//     node's local star minimum, and subscribes to the labels of the nodes
//     that are in a star. An owner starts each node's parent f(v) at the
//     smallest minimum reported for it. Throughout, f(v) <= v and f(v) is in
//     v's component, so following f from any node ends at a root.
//  3. Pointer jumping. Owners replace f(v) by f(f(v)) (asking the owner of
//     f(v)) until every tree is a star, i.e. f(v) is a root for all v. This
//     takes about log2(tree depth) exchanges.
//  4. Hooking. Owners push the labels that changed to the subscribed ranks.
//     For every star whose labels changed, a rank takes the smallest label m
//     among the star's nodes and proposes f(x) = m for every node x of the
//     star and for every label of the star (the labels are roots, so this
//     hooks whole trees onto the smaller one). Owners keep the minimum
//     proposal. An AllReduce counts the parents that changed: if none did,
//     every star's nodes share one label and every tree is a star, so each
//     component carries a single label which must be its minimum node (the
//     minimum can only point to itself). Otherwise go to 3.
//
// Each hooking round at least halves the number of roots on a path (a root
// survives only if it is a local minimum among its neighbouring trees), so a
// chain of n nodes needs O(log n) rounds, not the O(n) rounds of plain label
// propagation; see [Stats] to observe the rounds.
//
// Memory per rank is proportional to the distinct nodes its edges name (the
// local stars, their labels and subscription lists; edges are folded into a
// union-find forest as they arrive, see [Graph], so repeated edges cost
// nothing) plus the nodes it owns (parents and subscriber lists), plus
// message buffers of the same order.
package cc

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/sluice-data/sluice/collective"
)

// Edge connects two documents. Edges are undirected; self-loops and
// duplicates are allowed.
type Edge struct{ U, V int64 }

// Label assigns a node to its component: Group is the smallest node id in
// the component of Node.
type Label struct{ Node, Group int64 }

// Stats describes the work of one Components call on one rank. The round
// counts are the same on every rank.
type Stats struct {
	Iterations int   // hooking rounds, each ending with an AllReduce
	Jumps      int   // pointer-jumping rounds (each one request and one reply AllToAll)
	Exchanges  int   // AllToAll calls in total
	Nodes      int   // distinct nodes in this rank's edges
	Owned      int   // nodes owned by this rank (the labels it returns)
	BytesSent  int64 // payload bytes this rank sent to other ranks
}

// Owner returns the rank, in [0, size), that owns node in a group of size
// ranks. It hashes the id (the murmur3 64-bit finaliser) and maps the hash
// onto the ranks with a multiply-shift, so consecutive document ids spread
// evenly. size must be positive.
func Owner(node int64, size int) int {
	if size <= 1 {
		return 0
	}
	h := uint64(node)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	hi, _ := bits.Mul64(h, uint64(size))
	return int(hi)
}

// Components labels the connected components of the graph formed by the
// edges of all ranks. Every rank of comm calls it (as the same collective
// step) with its own edges; any rank may pass none. It returns, sorted by
// Node, the labels of the nodes this rank owns (see [Owner]): every node
// that appears in some rank's edges is returned by exactly one rank.
//
// Components is a collective call over comm: an error on one rank (a
// cancelled ctx, a closed transport) leaves the others failing or waiting
// until their own ctx is done, so the runtime should cancel the whole group
// when any rank fails.
func Components(ctx context.Context, comm collective.Communicator, edges []Edge) ([]Label, error) {
	labels, _, err := ComponentsStats(ctx, comm, edges)
	return labels, err
}

// ComponentsStats is [Components] that also reports the rounds and traffic
// this rank needed.
func ComponentsStats(ctx context.Context, comm collective.Communicator, edges []Edge) ([]Label, Stats, error) {
	g := NewGraph()
	for _, e := range edges {
		if err := g.Add(e.U, e.V); err != nil {
			return nil, Stats{}, fmt.Errorf("cc: rank %d: %w", comm.Rank(), err)
		}
	}
	return GraphComponents(ctx, comm, g)
}

// GraphComponents is [ComponentsStats] for a rank whose edges were
// accumulated in a [Graph]. It consumes g.
func GraphComponents(ctx context.Context, comm collective.Communicator, g *Graph) ([]Label, Stats, error) {
	w := &worker{ctx: ctx, comm: comm, rank: comm.Rank(), size: comm.Size()}
	labels, err := w.run(g)
	if err != nil {
		return nil, w.stats, fmt.Errorf("cc: rank %d: %w", w.rank, err)
	}
	return labels, w.stats, nil
}

// maxNodes bounds the distinct nodes in one rank's edges and the nodes one
// rank owns: both are indexed with int32.
const maxNodes = math.MaxInt32 - 1

// Graph is one rank's share of the edges, kept as a union-find forest over
// the distinct nodes seen: its memory grows with the nodes, not with the
// edges, so the many repeated candidate pairs that LSH emits (one per band
// a pair shares) cost nothing once their nodes are known. The zero value is
// not usable; call [NewGraph] or [NewDenseGraph].
type Graph struct {
	// Sparse graphs (NewGraph) index nodes in first-seen order.
	tab    *idTable
	ids    []int64 // node of each index
	parent []int32 // union-find parent index
	// Dense graphs (NewDenseGraph) index nodes by id: dense[id] is id's
	// parent, or -1 if id was not added.
	dense []int32
	nodes int
	edges int64
}

// NewGraph returns an empty graph for any int64 node ids. It needs about
// 50–80 bytes per distinct node.
func NewGraph() *Graph { return &Graph{tab: newIDTable(0)} }

// NewDenseGraph returns an empty graph whose node ids all lie in [0, n),
// such as document ids numbered from 0. It needs 4 bytes per possible id,
// whether added or not, and no hash table.
func NewDenseGraph(n int64) (*Graph, error) {
	if n < 0 || n > maxNodes {
		return nil, fmt.Errorf("cc: dense graph of %d ids: want [0, %d]", n, maxNodes)
	}
	d := make([]int32, n)
	for i := range d {
		d[i] = -1
	}
	return &Graph{dense: d}, nil
}

// Nodes returns the number of distinct nodes added so far.
func (g *Graph) Nodes() int { return g.nodes }

// Edges returns the number of edges added so far, repeats included.
func (g *Graph) Edges() int64 { return g.edges }

// index returns id's index, adding the node if it is new.
func (g *Graph) index(id int64) (int32, error) {
	if g.dense != nil {
		if id < 0 || id >= int64(len(g.dense)) {
			return 0, fmt.Errorf("node %d outside the dense graph's ids [0, %d)", id, len(g.dense))
		}
		if g.dense[id] < 0 {
			g.dense[id] = int32(id)
			g.nodes++
		}
		return int32(id), nil
	}
	i, found := g.tab.getOrPut(id, int32(len(g.ids)))
	if !found {
		if len(g.ids) >= maxNodes {
			// Local nodes are indexed by int32; fail rather than overflow.
			return 0, fmt.Errorf("more than %d distinct nodes in this rank's edges", maxNodes)
		}
		g.ids = append(g.ids, id)
		g.parent = append(g.parent, i)
		g.nodes++
	}
	return i, nil
}

func (g *Graph) id(i int32) int64 {
	if g.dense != nil {
		return int64(i)
	}
	return g.ids[i]
}

func (g *Graph) find(x int32) int32 {
	p := g.parent
	if g.dense != nil {
		p = g.dense
	}
	for p[x] != x {
		p[x] = p[p[x]]
		x = p[x]
	}
	return x
}

// Add adds the edge u–v (u == v adds the node alone).
func (g *Graph) Add(u, v int64) error {
	a, err := g.index(u)
	if err != nil {
		return err
	}
	b, err := g.index(v)
	if err != nil {
		return err
	}
	g.edges++
	p := g.parent
	if g.dense != nil {
		p = g.dense
	}
	ra, rb := g.find(a), g.find(b)
	switch {
	case ra == rb:
	case g.id(ra) < g.id(rb):
		p[rb] = ra
	default:
		p[ra] = rb
	}
	return nil
}

// worker is one rank's state for one Components call.
type worker struct {
	ctx        context.Context
	comm       collective.Communicator
	rank, size int
	stats      Stats

	// Edge side: the local stars.
	ids     []int64   // distinct local nodes, sorted
	lab     []int64   // lab[i]: last pushed label of ids[i] (star members only)
	starOf  []int32   // star of ids[i], or -1 if ids[i] only has self-loops here
	starOff []int32   // star s's members are starMem[starOff[s]:starOff[s+1]]
	starMem []int32   // indices into ids, each star's in increasing id order
	subList [][]int32 // subList[o]: indices of star members owned by rank o, by id

	// Owner side.
	owned []int64   // nodes owned by this rank, sorted
	f     []int64   // f[k]: parent of owned[k]
	dirty []bool    // f[k] changed since the last push
	subs  [][]int32 // subs[s]: owned indices rank s subscribed to, in s's order

	// Scratch, reused across rounds.
	active []int32 // shortcut: owned nodes still jumping
	slot   []int32 // shortcut: slot of each active node's parent
	stars  []int32 // push: stars whose labels changed
	tab    *idTable
	vals   []int64
	asked  [][]idRef    // per owner rank: the ids asked about this round
	props  [][]proposal // hook: per owner rank, the proposals of this round
	send   [][]byte
}

func (w *worker) run(g *Graph) ([]Label, error) {
	w.asked = make([][]idRef, w.size)
	w.props = make([][]proposal, w.size)
	w.send = make([][]byte, w.size)
	w.tab = newIDTable(0)
	roots := w.localStars(g)
	if err := w.register(roots); err != nil {
		return nil, err
	}
	touched := make([]bool, len(w.starOff))
	for {
		if err := w.shortcut(); err != nil {
			return nil, err
		}
		w.stats.Iterations++
		stars, err := w.push(touched)
		if err != nil {
			return nil, err
		}
		changed, err := w.hook(stars, touched)
		if err != nil {
			return nil, err
		}
		total, err := w.comm.AllReduceInt64(w.ctx, collective.Sum, []int64{changed})
		if err != nil {
			return nil, fmt.Errorf("count changes: %w", err)
		}
		if total[0] == 0 {
			break
		}
	}
	labels := make([]Label, len(w.owned))
	for k, id := range w.owned {
		labels[k] = Label{Node: id, Group: w.f[k]}
	}
	return labels, nil
}

// exchange is AllToAll with accounting. It clears w.send for reuse.
func (w *worker) exchange(what string) ([][]byte, error) {
	for o, b := range w.send {
		if o != w.rank {
			w.stats.BytesSent += int64(len(b))
		}
	}
	w.stats.Exchanges++
	recv, err := w.comm.AllToAll(w.ctx, w.send)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for o := range w.send {
		w.send[o] = nil
	}
	return recv, nil
}

// resetScratch empties the scratch table and per-owner lists for a round
// that will use about hint entries.
func (w *worker) resetScratch(hint int) {
	w.tab.reset(hint)
	w.vals = w.vals[:0]
	for o := range w.asked {
		w.asked[o] = w.asked[o][:0]
	}
}

// idRef is a node id a rank asks about or proposes a parent for in the
// current round, with its slot in the scratch table (w.tab) and values
// (w.vals). Each id occurs once per round.
type idRef struct {
	id   int64
	slot int32
}

// proposal proposes parent as the new parent of target.
type proposal struct{ target, parent int64 }

// sortByID sorts refs by id, the order messages carry them in.
func sortByID(b []idRef) {
	slices.SortFunc(b, func(x, y idRef) int { return cmp.Compare(x.id, y.id) })
}

// localStars turns the rank's union-find forest into the local stars, with
// nodes re-indexed in increasing id order. It returns, for each local node,
// the index of its star's minimum. It consumes g.
func (w *worker) localStars(g *Graph) []int32 {
	ids, parent := g.forest()
	*g = Graph{}
	w.ids = ids
	w.stats.Nodes = len(ids)
	count := make([]int32, len(ids))
	for i := range parent {
		parent[i] = parent[parent[i]]
		count[parent[i]]++
	}
	w.starOf = make([]int32, len(ids))
	w.starOff = []int32{0}
	for i := range ids {
		r := parent[i]
		if int32(i) == r {
			if count[i] < 2 {
				w.starOf[i] = -1
				continue
			}
			w.starOf[i] = int32(len(w.starOff) - 1)
			w.starOff = append(w.starOff, w.starOff[len(w.starOff)-1]+count[i])
			continue
		}
		w.starOf[i] = w.starOf[r]
	}
	nstars := len(w.starOff) - 1
	w.starMem = make([]int32, w.starOff[nstars])
	fill := slices.Clone(w.starOff[:nstars])
	for i, s := range w.starOf {
		if s >= 0 {
			w.starMem[fill[s]] = int32(i)
			fill[s]++
		}
	}
	w.lab = make([]int64, len(ids))
	return parent
}

// forest returns g's nodes in increasing id order and, for each, the index
// (in that order) of its tree's root, its tree's smallest id.
func (g *Graph) forest() (ids []int64, root []int32) {
	if g.dense != nil {
		// Every parent is a smaller id (roots are their tree's minimum and
		// path halving only moves pointers up), so in one ascending pass
		// a node's parent has already been given its root's local index,
		// stored in place as -(index+2) (-1 marks ids never added).
		d := g.dense
		ids = make([]int64, 0, g.nodes)
		root = make([]int32, 0, g.nodes)
		for id, p := range d {
			if p == -1 {
				continue
			}
			k := int32(len(ids))
			r := k
			if p != int32(id) {
				r = -d[p] - 2
			}
			ids = append(ids, int64(id))
			root = append(root, r)
			d[id] = -r - 2
		}
		return ids, root
	}
	n := len(g.ids)
	order := make([]int32, n) // order[i]: g's index of the i-th smallest id
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(g.ids[a], g.ids[b]) })
	pos := make([]int32, n) // pos[old]: new index
	ids = make([]int64, n)
	for i, old := range order {
		pos[old] = int32(i)
		ids[i] = g.ids[old]
	}
	// Every root is its tree's smallest id, so in the new order it is the
	// tree's smallest index.
	root = order // reuse: order is not needed any more
	for old := range n {
		root[pos[old]] = pos[g.find(int32(old))]
	}
	return ids, root
}

// register sends every local node with its star minimum to its owner,
// subscribes to the labels of star members, and builds the owner side.
//
// Message: the number of nodes and of subscriptions, then per node, in id
// order: id (delta), node - star minimum, and a byte that is 1 if the sender
// subscribes to the node's label.
func (w *worker) register(roots []int32) error {
	// Count first, so that both sides can allocate exactly.
	nodes := make([]int, w.size)
	subs := make([]int, w.size)
	for i, id := range w.ids {
		o := Owner(id, w.size)
		nodes[o]++
		if w.starOf[i] >= 0 {
			subs[o]++
		}
	}
	w.subList = make([][]int32, w.size)
	writers := make([]idWriter, w.size)
	for o := range writers {
		w.subList[o] = make([]int32, 0, subs[o])
		writers[o].b = make([]byte, 0, 20+4*nodes[o])
		writers[o].uvarint(uint64(nodes[o]))
		writers[o].uvarint(uint64(subs[o]))
	}
	for i, id := range w.ids {
		o := Owner(id, w.size)
		wr := &writers[o]
		wr.id(id)
		wr.uvarint(uint64(id) - uint64(w.ids[roots[i]]))
		if w.starOf[i] >= 0 {
			wr.b = append(wr.b, 1)
			w.subList[o] = append(w.subList[o], int32(i))
		} else {
			wr.b = append(wr.b, 0)
		}
	}
	for o := range writers {
		w.send[o] = writers[o].b
	}
	recv, err := w.exchange("register nodes")
	if err != nil {
		return err
	}
	// First pass: the owned node set.
	total := 0
	for s, msg := range recv {
		r := reader{b: msg}
		n := r.uvarint()
		r.uvarint()
		if r.bad || n > uint64(len(msg)) {
			return fmt.Errorf("register nodes: message from rank %d: %w", s, errCorrupt)
		}
		total += int(n)
	}
	owned := make([]int64, 0, total)
	w.subs = make([][]int32, w.size)
	for s, msg := range recv {
		r := idReader{reader: reader{b: msg}}
		n, nsub := r.uvarint(), r.uvarint()
		if nsub > n {
			return fmt.Errorf("register nodes: message from rank %d: %w", s, errCorrupt)
		}
		w.subs[s] = make([]int32, 0, nsub)
		for range n {
			owned = append(owned, r.id())
			r.uvarint()
			r.byte()
		}
		if r.bad || len(r.b) != 0 {
			return fmt.Errorf("register nodes: message from rank %d: %w", s, errCorrupt)
		}
	}
	slices.Sort(owned)
	w.owned = slices.Clip(slices.Compact(owned))
	w.stats.Owned = len(w.owned)
	if len(w.owned) > maxNodes {
		return fmt.Errorf("%d nodes owned by this rank, at most %d supported", len(w.owned), maxNodes)
	}
	w.f = slices.Clone(w.owned)
	w.dirty = make([]bool, len(w.owned))
	for k := range w.dirty {
		w.dirty[k] = true // the first push sends every label
	}
	// Second pass: initial parents and subscriptions. Each message is
	// sorted, so its ids are found by a merge with w.owned.
	for s, msg := range recv {
		r := idReader{reader: reader{b: msg}}
		n := r.uvarint()
		r.uvarint()
		k := 0
		for range n {
			id := r.id()
			root := int64(uint64(id) - r.uvarint())
			sub := r.byte()
			k, _ = seek(w.owned, k, id)
			w.f[k] = min(w.f[k], root)
			if sub == 1 {
				if len(w.subs[s]) == cap(w.subs[s]) {
					return fmt.Errorf("register nodes: message from rank %d: more subscriptions than announced: %w", s, errCorrupt)
				}
				w.subs[s] = append(w.subs[s], int32(k))
			}
		}
	}
	return nil
}

// shortcut does pointer jumping, f(v) = f(f(v)), until every owned node's
// parent is a root on all ranks.
//
// Request message: a byte (1 if the sender still has unsettled nodes) and
// the distinct parents it asks about, sorted and delta-coded. Reply: for
// each requested parent p, in order, p - f(p).
func (w *worker) shortcut() error {
	active := w.active[:0] // owned nodes whose parent may not be a root
	for k, id := range w.owned {
		if w.f[k] != id {
			active = append(active, int32(k))
		}
	}
	w.active = active
	slot := slices.Grow(w.slot[:0], len(active)) // active[j]'s parent's slot in w.tab/w.vals
	w.slot = slot
	for {
		// Distinct parents of active nodes, grouped by owner.
		w.resetScratch(len(active))
		slot = slot[:len(active)]
		for j, k := range active {
			p := w.f[k]
			s, found := w.tab.getOrPut(p, int32(len(w.vals)))
			if !found {
				w.vals = append(w.vals, 0)
				o := Owner(p, w.size)
				w.asked[o] = append(w.asked[o], idRef{p, s})
			}
			slot[j] = s
		}
		var flag byte
		if len(active) > 0 {
			flag = 1
		}
		for o, b := range w.asked {
			sortByID(b)
			wr := idWriter{b: make([]byte, 1, 1+2*len(b))}
			wr.b[0] = flag
			for _, ps := range b {
				wr.id(ps.id)
			}
			w.send[o] = wr.b
		}
		recv, err := w.exchange("pointer jumping request")
		if err != nil {
			return err
		}
		anyActive := false
		for _, msg := range recv {
			if len(msg) > 0 && msg[0] == 1 {
				anyActive = true
			}
		}
		if !anyActive {
			return nil // every rank saw the same flags
		}
		w.stats.Jumps++
		for s, msg := range recv {
			if len(msg) == 0 {
				return fmt.Errorf("pointer jumping request from rank %d: %w", s, errCorrupt)
			}
			r := idReader{reader: reader{b: msg[1:]}}
			out := make([]byte, 0, len(msg))
			k := 0
			for r.more() {
				p := r.id()
				var ok bool
				if k, ok = seek(w.owned, k, p); !ok {
					return fmt.Errorf("pointer jumping request from rank %d: node %d is not owned here: %w", s, p, errCorrupt)
				}
				out = appendUvarint(out, uint64(p)-uint64(w.f[k]))
			}
			if r.bad {
				return fmt.Errorf("pointer jumping request from rank %d: %w", s, errCorrupt)
			}
			w.send[s] = out
		}
		reply, err := w.exchange("pointer jumping reply")
		if err != nil {
			return err
		}
		for o, b := range w.asked {
			r := reader{b: reply[o]}
			for _, ps := range b {
				w.vals[ps.slot] = int64(uint64(ps.id) - r.uvarint())
			}
			if r.bad || len(r.b) != 0 {
				return fmt.Errorf("pointer jumping reply from rank %d: %w", o, errCorrupt)
			}
		}
		keep := active[:0]
		for j, k := range active {
			gp := w.vals[slot[j]]
			if gp != w.f[k] {
				w.f[k] = gp
				w.dirty[k] = true
				keep = append(keep, k)
			}
		}
		active = keep
	}
}

// push sends the labels that changed since the last push to the ranks
// subscribed to them, and returns the local stars whose labels changed
// (marked in touched).
//
// Message: per changed label, in subscription order: the gap to the
// previous position, and node - label.
func (w *worker) push(touched []bool) ([]int32, error) {
	for s, list := range w.subs {
		n := 0
		for _, k := range list {
			if w.dirty[k] {
				n++
			}
		}
		out := make([]byte, 0, 4*n)
		next := 0
		for pos, k := range list {
			if !w.dirty[k] {
				continue
			}
			out = appendUvarint(out, uint64(pos-next))
			out = appendUvarint(out, uint64(w.owned[k])-uint64(w.f[k]))
			next = pos + 1
		}
		w.send[s] = out
	}
	clear(w.dirty)
	recv, err := w.exchange("push labels")
	if err != nil {
		return nil, err
	}
	stars := w.stars[:0]
	defer func() { w.stars = stars }()
	for o, msg := range recv {
		list := w.subList[o]
		r := reader{b: msg}
		next := uint64(0)
		for r.more() {
			pos := next + r.uvarint()
			diff := r.uvarint()
			if pos >= uint64(len(list)) {
				r.bad = true
				break
			}
			next = pos + 1
			i := list[pos]
			w.lab[i] = int64(uint64(w.ids[i]) - diff)
			if s := w.starOf[i]; !touched[s] {
				touched[s] = true
				stars = append(stars, s)
			}
		}
		if r.bad {
			return nil, fmt.Errorf("push labels from rank %d: %w", o, errCorrupt)
		}
	}
	return stars, nil
}

// hook proposes, for every star in stars, the star's smallest label as the
// parent of each of its nodes and of each of its labels; owners keep the
// minimum proposal. It returns how many owned parents changed and clears
// touched.
//
// Message: per proposal, sorted by target: target (delta) and
// target - proposed parent.
func (w *worker) hook(stars []int32, touched []bool) (int64, error) {
	// Proposals go straight into per-owner lists, then each list is sorted
	// and reduced to the smallest proposal per target: 16 bytes per
	// proposal, where a hash table of targets would need three to five
	// times that in the first rounds, when nearly every node is proposed.
	for o := range w.props {
		w.props[o] = w.props[o][:0]
	}
	propose := func(target, m int64) {
		o := Owner(target, w.size)
		w.props[o] = append(w.props[o], proposal{target, m})
	}
	for _, s := range stars {
		touched[s] = false
		members := w.starMem[w.starOff[s]:w.starOff[s+1]]
		m := w.lab[members[0]]
		for _, i := range members[1:] {
			m = min(m, w.lab[i])
		}
		for _, i := range members {
			if l := w.lab[i]; l > m {
				propose(w.ids[i], m)
				propose(l, m)
			}
		}
	}
	for o, b := range w.props {
		slices.SortFunc(b, func(x, y proposal) int {
			if c := cmp.Compare(x.target, y.target); c != 0 {
				return c
			}
			return cmp.Compare(x.parent, y.parent)
		})
		b = slices.CompactFunc(b, func(x, y proposal) bool { return x.target == y.target }) // keeps the smallest parent
		wr := idWriter{b: make([]byte, 0, 3*len(b))}
		for _, p := range b {
			wr.id(p.target)
			wr.uvarint(uint64(p.target) - uint64(p.parent))
		}
		w.send[o] = wr.b
	}
	recv, err := w.exchange("hook proposals")
	if err != nil {
		return 0, err
	}
	var changed int64
	for s, msg := range recv {
		r := idReader{reader: reader{b: msg}}
		k := 0
		for r.more() {
			t := r.id()
			m := int64(uint64(t) - r.uvarint())
			var ok bool
			if k, ok = seek(w.owned, k, t); !ok {
				return 0, fmt.Errorf("hook proposal from rank %d: node %d is not owned here: %w", s, t, errCorrupt)
			}
			if m < w.f[k] {
				w.f[k] = m
				w.dirty[k] = true
				changed++
			}
		}
		if r.bad {
			return 0, fmt.Errorf("hook proposal from rank %d: %w", s, errCorrupt)
		}
	}
	return changed, nil
}
