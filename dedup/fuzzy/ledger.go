package fuzzy

import (
	"context"
	"fmt"

	"github.com/sluice-data/sluice/dedup/fuzzy/cc"
	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
)

// LedgerConfig configures the removal ledger the components stage writes
// (package dedup/ledger): each rank writes one row per duplicate it owns,
// naming the group's kept document (its smallest id, the component label),
// the group's size and the similarity of the two documents.
type LedgerConfig struct {
	// IDMap is the ids phase's id_map.json: every input file with its id
	// range, to name each document's file and record.
	IDMap string `json:"id_map"`
	// Stores are the MinHash tasks' stores: signatures (the estimated
	// similarity), shingles when kept (the exact similarity), and original
	// ids.
	Stores   []SigStoreRef `json:"stores"`
	NumPerm  int           `json:"num_perm"`
	HashBits int           `json:"hash_bits"`
	// ParamsHash goes into every row (ledger.ParamsHash of paramsForHash).
	ParamsHash string `json:"params_hash"`
}

// ledgerSources are the stores a rank reads to fill ledger rows.
type ledgerSources struct {
	files []flow.FileRange
	sigs  *sigStores
	exact *shingleStores // nil unless the run kept shingles
	ids   *idStores
	a     []byte
	bits  int
}

func openLedgerSources(ctx context.Context, lc LedgerConfig, scratch string) (*ledgerSources, error) {
	files, err := flow.ReadIDMap(lc.IDMap, "")
	if err != nil {
		return nil, err
	}
	src := &ledgerSources{files: files, bits: lc.HashBits}
	if src.sigs, err = openSigStores(ctx, lc.Stores, lc.NumPerm*lc.HashBits/8, scratch); err != nil {
		return nil, err
	}
	if len(lc.Stores) > 0 && lc.Stores[0].Shingles != "" {
		if src.exact, err = openShingleStores(ctx, lc.Stores, scratch); err != nil {
			src.close()
			return nil, err
		}
	}
	if src.ids, err = openIDStores(ctx, lc.Stores, scratch); err != nil {
		src.close()
		return nil, err
	}
	return src, nil
}

func (s *ledgerSources) close() {
	if s.sigs != nil {
		s.sigs.close()
	}
	if s.exact != nil {
		s.exact.close()
	}
	if s.ids != nil {
		s.ids.close()
	}
}

// similarity of documents a and b: the exact Jaccard of their shingle-hash
// sets when the run kept shingles, else the fraction of equal signature
// values.
func (s *ledgerSources) similarity(a, b int64) (float64, string, error) {
	if s.exact != nil {
		j, err := s.exact.jaccard(a, b)
		return j, ledger.SimilarityExact, err
	}
	ra, err := s.sigs.read(a)
	if err != nil {
		return 0, "", err
	}
	s.a = append(s.a[:0], ra...)
	rb, err := s.sigs.read(b)
	if err != nil {
		return 0, "", err
	}
	return matchFraction(s.a, rb, s.bits), ledger.SimilarityEstimated, nil
}

// keptDoc is what a ledger row says about a group's kept document.
type keptDoc struct {
	orig   *string
	file   string
	record int64
}

// writeLedgerPart writes the ledger rows of the duplicates among labels
// (sorted by node, so the part is sorted by dedup id) to path. totals holds
// the size of every group the labels name. Memory: the stores are read with
// positioned reads; a cache of kept documents is bounded.
func writeLedgerPart(ctx context.Context, lc LedgerConfig, scratch, path string, labels []cc.Label, totals map[int64]int64) error {
	src, err := openLedgerSources(ctx, lc, scratch)
	if err != nil {
		return err
	}
	defer src.close()
	w, err := ledger.Create(path)
	if err != nil {
		return err
	}
	kept := make(map[int64]keptDoc)
	for i, l := range labels {
		if l.Node == l.Group {
			continue
		}
		if i%4096 == 0 && ctx.Err() != nil {
			w.Abort()
			return ctx.Err()
		}
		row, err := src.row(l, totals[l.Group], lc.ParamsHash, kept)
		if err == nil {
			err = w.Write(row)
		}
		if err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// row builds the ledger row of duplicate l.Node, whose group has size
// members; kept caches the groups' kept documents (emptied when large).
func (s *ledgerSources) row(l cc.Label, size int64, paramsHash string, kept map[int64]keptDoc) (ledger.Row, error) {
	if size < 2 {
		return ledger.Row{}, fmt.Errorf("ledger: group %d of document %d has no size (internal error)", l.Group, l.Node)
	}
	sim, method, err := s.similarity(l.Node, l.Group)
	if err != nil {
		return ledger.Row{}, err
	}
	orig, err := s.ids.read(l.Node)
	if err != nil {
		return ledger.Row{}, err
	}
	orig = flow.IDText(orig)
	k, ok := kept[l.Group]
	if !ok {
		if k.orig, err = s.ids.read(l.Group); err != nil {
			return ledger.Row{}, err
		}
		k.orig = flow.IDText(k.orig)
		k.file, k.record = flow.LocateID(s.files, l.Group)
		if len(kept) >= 1<<16 {
			clear(kept)
		}
		kept[l.Group] = k
	}
	file, record := flow.LocateID(s.files, l.Node)
	return ledger.Row{OriginalID: orig, KeptOriginalID: k.orig, GroupID: l.Group, GroupSize: size,
		Similarity: sim, SimilarityMethod: method, Dedup: ledger.DedupFuzzy, ParamsHash: paramsHash,
		DedupID: l.Node, KeptDedupID: l.Group, File: file, Record: record, KeptFile: k.file, KeptRecord: k.record}, nil
}

// SimilarityBins is the number of bins of a SimilarityHistogram.
const SimilarityBins = 20

// SimilarityHistogram counts pairs of documents by similarity, in
// SimilarityBins bins of width 1/SimilarityBins ([0, 0.05), …, [0.95, 1]),
// apart by how the similarity was obtained.
type SimilarityHistogram struct {
	// Exact counts pairs whose exact shingle Jaccard was computed.
	Exact []int64 `json:"exact"`
	// Estimated counts pairs whose similarity was estimated from their
	// MinHash signatures.
	Estimated []int64 `json:"estimated"`
}

func newSimilarityHistogram() *SimilarityHistogram {
	return &SimilarityHistogram{Exact: make([]int64, SimilarityBins), Estimated: make([]int64, SimilarityBins)}
}

func (h *SimilarityHistogram) add(sim float64, exact bool) {
	k := min(max(int(sim*SimilarityBins), 0), SimilarityBins-1)
	if exact {
		h.Exact[k]++
	} else {
		h.Estimated[k]++
	}
}

func (h *SimilarityHistogram) merge(o *SimilarityHistogram) {
	for k := range SimilarityBins {
		if k < len(o.Exact) {
			h.Exact[k] += o.Exact[k]
		}
		if k < len(o.Estimated) {
			h.Estimated[k] += o.Estimated[k]
		}
	}
}

// Total is the number of pairs counted.
func (h *SimilarityHistogram) Total() int64 {
	var n int64
	for k := range h.Exact {
		n += h.Exact[k] + h.Estimated[k]
	}
	return n
}

// encodeSizeHistogram is the histogram of the group sizes in owned
// (flow.SizeHistogram, encoded).
func encodeSizeHistogram(owned map[int64]int64) string {
	var h flow.SizeHistogram
	for _, n := range owned {
		h.Add(n)
	}
	return h.Encode()
}
