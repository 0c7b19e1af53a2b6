package fuzzy

import (
	"fmt"
	"strconv"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/report"
)

// ReportDoc is the report of a run, built from its summary alone.
func ReportDoc(s *Summary) report.Doc {
	doc := report.Doc{Title: "Sluice fuzzy deduplication report", Generator: "sluice " + s.SluiceVersion,
		Subtitle: fmt.Sprintf("%s · started %s, finished %s", s.Params.Output, s.StartedAt, s.FinishedAt)}
	doc.Sections = append(doc.Sections, resultSection(s), flow.SourcesSection(&s.Audit),
		flow.GroupsSection(&s.Audit, "Groups of near-duplicates by size (documents per group, the kept one included). In each group the earliest document in input order is kept."),
		flow.LargestSection(s.LargestGroups), similaritySection(s), precisionSection(s),
		flow.PhasesSection(s.Phases, s.WallSec, s.CPUSec, s.PeakRSSBytes),
		flow.ParamsSection(s.Params, s.SluiceVersion, s.ParamsHash, s.StartedAt, s.FinishedAt))
	return doc
}

func resultSection(s *Summary) report.Section {
	sec := report.Section{ID: "result", Title: "Result", Facts: []report.Fact{
		{Name: "records read", Value: report.Int(s.Records)},
		{Name: "records written", Value: report.Int(s.RecordsWritten)},
		{Name: "duplicates removed", Value: report.Int(s.Duplicates) + " (" + report.Percent(s.Duplicates, s.Records) + ")", Class: "bad"},
		{Name: "documents kept", Value: report.Int(s.Kept), Class: "good"},
		{Name: "groups of duplicates", Value: report.Int(flow.GroupCount(&s.Audit))},
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
