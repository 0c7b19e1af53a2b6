package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluice-data/sluice/dedup/ledger"
	dataio "github.com/sluice-data/sluice/io"
)

// Audit is what a run finds out about its own result, for summary.json and
// report.html: the removal ledger, where the removals come from and the
// shape of the groups. Each workflow's summary embeds it (fuzzy dedup adds
// similarity histograms and a measured precision).
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

// maxSourcesListed bounds Audit.Sources; TextStartRunes is the length of a
// described member's TextStart.
const (
	maxSourcesListed = 50
	TextStartRunes   = 200
)

// AddLedger copies the ledger parts a phase wrote (one per rank, in the
// cache) into the output as ledger/part.N.parquet, reads them once, checks
// that they hold one row per duplicate, and fills the audit's ledger,
// sources and working directory. each, if set, sees every row. files are
// the input files ordered by first id (IDFiles).
func (a *Audit) AddLedger(ctx context.Context, c IO, dst *dataio.Output, parts []string, files []FileRange, duplicates int64, each func(ledger.Row)) error {
	parts = append([]string(nil), parts...)
	sort.Strings(parts)
	var out []string
	for _, p := range parts {
		rel := ledger.Dir + "/" + dataio.BaseOf(p)
		if err := CopyToOutput(dst, []string{p}, rel); err != nil {
			return err
		}
		out = append(out, dataio.JoinPath(c.Output, ledger.Dir, dataio.BaseOf(p)))
	}
	a.Ledger = dataio.JoinPath(c.Output, ledger.Dir)
	a.WorkDir, _ = os.Getwd()
	removed := make([]int64, len(files))
	a.LedgerRows = 0
	err := ledger.Scan(ctx, out, func(rows []ledger.Row) error {
		for _, r := range rows {
			a.LedgerRows++
			if i := FileIndex(files, r.DedupID); i >= 0 {
				removed[i]++
			}
			if each != nil {
				each(r)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("removal ledger: %w", err)
	}
	if a.LedgerRows != duplicates {
		return fmt.Errorf("removal ledger: %d rows for %d duplicates", a.LedgerRows, duplicates)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Path
	}
	a.Sources = sourceStats(files, removed, CommonDir(names))
	return nil
}

// ReadSampleTexts reads, once, the texts of the described members of
// groups and of the documents extra, and sets the members' TextStart. It
// returns the texts by dedup id. A failure is logged, not fatal (the
// result stands; only its audit lacks the texts): it returns an empty map.
func ReadSampleTexts(ctx context.Context, c IO, log *slog.Logger, files []FileRange, groups []LargestGroup, extra []int64) map[int64]string {
	ids := append([]int64(nil), extra...)
	for _, g := range groups {
		for _, m := range g.Members {
			ids = append(ids, m.DedupID)
		}
	}
	if len(ids) == 0 {
		return map[int64]string{}
	}
	texts, err := ReadTexts(ctx, files, c.TextField, ids)
	if err != nil {
		log.Warn("report: cannot read the sampled documents again", "err", err)
		return map[int64]string{}
	}
	for i := range groups {
		for j := range groups[i].Members {
			m := &groups[i].Members[j]
			m.TextStart = TextStart(texts[m.DedupID], TextStartRunes)
		}
	}
	return texts
}

// sourceStats counts records and removals per input file or, with more
// than maxSourcesListed files, per directory under root (its first path
// element); beyond maxSourcesListed entries the smallest are summed into
// "(other files)".
func sourceStats(files []FileRange, removed []int64, root string) []SourceStats {
	byName := map[string]*SourceStats{}
	var names []string
	perFile := len(files) <= maxSourcesListed
	for i, f := range files {
		name := filepath.ToSlash(OutputRel(root, f.Path))
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

// SizeHistogram counts groups by size bin, for a rank to report on its
// output task (Encode) and the driver to add up (AddSizeHistogram).
type SizeHistogram [][2]int64 // per bin: groups, documents

// Add counts a group of n documents.
func (h *SizeHistogram) Add(n int64) {
	k := sizeBin(n)
	for len(*h) <= k {
		*h = append(*h, [2]int64{})
	}
	(*h)[k][0]++
	(*h)[k][1] += n
}

// Encode is the histogram as JSON [[groups, documents], …] indexed by bin.
func (h SizeHistogram) Encode() string {
	if h == nil {
		h = SizeHistogram{}
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// AddSizeHistogram adds an encoded histogram to bins (every bin from size
// 2 to the largest non-empty one).
func AddSizeHistogram(bins []SizeBin, enc string) ([]SizeBin, error) {
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
