package fuzzy

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-data/sluice/dedup/ledger"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/report"
)

// writeReport writes OUTPUT/report.html from the summary (and sets
// sum.Report): every number in it is one of summary.json's.
func writeReport(dst *dataio.Output, sum *Summary) error {
	sum.Report = filepath.Join(sum.Params.Output, "report.html")
	b, err := report.Render(ReportDoc(sum))
	if err != nil {
		return err
	}
	return writeToOutput(dst, "report.html", func(path string) error { return writeFileAtomic(path, b) })
}

// ReportDoc is the report of a run, built from its summary alone.
func ReportDoc(s *Summary) report.Doc {
	doc := report.Doc{Title: "Sluice fuzzy deduplication report", Generator: "sluice " + s.SluiceVersion,
		Subtitle: fmt.Sprintf("%s · started %s, finished %s", s.Params.Output, s.StartedAt, s.FinishedAt)}
	doc.Sections = append(doc.Sections, resultSection(s), sourcesSection(s), groupsSection(s), largestSection(s),
		similaritySection(s), precisionSection(s), phasesSection(s), paramsSection(s))
	return doc
}

func resultSection(s *Summary) report.Section {
	sec := report.Section{ID: "result", Title: "Result", Facts: []report.Fact{
		{Name: "records read", Value: report.Int(s.Records)},
		{Name: "records written", Value: report.Int(s.RecordsWritten)},
		{Name: "duplicates removed", Value: report.Int(s.Duplicates) + " (" + report.Percent(s.Duplicates, s.Records) + ")", Class: "bad"},
		{Name: "documents kept", Value: report.Int(s.Kept), Class: "good"},
		{Name: "groups of duplicates", Value: report.Int(groupCount(s))},
		{Name: "ledger rows", Value: report.Int(s.LedgerRows)},
		{Name: "bad records (kept, quarantined)", Value: report.Int(s.BadRecords)},
		{Name: "empty documents (kept)", Value: report.Int(s.EmptyDocuments)},
		{Name: "candidate edges", Value: report.Int(s.CandidateEdges)},
		{Name: "wall time", Value: report.Seconds(s.WallSec)},
		{Name: "CPU time", Value: report.Seconds(s.CPUSec)},
		{Name: "peak RSS", Value: report.Bytes(s.PeakRSSBytes)},
	}}
	if s.Params.VerifyThreshold > 0 {
		sec.Facts = append(sec.Facts, report.Fact{Name: "pairs rejected by verification", Value: report.Int(s.RejectedPairs)})
	}
	if s.Params.NoRemove {
		sec.Notes = append(sec.Notes, "--no-remove: the deduplicated dataset was not written; \"removed\" counts the duplicates found.")
	}
	sec.Notes = append(sec.Notes, "Every number in this report is in summary.json; the removals are listed one per row in "+ledger.Dir+
		"/ (sluice explain --output DIR ID shows one).")
	return sec
}

func groupCount(s *Summary) int64 {
	var n int64
	for _, b := range s.GroupSizes {
		n += b.Groups
	}
	return n
}

func sourcesSection(s *Summary) report.Section {
	sec := report.Section{ID: "sources", Title: "Documents per input",
		Intro: "Records read from each input file (or source directory), split into those kept and those removed as duplicates."}
	ch := report.Chart{ID: "sources", Title: "Kept and removed records per input", Kind: report.Rows, XLabel: "records",
		Series: []report.Series{{Name: "kept", Class: "kept"}, {Name: "removed", Class: "removed"}}}
	t := report.Table{ID: "sources-table", Head: []string{"input", "files", "records", "removed", "removed %", "kept"}, Numeric: []bool{false, true, true, true, true, true}}
	for _, src := range s.Sources {
		ch.Bars = append(ch.Bars, report.Bar{Label: src.Name, Values: []float64{float64(src.Kept), float64(src.Removed)}})
		t.Rows = append(t.Rows, []report.Cell{{Text: src.Name, Class: "mono"}, {Text: report.Int(src.Files)}, {Text: report.Int(src.Records)},
			{Text: report.Int(src.Removed)}, {Text: report.Percent(src.Removed, src.Records)}, {Text: report.Int(src.Kept)}})
	}
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

func groupsSection(s *Summary) report.Section {
	sec := report.Section{ID: "groups", Title: "Duplicate groups",
		Intro: "Groups of near-duplicates by size (documents per group, the kept one included). In each group the earliest document in input order is kept."}
	ch := report.Chart{ID: "cluster-sizes", Title: "Groups by size", Kind: report.Columns, XLabel: "documents in the group", YLabel: "groups",
		Series: []report.Series{{Name: "groups", Class: "s0"}}}
	t := report.Table{ID: "cluster-sizes-table", Head: []string{"group size", "groups", "documents", "removed"}, Numeric: []bool{false, true, true, true}}
	for _, b := range s.GroupSizes {
		label := strconv.FormatInt(b.Min, 10)
		if b.Max != b.Min {
			label += "–" + strconv.FormatInt(b.Max, 10)
		}
		ch.Bars = append(ch.Bars, report.Bar{Label: label, Values: []float64{float64(b.Groups)}})
		t.Rows = append(t.Rows, []report.Cell{{Text: label}, {Text: report.Int(b.Groups)}, {Text: report.Int(b.Documents)}, {Text: report.Int(b.Documents - b.Groups)}})
	}
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

func largestSection(s *Summary) report.Section {
	sec := report.Section{ID: "largest", Title: "Largest groups",
		Intro: "The largest groups of duplicates, with the kept document and the earliest removed ones."}
	t := report.Table{ID: "largest-table", Head: []string{"group", "size", "member", "original id", "file:record", "text"}, Numeric: []bool{true, true}}
	for _, g := range s.LargestGroups {
		if len(g.Members) == 0 {
			t.Rows = append(t.Rows, []report.Cell{{Text: strconv.FormatInt(g.Group, 10)}, {Text: report.Int(g.Size)}, {Text: "(members not named in summary.json)", Class: "text"}, {}, {}, {}})
			continue
		}
		for i, m := range g.Members {
			group, size := report.Cell{}, report.Cell{}
			if i == 0 {
				group, size = report.Cell{Text: strconv.FormatInt(g.Group, 10)}, report.Cell{Text: report.Int(g.Size)}
			}
			role := report.Cell{Text: "removed", Class: "removed"}
			if m.Kept {
				role = report.Cell{Text: "kept", Class: "kept"}
			}
			loc := fmt.Sprintf("%s:%d", m.File, m.Record)
			t.Rows = append(t.Rows, []report.Cell{group, size, role, {Text: originalIDString(m.OriginalID), Class: "mono"},
				{Text: report.Shorten(filepath.Base(m.File), 40) + fmt.Sprintf(":%d", m.Record), Class: "mono", Title: loc},
				{Text: report.Shorten(m.TextStart, 160), Class: "text", Title: m.TextStart}})
		}
	}
	if len(t.Rows) == 0 {
		sec.Notes = append(sec.Notes, "No duplicates were found.")
		return sec
	}
	sec.Tables = []report.Table{t}
	return sec
}

// originalIDString shows an original id (JSON) as the ledger does.
func originalIDString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "—"
	}
	return ledger.Str(ledger.IDText(string(raw)))
}

func similarityBars(h *SimilarityHistogram) []report.Bar {
	var bars []report.Bar
	for k := range SimilarityBins {
		bars = append(bars, report.Bar{Label: strconv.FormatFloat(float64(k)/SimilarityBins, 'f', 2, 64),
			Values: []float64{float64(h.Exact[k]), float64(h.Estimated[k])}})
	}
	return bars
}

func similaritySection(s *Summary) report.Section {
	sec := report.Section{ID: "similarity", Title: "Similarity"}
	series := []report.Series{{Name: "exact Jaccard", Class: "exact"}, {Name: "estimated (MinHash)", Class: "estimated"}}
	if h := s.RemovedSimilarity; h != nil && h.Total() > 0 {
		sec.Charts = append(sec.Charts, report.Chart{ID: "removed-similarity", Title: "Removed documents by similarity to the kept document of their group (ledger)",
			Kind: report.Columns, Series: series, Bars: similarityBars(h), XLabel: "similarity (bins of 0.05, lower bound shown)", YLabel: "documents"})
	}
	if h := s.CandidateSimilarity; h != nil {
		t := s.Params.VerifyThreshold
		sec.Charts = append(sec.Charts, report.Chart{ID: "candidate-similarity", Title: "Candidate pairs compared by verification",
			Kind: report.Columns, Series: series, Bars: similarityBars(h), XLabel: "similarity (bins of 0.05, lower bound shown)", YLabel: "pair comparisons",
			Ref: &t, RefLabel: "threshold " + strconv.FormatFloat(t, 'g', 3, 64)})
		sec.Notes = append(sec.Notes, "Verification compares each document of an LSH bucket with the earlier ones until one reaches the threshold. "+
			"Pairs whose signature estimate is far from the threshold are decided by the estimate; the others by the exact shingle Jaccard. "+
			"A pair that shares several bands is compared once per band.")
	} else {
		sec.Notes = append(sec.Notes, "Verification was off (no --verify-threshold): no candidate-pair similarities were computed. Similarities in the ledger are estimated from the signatures.")
	}
	return sec
}

func precisionSection(s *Summary) report.Section {
	sec := report.Section{ID: "precision", Title: "Estimated precision"}
	p := s.Precision
	if p == nil {
		sec.Notes = []string{"No duplicates were found: nothing to sample."}
		return sec
	}
	source := "--verify-threshold"
	if p.ThresholdSource == "lsh_midpoint" {
		source = fmt.Sprintf("no --verify-threshold: the LSH curve's midpoint (1/%d)^(1/%d)", s.Params.Bands, s.Params.Rows)
	}
	sec.Intro = fmt.Sprintf("A sample of %d groups: for each sampled removed document, the texts of it and of its kept document were read again "+
		"and their exact shingle Jaccard (%d-character shingles%s) compared with the threshold %.3f (%s).",
		p.Groups, s.Params.CharNgrams, map[bool]string{true: ", normalised text", false: ""}[s.Params.Normalize], p.Threshold, source)
	sec.Facts = []report.Fact{
		{Name: "estimated precision", Value: fmt.Sprintf("%.1f%%", 100*p.Precision), Class: "good"},
		{Name: "95% interval (Wilson)", Value: fmt.Sprintf("%.1f%% – %.1f%%", 100*p.Low, 100*p.High)},
		{Name: "pairs at or above the threshold", Value: fmt.Sprintf("%d of %d", p.AtOrAbove, p.Pairs)},
		{Name: "groups sampled", Value: strconv.Itoa(p.Groups)},
	}
	if p.Unreadable > 0 {
		sec.Facts = append(sec.Facts, report.Fact{Name: "pairs not readable again", Value: strconv.Itoa(p.Unreadable), Class: "bad"})
	}
	ch := report.Chart{ID: "precision-sample", Title: "Sampled pairs by exact similarity", Kind: report.Strip, XLabel: "exact shingle Jaccard",
		Ref: &p.Threshold, RefLabel: "threshold"}
	t := report.Table{ID: "precision-table", Caption: "The least similar sampled pairs",
		Head: []string{"removed", "kept", "group size", "exact similarity", "ledger similarity"}, Numeric: []bool{false, false, true, true, true}}
	for i, x := range p.Samples {
		class := ""
		if x.Similarity < p.Threshold {
			class = "low"
		}
		ch.Points = append(ch.Points, report.Point{X: x.Similarity, Class: class,
			Tip: fmt.Sprintf("%s → %s: %.3f", idOrDedup(x.OriginalID, x.DedupID), idOrDedup(x.KeptOriginalID, x.KeptDedupID), x.Similarity)})
		if i < 8 {
			t.Rows = append(t.Rows, []report.Cell{{Text: idOrDedup(x.OriginalID, x.DedupID), Class: "mono"}, {Text: idOrDedup(x.KeptOriginalID, x.KeptDedupID), Class: "mono"},
				{Text: report.Int(x.GroupSize)}, {Text: strconv.FormatFloat(x.Similarity, 'f', 3, 64)},
				{Text: strconv.FormatFloat(x.LedgerSimilarity, 'f', 3, 64) + " (" + x.LedgerMethod + ")"}})
		}
	}
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

func idOrDedup(orig *string, dedupID int64) string {
	if orig != nil {
		return *orig
	}
	return "#" + strconv.FormatInt(dedupID, 10)
}

func phasesSection(s *Summary) report.Section {
	sec := report.Section{ID: "phases", Title: "Time and CPU per phase"}
	ch := report.Chart{ID: "phases", Title: "Wall and CPU seconds per phase", Kind: report.Rows, Grouped: true, XLabel: "seconds", Unit: " s",
		Series: []report.Series{{Name: "wall", Class: "wall"}, {Name: "CPU", Class: "cpu"}}}
	t := report.Table{ID: "phases-table", Head: []string{"phase", "wall", "CPU", "CPU / wall", "note"}, Numeric: []bool{false, true, true, true}}
	for _, p := range s.Phases {
		ch.Bars = append(ch.Bars, report.Bar{Label: p.Name, Values: []float64{p.WallSec, p.CPUSec}})
		note, ratio := "", "–"
		if p.Resumed {
			note = "resumed from the cache"
		}
		if p.WallSec > 0 {
			ratio = strconv.FormatFloat(p.CPUSec/p.WallSec, 'f', 2, 64)
		}
		t.Rows = append(t.Rows, []report.Cell{{Text: p.Name}, {Text: report.Seconds(p.WallSec)}, {Text: report.Seconds(p.CPUSec)}, {Text: ratio}, {Text: note}})
	}
	t.Rows = append(t.Rows, []report.Cell{{Text: "total"}, {Text: report.Seconds(s.WallSec)}, {Text: report.Seconds(s.CPUSec)}, {Text: "–"}, {Text: "peak RSS " + report.Bytes(s.PeakRSSBytes)}})
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

func paramsSection(s *Summary) report.Section {
	sec := report.Section{ID: "parameters", Title: "Parameters and version", Facts: []report.Fact{
		{Name: "Sluice version", Value: s.SluiceVersion, Class: "mono"},
		{Name: "parameter hash (ledger params_hash)", Value: s.ParamsHash, Class: "mono"},
		{Name: "started", Value: s.StartedAt}, {Name: "finished", Value: s.FinishedAt},
	}}
	b, _ := json.Marshal(s.Params)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	t := report.Table{ID: "params-table", Head: []string{"parameter", "value"}}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Rows = append(t.Rows, []report.Cell{{Text: k, Class: "mono"}, {Text: strings.TrimSpace(string(m[k])), Class: "mono"}})
	}
	sec.Tables = []report.Table{t}
	return sec
}
