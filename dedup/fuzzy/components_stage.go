package fuzzy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/sluice-data/sluice/dedup/fuzzy/cc"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// ComponentsConfig configures the connected-components stage.
type ComponentsConfig struct {
	// OutputDir receives components/part.<rank>.parquet and
	// duplicates/part.<rank>.parquet.
	OutputDir string `json:"output_dir"`
	// TopGroups is how many of the largest groups to report (default 10).
	TopGroups int `json:"top_groups,omitempty"`
	// NumIDs, when positive, says every node id lies in [0, NumIDs) (the
	// workflow's document ids): each rank then indexes nodes by id in a
	// 4-bytes-per-id array instead of a hash table.
	NumIDs int64 `json:"num_ids,omitempty"`
	// Ledger, when set, makes each rank also write ledger/part.<rank>.parquet:
	// one row of the removal ledger per duplicate it owns (see ledger.go).
	Ledger *LedgerConfig `json:"ledger,omitempty"`
}

// ComponentsStage is a collective stage: the edge files are split over the
// group's ranks in contiguous chunks; each rank runs union-find on its edges
// and the ranks exchange labels (package cc) until every node carries its
// component's smallest id. No rank holds the whole graph.
//
// Each rank then writes the labels of the nodes it owns (_sluice_dedup_id,
// _group) and its share of the duplicates: every node whose group is not
// itself, sorted. The group's smallest id — the earliest document in input
// order — is the one kept.
type ComponentsStage struct {
	stage.Base
	cfg ComponentsConfig
	w   *stage.Worker
}

// NewComponentsStage returns the stage.
func NewComponentsStage(cfg ComponentsConfig) (*ComponentsStage, error) {
	if cfg.OutputDir == "" {
		return nil, errors.New("fuzzy_components: output_dir is required")
	}
	if cfg.TopGroups <= 0 {
		cfg.TopGroups = 10
	}
	return &ComponentsStage{Base: stage.Base{StageName: "components", StageKind: stage.Collective, Batch: 1,
		In: stage.Spec{Kinds: []string{task.KindFileGroup}}}, cfg: cfg}, nil
}

// Setup implements stage.Stage.
func (s *ComponentsStage) Setup(_ context.Context, w *stage.Worker) error {
	if w.Comm == nil {
		return errors.New("fuzzy_components: no communicator")
	}
	s.w = w
	return nil
}

// ProcessBatch implements stage.Stage: ts is this rank's chunk of edge files.
func (s *ComponentsStage) ProcessBatch(ctx context.Context, ts []task.Task) ([]task.Task, error) {
	g := cc.NewGraph()
	if useDenseGraph(s.cfg.NumIDs, ts) {
		var err error
		if g, err = cc.NewDenseGraph(s.cfg.NumIDs); err != nil {
			return nil, fmt.Errorf("fuzzy_components: %w", err)
		}
	}
	for _, t := range ts {
		fg, ok := t.(*task.FileGroup)
		if !ok {
			return nil, fmt.Errorf("fuzzy_components: task %s is %s, want a file group of edge files", t.ID(), t.Kind())
		}
		for _, p := range fg.Paths {
			if err := addEdges(ctx, p, g); err != nil {
				return nil, fmt.Errorf("fuzzy_components: %w", err)
			}
		}
	}
	labels, _, err := cc.GraphComponents(ctx, s.w.Comm, g)
	if err != nil {
		return nil, fmt.Errorf("fuzzy_components: %w", err)
	}
	rank := strconv.Itoa(s.w.Rank)
	compPath := dataio.JoinPath(s.cfg.OutputDir, "components", "part."+rank+".parquet")
	dupPath := dataio.JoinPath(s.cfg.OutputDir, "duplicates", "part."+rank+".parquet")
	nDups, sizes, err := writeLabels(ctx, labels, compPath, dupPath)
	if err != nil {
		return nil, err
	}
	totals, owned, err := s.groupSizes(ctx, sizes, s.cfg.Ledger != nil)
	if err != nil {
		return nil, err
	}
	top, err := s.topGroups(ctx, owned)
	if err != nil {
		return nil, err
	}
	paths := []string{compPath, dupPath}
	if s.cfg.Ledger != nil {
		lp := dataio.JoinPath(s.cfg.OutputDir, "ledger", "part."+rank+".parquet")
		if err := writeLedgerPart(ctx, *s.cfg.Ledger, s.w.ScratchDir, lp, labels, totals); err != nil {
			return nil, fmt.Errorf("fuzzy_components: %w", err)
		}
		paths = append(paths, lp)
	}
	o := task.NewFileGroup("", paths)
	m := o.Meta()
	m[metaNodes] = strconv.Itoa(len(labels))
	m[metaDups] = strconv.FormatInt(nDups, 10)
	m[metaSizeHist] = encodeSizeHistogram(owned)
	if s.w.Rank == 0 {
		b, _ := json.Marshal(top)
		m[metaTopGroups] = string(b)
	}
	return []task.Task{o}, nil
}

// writeLabels writes a rank's labels (sorted by node) to the components
// file and its duplicates (nodes whose group is not themselves) to the
// duplicates file, and returns the number of duplicates and the partial
// size of each group the labels name.
func writeLabels(ctx context.Context, labels []cc.Label, compPath, dupPath string) (int64, map[int64]int64, error) {
	for _, d := range []string{dataio.DirOf(compPath), dataio.DirOf(dupPath)} {
		if err := dataio.MkdirAll(ctx, d); err != nil {
			return 0, nil, err
		}
	}
	gw, err := dataio.CreateGroupFile(compPath, dataio.ParquetWriterOptions{})
	if err != nil {
		return 0, nil, err
	}
	dw, err := dataio.CreateIDListFile(dupPath, dataio.DedupIDColumn, dataio.ParquetWriterOptions{})
	if err != nil {
		gw.Abort()
		return 0, nil, err
	}
	const chunk = 65536
	nodes, groups, dups := make([]int64, 0, chunk), make([]int64, 0, chunk), make([]int64, 0, chunk)
	var nDups int64
	flush := func() error {
		if err := gw.Write(nodes, groups); err != nil {
			return err
		}
		if err := dw.Write(dups); err != nil {
			return err
		}
		nDups += int64(len(dups))
		nodes, groups, dups = nodes[:0], groups[:0], dups[:0]
		return nil
	}
	sizes := make(map[int64]int64)
	for _, l := range labels { // sorted by node, so dups are sorted
		nodes = append(nodes, l.Node)
		groups = append(groups, l.Group)
		if l.Node != l.Group {
			dups = append(dups, l.Node)
		}
		sizes[l.Group]++
		if len(nodes) == chunk {
			if err := flush(); err != nil {
				gw.Abort()
				dw.Abort()
				return 0, nil, err
			}
		}
	}
	if err := flush(); err != nil {
		gw.Abort()
		dw.Abort()
		return 0, nil, err
	}
	if err := gw.Close(); err != nil {
		dw.Abort()
		return 0, nil, err
	}
	if err := dw.Close(); err != nil {
		return 0, nil, err
	}
	return nDups, sizes, nil
}

// useDenseGraph reports whether this rank should index nodes by id in an
// array (4 bytes per id in [0, numIDs), whatever the rank sees) rather than
// a hash table (about 60 bytes per distinct node it sees, at most two per
// edge). The edge counts come from the LSH tasks' metadata; without them,
// or with more ids than int32 indexes, the hash table is used. With many
// ranks, each sees a small share of the nodes and the hash table wins.
func useDenseGraph(numIDs int64, ts []task.Task) bool {
	if numIDs <= 0 || numIDs > math.MaxInt32-1 {
		return false
	}
	var edges int64
	for _, t := range ts {
		n, err := strconv.ParseInt(t.Meta()[metaEdges], 10, 64)
		if err != nil {
			return false
		}
		edges += n
	}
	return 4*numIDs <= 60*min(numIDs, 2*edges)
}

// groupSizes sums the partial group sizes across ranks: each rank sends
// its partial counts to the rank that owns the group (AllToAll by group
// owner), which sums them. It returns the totals of the groups this rank
// owns and, with reply, also those of the groups this rank has members of:
// a second AllToAll sends every contributor the totals, in the order it
// sent the groups.
func (s *ComponentsStage) groupSizes(ctx context.Context, partial map[int64]int64, reply bool) (totals, owned map[int64]int64, err error) {
	size := s.w.Comm.Size()
	send := make([][]byte, size)
	asked := make([][]int64, size) // per owner, the groups sent to it, in order
	for g, n := range partial {
		o := cc.Owner(g, size)
		send[o] = binary.AppendVarint(send[o], g)
		send[o] = binary.AppendVarint(send[o], n)
		asked[o] = append(asked[o], g)
	}
	recv, err := s.w.Comm.AllToAll(ctx, send)
	if err != nil {
		return nil, nil, err
	}
	owned = make(map[int64]int64)
	from := make([][]int64, size) // per sender, the groups received, in order
	for src, b := range recv {
		for len(b) > 0 {
			g, n1 := binary.Varint(b)
			c, n2 := binary.Varint(b[max(n1, 0):])
			if n1 <= 0 || n2 <= 0 {
				return nil, nil, errors.New("fuzzy_components: corrupt group-size message")
			}
			owned[g] += c
			from[src] = append(from[src], g)
			b = b[n1+n2:]
		}
	}
	if !reply {
		return nil, owned, nil
	}
	back := make([][]byte, size)
	for src, gs := range from {
		for _, g := range gs {
			back[src] = binary.AppendVarint(back[src], owned[g])
		}
	}
	got, err := s.w.Comm.AllToAll(ctx, back)
	if err != nil {
		return nil, nil, err
	}
	totals = make(map[int64]int64, len(partial))
	for o, b := range got {
		for _, g := range asked[o] {
			v, n := binary.Varint(b)
			if n <= 0 {
				return nil, nil, errors.New("fuzzy_components: corrupt group-total message")
			}
			totals[g] = v
			b = b[n:]
		}
		if len(b) > 0 {
			return nil, nil, errors.New("fuzzy_components: corrupt group-total message")
		}
	}
	return totals, owned, nil
}

// topGroups returns the largest groups: each rank's largest owned groups
// are gathered on every rank and merged.
func (s *ComponentsStage) topGroups(ctx context.Context, owned map[int64]int64) ([]GroupSize, error) {
	local := largest(owned, s.cfg.TopGroups)
	enc, _ := json.Marshal(local)
	all, err := s.w.Comm.AllGather(ctx, enc)
	if err != nil {
		return nil, err
	}
	merged := make(map[int64]int64)
	for _, b := range all {
		var gs []GroupSize
		if err := json.Unmarshal(b, &gs); err != nil {
			return nil, err
		}
		for _, g := range gs {
			merged[g.Group] = g.Size
		}
	}
	return largest(merged, s.cfg.TopGroups), nil
}

func largest(m map[int64]int64, k int) []GroupSize {
	out := make([]GroupSize, 0, len(m))
	for g, n := range m {
		out = append(out, GroupSize{Group: g, Size: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Group < out[j].Group
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}
