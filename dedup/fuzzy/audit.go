package fuzzy

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/zeebo/xxh3"

	"github.com/sluice-data/sluice/dedup/ledger"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// Audit is what a run finds out about its own result, for summary.json
// and report.html: the removal ledger, where the removals come from, the
// shape of the groups, and a measured precision. Summary embeds it.
type Audit struct {
	// ParamsHash identifies the parameters that decide the removals (the
	// ledger's params_hash column).
	ParamsHash string `json:"params_hash"`
	// Ledger is the removal ledger's directory and LedgerRows its rows: one
	// per duplicate (checked).
	Ledger     string `json:"ledger,omitempty"`
	LedgerRows int64  `json:"ledger_rows"`
	// Sources counts records, removals and kept records per input file or,
	// with many files, per source directory (see sourceStats).
	Sources []SourceStats `json:"sources,omitempty"`
	// GroupSizes is the histogram of the duplicate groups' sizes.
	GroupSizes []SizeBin `json:"group_size_histogram"`
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
	// Report is the run's report.html.
	Report string `json:"report,omitempty"`
	// WorkDir is the run's working directory: relative input paths (in
	// id_map.json, the ledger and this summary) are relative to it.
	WorkDir string `json:"work_dir,omitempty"`
}

// SourceStats counts one input file, or a source directory of files.
type SourceStats struct {
	// Name is a file's path relative to the inputs' common directory, or a
	// directory's, ending in "/", or "(other files)".
	Name    string `json:"name"`
	Files   int64  `json:"files"`
	Records int64  `json:"records"`
	Removed int64  `json:"removed"`
	Kept    int64  `json:"kept"`
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

// Sample sizes of the precision estimate, and the text kept per member of
// the largest groups.
const (
	sampleGroups     = 30
	sampleMembers    = 3
	textStartRunes   = 200
	maxSourcesListed = 50
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
	return &LedgerConfig{IDMap: filepath.Join(root, "ids", "id_map.json"), Stores: stores, NumPerm: c.Bands * c.Rows,
		HashBits: c.HashBits, ParamsHash: paramsHash}, nil
}

// audit copies the ledger parts the components phase wrote into the
// output (OUTPUT/ledger/), checks that it has one row per duplicate, and
// fills the Audit: sources, histograms, the precision sample, and the
// first characters of the largest groups' named members.
func (w *Workflow) audit(ctx context.Context, c Config, dst *dataio.Output, sum *Summary, ccOut, lshOut, idTasks []task.Task) error {
	var parts []string
	for _, t := range ccOut {
		fg := t.(*task.FileGroup)
		if len(fg.Paths) < 3 {
			return fmt.Errorf("components: task %s names no ledger part", t.ID())
		}
		parts = append(parts, fg.Paths[2])
		var err error
		if sum.GroupSizes, err = addSizeHistogram(sum.GroupSizes, t.Meta()[metaSizeHist]); err != nil {
			return err
		}
	}
	sort.Strings(parts)
	var out []string
	for _, p := range parts {
		rel := ledger.Dir + "/" + filepath.Base(p)
		if err := copyToOutput(dst, []string{p}, rel); err != nil {
			return err
		}
		out = append(out, filepath.Join(c.Output, filepath.FromSlash(rel)))
	}
	sum.Ledger = filepath.Join(c.Output, ledger.Dir)
	sum.WorkDir, _ = os.Getwd()
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
	var files []fileRange
	for _, t := range idTasks {
		fr, err := fileRanges(t)
		if err != nil {
			return err
		}
		files = append(files, fr...)
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Base < files[j].Base })
	smp, removed, err := scanLedger(ctx, sum, out, files, sampleGroups)
	if err != nil {
		return err
	}
	if sum.LedgerRows != sum.Duplicates {
		return fmt.Errorf("removal ledger: %d rows for %d duplicates", sum.LedgerRows, sum.Duplicates)
	}
	sum.Sources = sourceStats(files, removed, commonDir(fileNames(files)))
	return w.readSamples(ctx, c, sum, files, smp)
}

func fileNames(files []fileRange) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// scanLedger reads the ledger once: its rows, the removals per file, the
// similarity of removed documents to kept ones, and a sample of groups.
func scanLedger(ctx context.Context, sum *Summary, parts []string, files []fileRange, groups int) (*sampler, []int64, error) {
	removed := make([]int64, len(files))
	smp := newSampler(groups, sampleMembers)
	sum.RemovedSimilarity = newSimilarityHistogram()
	err := ledger.Scan(ctx, parts, func(rows []ledger.Row) error {
		for _, r := range rows {
			sum.LedgerRows++
			if i := fileIndex(files, r.DedupID); i >= 0 {
				removed[i]++
			}
			sum.RemovedSimilarity.add(r.Similarity, r.SimilarityMethod == ledger.SimilarityExact)
			smp.add(r)
		}
		return nil
	})
	return smp, removed, err
}

// readSamples reads the texts of the sampled pairs and of the largest
// groups' named members, once, and fills the precision sample and the
// members' text starts.
func (w *Workflow) readSamples(ctx context.Context, c Config, sum *Summary, files []fileRange, smp *sampler) error {
	rows := smp.rows()
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.DedupID, r.KeptDedupID)
	}
	for _, g := range sum.LargestGroups {
		for _, m := range g.Members {
			ids = append(ids, m.DedupID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	texts, err := readTexts(ctx, files, c.TextField, ids)
	if err != nil {
		// The result stands; only its audit lacks the texts.
		w.logger().Warn("report: cannot read the sampled documents again", "err", err)
		texts = map[int64]string{}
	}
	for i := range sum.LargestGroups {
		for j := range sum.LargestGroups[i].Members {
			m := &sum.LargestGroups[i].Members[j]
			m.TextStart = textStart(texts[m.DedupID], textStartRunes)
		}
	}
	if len(rows) > 0 {
		sum.Precision = measurePrecision(c, rows, texts, smp.numGroups())
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

// textStart is the first n characters of s, with runs of white space
// collapsed.
func textStart(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n--
		}
		space = false
		if r == utf8.RuneError {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

// sourceStats counts records and removals per input file or, with more
// than maxSourcesListed files, per directory under root (its first path
// element); beyond maxSourcesListed entries the smallest are summed into
// "(other files)".
func sourceStats(files []fileRange, removed []int64, root string) []SourceStats {
	byName := map[string]*SourceStats{}
	var names []string
	perFile := len(files) <= maxSourcesListed
	for i, f := range files {
		name := filepath.ToSlash(outputRel(root, f.Path))
		if !perFile {
			if dir, _, ok := strings.Cut(name, "/"); ok {
				name = dir + "/"
			}
		}
		s := byName[name]
		if s == nil {
			s = &SourceStats{Name: name}
			byName[name] = s
			names = append(names, name)
		}
		s.Files++
		s.Records += f.Count
		s.Removed += removed[i]
		s.Kept = s.Records - s.Removed
	}
	out := make([]SourceStats, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	if len(out) <= maxSourcesListed {
		return out
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Records > out[j].Records })
	other := SourceStats{Name: "(other files)"}
	for _, s := range out[maxSourcesListed-1:] {
		other.Files += s.Files
		other.Records += s.Records
		other.Removed += s.Removed
		other.Kept += s.Kept
	}
	return append(out[:maxSourcesListed-1], other)
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
