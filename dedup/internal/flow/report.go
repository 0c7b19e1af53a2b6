package flow

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/report"
)

// The sections of report.html both workflows show, built from their
// summaries alone: every number in a report is one of summary.json's.

// SourcesSection shows the records read, kept and removed per input file
// or source directory.
func SourcesSection(a *Audit) report.Section {
	sec := report.Section{ID: "sources", Title: "Documents per input",
		Intro: "Records read from each input file (or source directory), split into those kept and those removed as duplicates."}
	ch := report.Chart{ID: "sources", Title: "Kept and removed records per input", Kind: report.Rows, XLabel: "records",
		Series: []report.Series{{Name: "kept", Class: "kept"}, {Name: "removed", Class: "removed"}}}
	t := report.Table{ID: "sources-table", Head: []string{"input", "files", "records", "removed", "removed %", "kept"}, Numeric: []bool{false, true, true, true, true, true}}
	for _, src := range a.Sources {
		ch.Bars = append(ch.Bars, report.Bar{Label: src.Name, Values: []float64{float64(src.Kept), float64(src.Removed)}})
		t.Rows = append(t.Rows, []report.Cell{{Text: src.Name, Class: "mono"}, {Text: report.Int(src.Files)}, {Text: report.Int(src.Records)},
			{Text: report.Int(src.Removed)}, {Text: report.Percent(src.Removed, src.Records)}, {Text: report.Int(src.Kept)}})
	}
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

// GroupCount is the number of groups of duplicates in the histogram.
func GroupCount(a *Audit) int64 {
	var n int64
	for _, b := range a.GroupSizes {
		n += b.Groups
	}
	return n
}

// GroupsSection shows the histogram of group sizes; intro says what a
// group is.
func GroupsSection(a *Audit, intro string) report.Section {
	sec := report.Section{ID: "groups", Title: "Duplicate groups", Intro: intro}
	ch := report.Chart{ID: "cluster-sizes", Title: "Groups by size", Kind: report.Columns, XLabel: "documents in the group", YLabel: "groups",
		Series: []report.Series{{Name: "groups", Class: "s0"}}}
	t := report.Table{ID: "cluster-sizes-table", Head: []string{"group size", "groups", "documents", "removed"}, Numeric: []bool{false, true, true, true}}
	for _, b := range a.GroupSizes {
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

// LargestSection lists the largest groups with their described members:
// original id, file and record, and the start of the text.
func LargestSection(groups []LargestGroup) report.Section {
	sec := report.Section{ID: "largest", Title: "Largest groups",
		Intro: "The largest groups of duplicates, with the kept document and the earliest removed ones."}
	t := report.Table{ID: "largest-table", Head: []string{"group", "size", "member", "original id", "file:record", "text"}, Numeric: []bool{true, true}}
	for _, g := range groups {
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

// PhasesSection shows the wall and CPU time of each phase, and the run's
// totals and peak RSS.
func PhasesSection(phases []PhaseSummary, wallSec, cpuSec float64, peakRSS int64) report.Section {
	sec := report.Section{ID: "phases", Title: "Time and CPU per phase"}
	ch := report.Chart{ID: "phases", Title: "Wall and CPU seconds per phase", Kind: report.Rows, Grouped: true, XLabel: "seconds", Unit: " s",
		Series: []report.Series{{Name: "wall", Class: "wall"}, {Name: "CPU", Class: "cpu"}}}
	t := report.Table{ID: "phases-table", Head: []string{"phase", "wall", "CPU", "CPU / wall", "note"}, Numeric: []bool{false, true, true, true}}
	for _, p := range phases {
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
	t.Rows = append(t.Rows, []report.Cell{{Text: "total"}, {Text: report.Seconds(wallSec)}, {Text: report.Seconds(cpuSec)}, {Text: "–"}, {Text: "peak RSS " + report.Bytes(peakRSS)}})
	sec.Charts, sec.Tables = []report.Chart{ch}, []report.Table{t}
	return sec
}

// ParamsSection lists the run's parameters (params, as its summary has
// them), the Sluice version, the parameter hash and the times.
func ParamsSection(params any, version, paramsHash, started, finished string) report.Section {
	sec := report.Section{ID: "parameters", Title: "Parameters and version", Facts: []report.Fact{
		{Name: "Sluice version", Value: version, Class: "mono"},
		{Name: "parameter hash (ledger params_hash)", Value: paramsHash, Class: "mono"},
		{Name: "started", Value: started}, {Name: "finished", Value: finished},
	}}
	b, _ := json.Marshal(params)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	t := report.Table{ID: "params-table", Head: []string{"parameter", "value"}}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		t.Rows = append(t.Rows, []report.Cell{{Text: k, Class: "mono"}, {Text: strings.TrimSpace(string(m[k])), Class: "mono"}})
	}
	sec.Tables = []report.Table{t}
	return sec
}
