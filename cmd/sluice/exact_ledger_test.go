package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/report"
)

// writeExactCorpus writes 3 JSONL files of 120 records: 40 texts, some
// held by one record, others copied up to 4 times across the files. Some
// records have no id and some a numeric one. It returns the records by
// file and line.
func writeExactCorpus(t *testing.T, dir string) map[string][]inputRecord {
	t.Helper()
	recs := map[string][]inputRecord{}
	files := make([]strings.Builder, 3)
	for i := range 120 {
		base := (i * 7) % 40
		if base%3 == 0 {
			base = 40 + i // a unique text
		}
		text := fmt.Sprintf("document %d: the quick brown fox jumps over the lazy dog %d times, then rests.", base, base*13)
		rec := map[string]any{"text": text}
		var id *string
		switch {
		case i%17 == 5: // no id
		case i%11 == 2:
			rec["id"] = 900000 + i
			s := strconv.Itoa(900000 + i)
			id = &s
		default:
			s := fmt.Sprintf("doc-%03d", i)
			rec["id"] = s
			id = &s
		}
		b, _ := json.Marshal(rec)
		k := i % 3
		files[k].Write(append(b, '\n'))
		path := filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", k))
		recs[path] = append(recs[path], inputRecord{id: id, text: text})
	}
	for k := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", k)), files[k].String())
	}
	return recs
}

// TestExactLedgerReportExplain runs `sluice dedup exact` and checks its
// removal ledger (one row per removed document, each naming a kept
// document with the same text that survives in the output), the audit in
// summary.json, report.html against summary.json, and `sluice explain` on
// a removed and a kept id.
func TestExactLedgerReportExplain(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	recs := writeExactCorpus(t, in)
	out := filepath.Join(t.TempDir(), "out")
	if r := sluice("dedup", "exact", "--input", in, "--output", out, "--workers", "2"); r.code != 0 {
		t.Fatal(r)
	}
	sum := readAudit(t, out)
	parts, err := ledger.Parts(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []ledger.Row
	if err := ledger.Scan(context.Background(), parts, func(rs []ledger.Row) error { rows = append(rows, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	if sum.Duplicates == 0 || int64(len(rows)) != sum.Duplicates || sum.LedgerRows != sum.Duplicates || sum.ParamsHash == "" {
		t.Fatalf("%d ledger rows (summary: %d) for %d duplicates; params hash %q", len(rows), sum.LedgerRows, sum.Duplicates, sum.ParamsHash)
	}
	kept := outputIDs(t, out)
	seen, groupRows := map[int64]bool{}, map[int64]int64{}
	var noID, numeric int
	for _, r := range rows {
		if seen[r.DedupID] {
			t.Fatalf("two ledger rows for dedup id %d", r.DedupID)
		}
		seen[r.DedupID] = true
		groupRows[r.GroupID]++
		in, keptIn := recs[r.File][r.Record-1], recs[r.KeptFile][r.KeptRecord-1]
		if in.text != keptIn.text || ledger.Str(r.OriginalID) != ledger.Str(in.id) || ledger.Str(r.KeptOriginalID) != ledger.Str(keptIn.id) {
			t.Fatalf("row %+v does not match the inputs: %q (%s) vs kept %q (%s)", r, in.text, ledger.Str(in.id), keptIn.text, ledger.Str(keptIn.id))
		}
		if r.Dedup != ledger.DedupExact || r.Similarity != 1 || r.SimilarityMethod != ledger.SimilarityExact || r.ParamsHash != sum.ParamsHash {
			t.Fatalf("row %+v: want dedup exact, similarity 1 (exact), params hash %s", r, sum.ParamsHash)
		}
		if r.GroupID != r.KeptDedupID || r.KeptDedupID >= r.DedupID || seen[r.KeptDedupID] {
			t.Fatalf("row %+v: the kept document is not the group's earliest", r)
		}
		if r.OriginalID != nil && kept[*r.OriginalID] > 0 {
			t.Fatalf("removed document %s is in the output", *r.OriginalID)
		}
		if r.KeptOriginalID != nil && kept[*r.KeptOriginalID] != 1 {
			t.Fatalf("kept document %s is in the output %d times, want once", *r.KeptOriginalID, kept[*r.KeptOriginalID])
		}
		if r.OriginalID == nil {
			noID++
		} else if _, err := strconv.Atoi(*r.OriginalID); err == nil {
			numeric++
		}
	}
	if noID == 0 || numeric == 0 {
		t.Fatalf("no removal without an id (%d) or with a numeric one (%d): the corpus checks less than it should", noID, numeric)
	}
	var groups, docs, srcRecords, srcRemoved int64
	for _, b := range sum.GroupSizes {
		groups, docs = groups+b.Groups, docs+b.Documents
	}
	for _, r := range rows {
		if groupRows[r.GroupID]+1 != r.GroupSize {
			t.Fatalf("group %d: size %d in the ledger, %d removed members", r.GroupID, r.GroupSize, groupRows[r.GroupID])
		}
	}
	if groups != int64(len(groupRows)) || docs-groups != sum.Duplicates {
		t.Fatalf("group-size histogram %+v: %d groups of %d documents; the ledger has %d groups, %d removals", sum.GroupSizes, groups, docs, len(groupRows), sum.Duplicates)
	}
	for _, s := range sum.Sources {
		srcRecords, srcRemoved = srcRecords+s.Records, srcRemoved+s.Removed
	}
	if len(sum.Sources) != 3 || srcRecords != sum.Records || srcRemoved != sum.Duplicates {
		t.Fatalf("sources %+v do not add up to %d records, %d removals", sum.Sources, sum.Records, sum.Duplicates)
	}
	if len(sum.LargestGrps) == 0 || len(sum.LargestGrps[0].Members) == 0 || sum.LargestGrps[0].Members[0].TextStart == "" {
		t.Fatalf("largest groups lack their members' text: %+v", sum.LargestGrps)
	}
	checkExactReport(t, out)

	var removed *ledger.Row
	for i := range rows {
		if rows[i].OriginalID != nil && rows[i].KeptOriginalID != nil {
			removed = &rows[i]
			break
		}
	}
	r := sluice("explain", "--output", out, *removed.OriginalID)
	if r.code != 0 || !strings.Contains(r.stdout, *removed.OriginalID+" was removed as a duplicate") ||
		!strings.Contains(r.stdout, "kept        "+*removed.KeptOriginalID) || !strings.Contains(r.stdout, "dedup       exact") ||
		strings.Contains(r.stdout, "Exact shingle Jaccard") || !strings.Contains(r.stdout, "Kept document (first") {
		t.Fatalf("explain of a removed id:\n%s", r)
	}
	if r := sluice("explain", "--output", out, *removed.KeptOriginalID); r.code != 0 || !strings.Contains(r.stdout, "was kept") {
		t.Fatalf("explain of a kept id:\n%s", r)
	}
}

// checkExactReport checks OUT/report.html of an exact run against
// OUT/summary.json: self-contained, the charts both workflows draw with
// one bar per value, none of fuzzy dedup's similarity charts.
func checkExactReport(t *testing.T, out string) {
	t.Helper()
	var s reportSummary
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	r := parseReport(t, filepath.Join(out, "report.html"))
	if r.scripts != 0 || len(r.external) != 0 || !strings.Contains(r.csp, "default-src 'none'") {
		t.Fatalf("report.html is not self-contained: %d scripts, loads %q, CSP %q", r.scripts, r.external, r.csp)
	}
	want := map[string]int{"sources": len(s.Sources), "cluster-sizes": len(s.GroupSizes), "phases": len(s.Phases)}
	if len(r.charts) != len(want) {
		t.Fatalf("report.html has charts %v, want %v", keys(r.charts), want)
	}
	for id, n := range want {
		if c := r.charts[id]; c == nil || len(c.bars) != n {
			t.Fatalf("chart %q: %v, want %d bars", id, c, n)
		}
	}
	if !strings.HasPrefix(r.facts["duplicates removed"], report.Int(s.Duplicates)+" ") {
		t.Fatalf("report says %q duplicates removed; summary.json %d", r.facts["duplicates removed"], s.Duplicates)
	}
}
