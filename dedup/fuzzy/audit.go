package fuzzy

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/zeebo/xxh3"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// FuzzyAudit is what a fuzzy run finds out about its own result beyond
// flow.Audit (the ledger, sources and group sizes), for summary.json and
// report.html: the similarity histograms and a measured precision.
// Summary embeds it.
type FuzzyAudit struct {
	// CandidateSimilarity counts the candidate pairs verification compared
	// (--verify-threshold), by similarity: the exact shingle Jaccard for
	// pairs whose signature estimate was near the threshold, the estimate
	// for the others. A pair that shares several bands counts once per
	// comparison.
	CandidateSimilarity *SimilarityHistogram `json:"candidate_similarity,omitempty"`
	// RemovedSimilarity counts the removed documents by their similarity
	// to the kept document of their group, as the ledger gives it.
	RemovedSimilarity *SimilarityHistogram `json:"removed_similarity,omitempty"`
	// Precision is measured on a sample of groups.
	Precision *PrecisionSample `json:"precision_sample,omitempty"`
}

// PrecisionSample is the precision of the removals, measured on a sample
// of groups: for each sampled pair (a removed document and the document
// kept for its group) the exact shingle Jaccard of their texts, read
// again from the inputs, is compared with Threshold.
type PrecisionSample struct {
	Threshold float64 `json:"threshold"`
	// ThresholdSource is "verify_threshold" (--verify-threshold) or
	// "lsh_midpoint": without verification, the similarity at which a pair
	// becomes a candidate with probability about one half,
	// (1/bands)^(1/rows).
	ThresholdSource string `json:"threshold_source"`
	Groups          int    `json:"groups"`
	Pairs           int    `json:"pairs"`
	AtOrAbove       int    `json:"at_or_above"`
	// Unreadable counts sampled pairs whose texts could not be read again
	// (left out of Pairs).
	Unreadable int `json:"unreadable,omitempty"`
	// Precision is AtOrAbove / Pairs, with a Wilson 95% interval.
	Precision float64      `json:"precision"`
	Low       float64      `json:"ci95_low"`
	High      float64      `json:"ci95_high"`
	Samples   []PairSample `json:"samples"`
}

// PairSample is one sampled pair.
type PairSample struct {
	DedupID        int64   `json:"dedup_id"`
	KeptDedupID    int64   `json:"kept_dedup_id"`
	OriginalID     *string `json:"original_id"`
	KeptOriginalID *string `json:"kept_original_id"`
	GroupSize      int64   `json:"group_size"`
	// Similarity is the exact shingle Jaccard of the two texts;
	// LedgerSimilarity and LedgerMethod are what the ledger says.
	Similarity       float64 `json:"similarity"`
	LedgerSimilarity float64 `json:"ledger_similarity"`
	LedgerMethod     string  `json:"ledger_method"`
}

// Sample sizes of the precision estimate.
const (
	sampleGroups  = 30
	sampleMembers = 3
)

// paramsForHash are the parameters that decide which documents a run
// removes and what its ledger holds.
func paramsForHash(c Config) any {
	return struct {
		Dedup       string  `json:"dedup"`
		Scheme      string  `json:"scheme"`
		CharNgrams  int     `json:"char_ngrams"`
		Bands       int     `json:"bands"`
		Rows        int     `json:"rows"`
		Seed        uint64  `json:"seed"`
		HashBits    int     `json:"hash_bits"`
		Normalize   bool    `json:"normalize"`
		Verify      float64 `json:"verify_threshold"`
		TextField   string  `json:"text_field"`
		IDField     string  `json:"id_field"`
		OnBadRecord string  `json:"on_bad_record"`
		InputFormat string  `json:"input_format"`
	}{ledger.DedupFuzzy, c.Scheme, c.CharNgrams, c.Bands, c.Rows, c.Seed, c.HashBits, c.Normalize, c.VerifyThreshold,
		c.TextField, c.IDField, c.OnBadRecord, c.InputFormat}
}

// ledgerConfig is the components stage's ledger configuration.
func ledgerConfig(c Config, root string, mhOut []task.Task, paramsHash string) (*LedgerConfig, error) {
	stores, err := storesOf(mhOut)
	if err != nil {
		return nil, err
	}
	return &LedgerConfig{IDMap: dataio.JoinPath(root, "ids", "id_map.json"), Stores: stores, NumPerm: c.Bands * c.Rows,
		HashBits: c.HashBits, ParamsHash: paramsHash}, nil
}

// audit copies the ledger parts the components phase wrote into the
// output (OUTPUT/ledger/), checks that it has one row per duplicate, and
// fills the audits: sources, histograms, the precision sample, and the
// first characters of the largest groups' named members.
func (p *phases) audit(ctx context.Context, ccOut, lshOut []task.Task) error {
	sum := p.sum
	var parts []string
	for _, t := range ccOut {
		fg := t.(*task.FileGroup)
		if len(fg.Paths) < 3 {
			return fmt.Errorf("components: task %s names no ledger part", t.ID())
		}
		parts = append(parts, fg.Paths[2])
		var err error
		if sum.GroupSizes, err = flow.AddSizeHistogram(sum.GroupSizes, t.Meta()[metaSizeHist]); err != nil {
			return err
		}
	}
	for _, t := range lshOut {
		if enc := t.Meta()[metaSimHist]; enc != "" {
			var h SimilarityHistogram
			if err := json.Unmarshal([]byte(enc), &h); err != nil {
				return fmt.Errorf("lsh: similarity histogram: %w", err)
			}
			if sum.CandidateSimilarity == nil {
				sum.CandidateSimilarity = newSimilarityHistogram()
			}
			sum.CandidateSimilarity.merge(&h)
		}
	}
	files, err := flow.IDFiles(p.idTasks)
	if err != nil {
		return err
	}
	smp := newSampler(sampleGroups, sampleMembers)
	sum.RemovedSimilarity = newSimilarityHistogram()
	err = sum.AddLedger(ctx, p.c.io(), p.dst, parts, files, sum.Duplicates, func(r ledger.Row) {
		sum.RemovedSimilarity.add(r.Similarity, r.SimilarityMethod == ledger.SimilarityExact)
		smp.add(r)
	})
	if err != nil {
		return err
	}
	// The texts of the sampled pairs and of the largest groups' named
	// members are read once.
	rows := smp.rows()
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.DedupID, r.KeptDedupID)
	}
	texts := flow.ReadSampleTexts(ctx, p.c.io(), p.r.Logger, files, sum.LargestGroups, ids)
	if len(rows) > 0 {
		sum.Precision = measurePrecision(p.c, rows, texts, smp.numGroups())
	}
	return nil
}

// measurePrecision compares the exact similarity of each sampled pair
// with the threshold.
func measurePrecision(c Config, rows []ledger.Row, texts map[int64]string, groups int) *PrecisionSample {
	p := &PrecisionSample{Threshold: c.VerifyThreshold, ThresholdSource: "verify_threshold", Groups: groups}
	if c.VerifyThreshold <= 0 {
		p.Threshold = math.Pow(1/float64(c.Bands), 1/float64(c.Rows))
		p.ThresholdSource = "lsh_midpoint"
	}
	for _, r := range rows {
		a, okA := texts[r.DedupID]
		b, okB := texts[r.KeptDedupID]
		if !okA || !okB {
			p.Unreadable++
			continue
		}
		sim := TextSimilarity(a, b, c.CharNgrams, c.Normalize)
		p.Pairs++
		if sim >= p.Threshold {
			p.AtOrAbove++
		}
		p.Samples = append(p.Samples, PairSample{DedupID: r.DedupID, KeptDedupID: r.KeptDedupID, OriginalID: r.OriginalID,
			KeptOriginalID: r.KeptOriginalID, GroupSize: r.GroupSize, Similarity: sim, LedgerSimilarity: r.Similarity, LedgerMethod: r.SimilarityMethod})
	}
	if p.Pairs > 0 {
		p.Precision = float64(p.AtOrAbove) / float64(p.Pairs)
		p.Low, p.High = wilson(p.AtOrAbove, p.Pairs)
	}
	slices.SortStableFunc(p.Samples, func(a, b PairSample) int { return cmp.Compare(a.Similarity, b.Similarity) })
	return p
}

// wilson is the Wilson score 95% interval of k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / d
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / d
	return max(0, mid-half), min(1, mid+half)
}

// sampler keeps a uniform sample of groups (those whose hashed ids are
// smallest) and, in each, the members whose hashed ids are smallest,
// streaming over the ledger in memory proportional to the sample.
type sampler struct {
	k, m   int
	groups map[int64]*sampledGroup
	order  groupHeap // the sampled groups, largest hash on top
}

type sampledGroup struct {
	id   int64
	hash uint64
	rows []ledger.Row
}

func newSampler(k, m int) *sampler {
	return &sampler{k: k, m: m, groups: make(map[int64]*sampledGroup)}
}

func sampleHash(id int64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(id))
	return xxh3.HashSeed(b[:], 0x5a5a_1ce5)
}

func (s *sampler) add(r ledger.Row) {
	g, ok := s.groups[r.GroupID]
	if !ok {
		h := sampleHash(r.GroupID)
		if len(s.groups) == s.k {
			if s.k == 0 || h >= s.order[0].hash {
				return
			}
			evicted := heap.Pop(&s.order).(*sampledGroup)
			delete(s.groups, evicted.id)
		}
		g = &sampledGroup{id: r.GroupID, hash: h}
		s.groups[r.GroupID] = g
		heap.Push(&s.order, g)
	}
	g.rows = append(g.rows, r)
	if len(g.rows) > s.m {
		slices.SortFunc(g.rows, func(a, b ledger.Row) int { return cmp.Compare(sampleHash(a.DedupID), sampleHash(b.DedupID)) })
		g.rows = g.rows[:s.m]
	}
}

func (s *sampler) numGroups() int { return len(s.groups) }

// rows returns the sampled rows, by group id and dedup id.
func (s *sampler) rows() []ledger.Row {
	var out []ledger.Row
	for _, g := range s.groups {
		out = append(out, g.rows...)
	}
	slices.SortFunc(out, func(a, b ledger.Row) int {
		if c := cmp.Compare(a.GroupID, b.GroupID); c != 0 {
			return c
		}
		return cmp.Compare(a.DedupID, b.DedupID)
	})
	return out
}

type groupHeap []*sampledGroup

func (h groupHeap) Len() int           { return len(h) }
func (h groupHeap) Less(i, j int) bool { return h[i].hash > h[j].hash }
func (h groupHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *groupHeap) Push(x any)        { *h = append(*h, x.(*sampledGroup)) }
func (h *groupHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
