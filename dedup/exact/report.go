package exact

import (
	"fmt"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/report"
)

// ReportDoc is the report of a run (report.html), built from its summary
// alone: every number in it is one of summary.json's.
func ReportDoc(s *Summary) report.Doc {
	doc := report.Doc{Title: "Sluice exact deduplication report", Generator: "sluice " + s.SluiceVersion,
		Subtitle: fmt.Sprintf("%s · started %s, finished %s", s.Params.Output, s.StartedAt, s.FinishedAt)}
	what := "the MD5 of the text's UTF-8 bytes"
	if s.Params.Normalize {
		what = "the MD5 of the normalised text (lower-cased, punctuation and white space collapsed)"
	}
	doc.Sections = append(doc.Sections, resultSection(s), flow.SourcesSection(&s.Audit),
		flow.GroupsSection(&s.Audit, "Groups of documents with equal texts ("+what+") by size (documents per group, the kept one included). "+
			"In each group the earliest document in input order is kept."),
		flow.LargestSection(s.LargestGroups), flow.PhasesSection(s.Phases, s.WallSec, s.CPUSec, s.PeakRSSBytes),
		flow.ParamsSection(s.Params, s.SluiceVersion, s.ParamsHash, s.StartedAt, s.FinishedAt))
	return doc
}

func resultSection(s *Summary) report.Section {
	sec := report.Section{ID: "result", Title: "Result", Facts: []report.Fact{
		{Name: "records read", Value: report.Int(s.Records)},
		{Name: "records written", Value: report.Int(s.RecordsWritten)},
		{Name: "duplicates removed", Value: report.Int(s.Duplicates) + " (" + report.Percent(s.Duplicates, s.Records) + ")", Class: "bad"},
		{Name: "documents kept", Value: report.Int(s.Kept), Class: "good"},
		{Name: "groups of duplicates", Value: report.Int(s.DuplicateGroups)},
		{Name: "ledger rows", Value: report.Int(s.LedgerRows)},
		{Name: "bad records (kept, quarantined)", Value: report.Int(s.BadRecords)},
		{Name: "empty documents", Value: report.Int(s.EmptyDocuments)},
		{Name: "text bytes", Value: report.Bytes(s.TextBytes)},
		{Name: "wall time", Value: report.Seconds(s.WallSec)},
		{Name: "CPU time", Value: report.Seconds(s.CPUSec)},
		{Name: "peak RSS", Value: report.Bytes(s.PeakRSSBytes)},
	}}
	if s.Params.NoRemove {
		sec.Notes = append(sec.Notes, "--no-remove: the deduplicated dataset was not written; \"removed\" counts the duplicates found.")
	}
	same := "Every removed document's text is byte-identical to the kept one's (similarity 1)."
	if s.Params.Normalize {
		same = "Every removed document's text equals the kept one's once normalised (--normalize; similarity 1)."
	}
	sec.Notes = append(sec.Notes, "Every number in this report is in summary.json; the removals are listed one per row in "+ledger.Dir+
		"/ (sluice explain --output DIR ID shows one). "+same)
	return sec
}
