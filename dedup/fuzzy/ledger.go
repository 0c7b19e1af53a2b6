package fuzzy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"sort"

	"github.com/sluice-data/sluice/dedup/fuzzy/cc"
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

// idMapFile is the layout of id_map.json (see assignIDs).
type idMapFile struct {
	TotalIDs int64 `json:"total_ids"`
	Groups   []struct {
		Files []fileRange `json:"files"`
	} `json:"groups"`
}

// readIDMap reads id_map.json's files, ordered by first id.
func readIDMap(path string) ([]fileRange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("id map: %w", err)
	}
	var m idMapFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("id map %s: %w", path, err)
	}
	var files []fileRange
	for _, g := range m.Groups {
		files = append(files, g.Files...)
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Base < files[j].Base })
	return files, nil
}

// locateID returns the file holding document id and its 1-based record
// number, or "" when no file's range holds it.
func locateID(files []fileRange, id int64) (string, int64) {
	i := fileIndex(files, id)
	if i < 0 {
		return "", 0
	}
	return files[i].Path, id - files[i].Base + 1
}

// fileIndex is the index of the file (of files, ordered by first id)
// whose range holds id, or -1.
func fileIndex(files []fileRange, id int64) int {
	i := sort.Search(len(files), func(i int) bool { return files[i].Base+files[i].Count > id })
	if i == len(files) || id < files[i].Base {
		return -1
	}
	return i
}

// ledgerSources are the stores a rank reads to fill ledger rows.
type ledgerSources struct {
	files []fileRange
	sigs  *sigStores
	exact *shingleStores // nil unless the run kept shingles
	ids   *idStores
	a     []byte
	bits  int
}

func openLedgerSources(lc LedgerConfig) (*ledgerSources, error) {
	files, err := readIDMap(lc.IDMap)
	if err != nil {
		return nil, err
	}
	src := &ledgerSources{files: files, bits: lc.HashBits}
	if src.sigs, err = openSigStores(lc.Stores, lc.NumPerm*lc.HashBits/8); err != nil {
		return nil, err
	}
	if len(lc.Stores) > 0 && lc.Stores[0].Shingles != "" {
		if src.exact, err = openShingleStores(lc.Stores); err != nil {
			src.close()
			return nil, err
		}
	}
	if src.ids, err = openIDStores(lc.Stores); err != nil {
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
func writeLedgerPart(ctx context.Context, lc LedgerConfig, path string, labels []cc.Label, totals map[int64]int64) error {
	src, err := openLedgerSources(lc)
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
	orig = idText(orig)
	k, ok := kept[l.Group]
	if !ok {
		if k.orig, err = s.ids.read(l.Group); err != nil {
			return ledger.Row{}, err
		}
		k.orig = idText(k.orig)
		k.file, k.record = locateID(s.files, l.Group)
		if len(kept) >= 1<<16 {
			clear(kept)
		}
		kept[l.Group] = k
	}
	file, record := locateID(s.files, l.Node)
	return ledger.Row{OriginalID: orig, KeptOriginalID: k.orig, GroupID: l.Group, GroupSize: size,
		Similarity: sim, SimilarityMethod: method, Dedup: ledger.DedupFuzzy, ParamsHash: paramsHash,
		DedupID: l.Node, KeptDedupID: l.Group, File: file, Record: record, KeptFile: k.file, KeptRecord: k.record}, nil
}

// SizeBin is one bar of the histogram of duplicate-group sizes: the groups
// of Min to Max documents (kept ones included) and their documents.
type SizeBin struct {
	Min       int64 `json:"min"`
	Max       int64 `json:"max"`
	Groups    int64 `json:"groups"`
	Documents int64 `json:"documents"`
}

// sizeBin is the bin of a group of n ≥ 2 documents: 2, 3 and 4 alone, then
// 5–8, 9–16, … (powers of two).
func sizeBin(n int64) int {
	if n <= 4 {
		return int(max(n, 2) - 2)
	}
	return bits.Len64(uint64(n - 1))
}

// sizeBinBounds is the range of sizes of bin k.
func sizeBinBounds(k int) (lo, hi int64) {
	if k < 3 {
		return int64(k + 2), int64(k + 2)
	}
	return 1<<(k-1) + 1, 1 << k
}

// encodeSizeHistogram is the histogram of the sizes in owned, as JSON
// [[groups, documents], …] indexed by bin.
func encodeSizeHistogram(owned map[int64]int64) string {
	var h [][2]int64
	for _, n := range owned {
		k := sizeBin(n)
		for len(h) <= k {
			h = append(h, [2]int64{})
		}
		h[k][0]++
		h[k][1] += n
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// addSizeHistogram adds an encoded histogram to bins (every bin from size
// 2 to the largest non-empty one).
func addSizeHistogram(bins []SizeBin, enc string) ([]SizeBin, error) {
	if enc == "" {
		return bins, nil
	}
	var h [][2]int64
	if err := json.Unmarshal([]byte(enc), &h); err != nil {
		return nil, fmt.Errorf("group-size histogram: %w", err)
	}
	for k, v := range h {
		for len(bins) <= k {
			lo, hi := sizeBinBounds(len(bins))
			bins = append(bins, SizeBin{Min: lo, Max: hi})
		}
		bins[k].Groups += v[0]
		bins[k].Documents += v[1]
	}
	return bins, nil
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
