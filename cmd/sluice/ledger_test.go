package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/ledger"
	"github.com/sluice-data/sluice/internal/testcorpus"
	dataio "github.com/sluice-data/sluice/io"
)

// inputRecord is one input record as the test wrote it.
type inputRecord struct {
	id   *string // the id's text, nil when the record has none
	text string
}

// writeLedgerCorpus writes a generated corpus with near-duplicates over n
// JSONL files. Some records have no id and some a numeric one, so the
// ledger's id column sees both. It returns the records by file and line.
func writeLedgerCorpus(t *testing.T, dir string, n int) map[string][]inputRecord {
	t.Helper()
	docs, _ := testcorpus.Generate(testcorpus.Options{Seed: 11, Bases: 160, WordsMin: 40, WordsMax: 120, DupFraction: 0.4, CopiesMax: 4, EditRate: 0.03})
	recs := map[string][]inputRecord{}
	files := make([]*strings.Builder, n)
	for i := range files {
		files[i] = &strings.Builder{}
	}
	for i, d := range docs {
		rec := map[string]any{"text": d.Text, "family": d.Family}
		var id *string
		switch {
		case i%50 == 7: // no id
		case i%41 == 3:
			num := 100000 + i
			rec["id"] = num
			s := strconv.Itoa(num)
			id = &s
		default:
			rec["id"] = d.ID
			s := d.ID
			id = &s
		}
		b, _ := json.Marshal(rec)
		k := i % n
		files[k].Write(append(b, '\n'))
		path := filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", k))
		recs[path] = append(recs[path], inputRecord{id: id, text: d.Text})
	}
	for k, b := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", k)), b.String())
	}
	return recs
}

// auditSummary is the part of summary.json about the ledger and report.
type auditSummary struct {
	Records     int64  `json:"records"`
	Duplicates  int64  `json:"duplicates"`
	Kept        int64  `json:"kept"`
	ParamsHash  string `json:"params_hash"`
	LedgerRows  int64  `json:"ledger_rows"`
	Report      string `json:"report"`
	LargestGrps []struct {
		Members []struct {
			TextStart string `json:"text_start"`
		} `json:"members"`
	} `json:"largest_groups"`
	Sources []struct {
		Name                    string
		Files, Records, Removed int64
		Kept                    int64
	} `json:"sources"`
	GroupSizes []struct {
		Min, Max, Groups, Documents int64
	} `json:"group_size_histogram"`
	Phases              []struct{ Name string } `json:"phases"`
	CandidateSimilarity *struct {
		Exact, Estimated []int64
	} `json:"candidate_similarity"`
	Precision *struct {
		Threshold       float64           `json:"threshold"`
		ThresholdSource string            `json:"threshold_source"`
		Pairs           int               `json:"pairs"`
		AtOrAbove       int               `json:"at_or_above"`
		Precision       float64           `json:"precision"`
		Samples         []json.RawMessage `json:"samples"`
	} `json:"precision_sample"`
}

func readAudit(t *testing.T, out string) auditSummary {
	t.Helper()
	var s auditSummary
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	return s
}

// outputIDs reads the ids (as text) of the records in OUT/deduplicated.
func outputIDs(t *testing.T, out string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	paths, _ := filepath.Glob(filepath.Join(out, "deduplicated", "*.jsonl"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var rec struct {
				ID json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if s := ledger.IDText(string(rec.ID)); s != nil {
				ids[*s]++
			}
		}
		f.Close()
	}
	return ids
}

// TestLedgerAccountsForEveryRemoval runs `sluice dedup fuzzy` on generated
// data, with and without --verify-threshold, and checks the removal ledger
// against the run's other outputs: one row per removed document and no
// other; every removed id absent from the output and its kept id present;
// ids, files and records as the inputs hold them; group ids and sizes
// consistent; similarities exact or estimated as documented and close to
// the texts' own; and summary.json's audit numbers agreeing with all that.
func TestLedgerAccountsForEveryRemoval(t *testing.T) {
	for _, verify := range []string{"", "0.7"} {
		t.Run("verify="+verify, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in")
			recs := writeLedgerCorpus(t, in, 3)
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"dedup", "fuzzy", "--input", in, "--output", out, "--bands", "10", "--rows", "5", "--workers", "2"}
			if verify != "" {
				args = append(args, "--verify-threshold", verify)
			}
			if r := sluice(args...); r.code != 0 {
				t.Fatal(r)
			}
			checkLedger(t, out, recs, verify != "")
			checkFuzzyReport(t, out)
		})
	}
}

func checkLedger(t *testing.T, out string, recs map[string][]inputRecord, exact bool) {
	sum := readAudit(t, out)
	parts, err := ledger.Parts(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []ledger.Row
	if err := ledger.Scan(context.Background(), parts, func(rs []ledger.Row) error { rows = append(rows, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	dupIDs := map[int64]bool{}
	dupParts, _ := filepath.Glob(filepath.Join(out, "duplicates", "*.parquet"))
	for _, p := range dupParts {
		ids, err := dataio.ReadAllIDs(p, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			dupIDs[id] = true
		}
	}
	if sum.Duplicates == 0 || int64(len(rows)) != sum.Duplicates || sum.LedgerRows != sum.Duplicates || len(dupIDs) != len(rows) {
		t.Fatalf("%d ledger rows (summary: %d), %d duplicates in summary.json, %d in duplicates/", len(rows), sum.LedgerRows, sum.Duplicates, len(dupIDs))
	}
	kept := outputIDs(t, out)
	var noID, numeric int
	for _, r := range rows {
		if r.OriginalID == nil || r.KeptOriginalID == nil {
			noID++
		} else if _, err := strconv.Atoi(*r.OriginalID); err == nil {
			numeric++
		}
	}
	if noID == 0 || numeric == 0 {
		t.Fatalf("the corpus gave no removal of a record without an id (%d) or with a numeric id (%d): the test checks less than it should", noID, numeric)
	}
	seen := map[int64]bool{}
	groupRows := map[int64]int64{}
	for _, r := range rows {
		if seen[r.DedupID] || !dupIDs[r.DedupID] {
			t.Fatalf("ledger row for dedup id %d: seen before %v, a duplicate %v", r.DedupID, seen[r.DedupID], dupIDs[r.DedupID])
		}
		seen[r.DedupID] = true
		groupRows[r.GroupID]++
		in, keptIn := recs[r.File][r.Record-1], recs[r.KeptFile][r.KeptRecord-1]
		if ledger.Str(r.OriginalID) != ledger.Str(in.id) || (r.OriginalID == nil) != (in.id == nil) ||
			ledger.Str(r.KeptOriginalID) != ledger.Str(keptIn.id) || (r.KeptOriginalID == nil) != (keptIn.id == nil) {
			t.Fatalf("row %+v: ids %v / %v, but the inputs hold %v at %s:%d and %v at %s:%d", r, ledger.Str(r.OriginalID), ledger.Str(r.KeptOriginalID),
				ledger.Str(in.id), r.File, r.Record, ledger.Str(keptIn.id), r.KeptFile, r.KeptRecord)
		}
		if r.OriginalID != nil && kept[*r.OriginalID] > 0 {
			t.Fatalf("removed document %s is in the output", *r.OriginalID)
		}
		if r.KeptOriginalID != nil && kept[*r.KeptOriginalID] != 1 {
			t.Fatalf("kept document %s of removed %s is in the output %d times, want once", *r.KeptOriginalID, ledger.Str(r.OriginalID), kept[*r.KeptOriginalID])
		}
		if dupIDs[r.KeptDedupID] || r.GroupID != r.KeptDedupID || r.KeptDedupID >= r.DedupID {
			t.Fatalf("row %+v: the kept document is a duplicate, is not the group, or is not the group's earliest", r)
		}
		if r.ParamsHash != sum.ParamsHash || r.Dedup != ledger.DedupFuzzy || r.ParamsHash == "" {
			t.Fatalf("row %+v: params hash %q (summary %q), dedup %q", r, r.ParamsHash, sum.ParamsHash, r.Dedup)
		}
		textSim := fuzzy.TextSimilarity(in.text, keptIn.text, 24, false)
		wantMethod, tol := ledger.SimilarityEstimated, 0.25
		if exact {
			wantMethod, tol = ledger.SimilarityExact, 0.01
		}
		if r.SimilarityMethod != wantMethod || math.Abs(r.Similarity-textSim) > tol {
			t.Fatalf("row %s: similarity %.3f (%s), the texts' exact Jaccard %.3f; want %s within %.2f", ledger.Str(r.OriginalID), r.Similarity, r.SimilarityMethod, textSim, wantMethod, tol)
		}
	}
	var groups, docsInGroups int64
	for _, b := range sum.GroupSizes {
		groups += b.Groups
		docsInGroups += b.Documents
	}
	for _, r := range rows {
		if groupRows[r.GroupID]+1 != r.GroupSize {
			t.Fatalf("group %d has size %d in the ledger but %d removed members", r.GroupID, r.GroupSize, groupRows[r.GroupID])
		}
	}
	if groups != int64(len(groupRows)) || docsInGroups-groups != sum.Duplicates {
		t.Fatalf("group-size histogram: %d groups of %d documents; the ledger has %d groups and %d removals", groups, docsInGroups, len(groupRows), sum.Duplicates)
	}
	var srcRecords, srcRemoved int64
	for _, s := range sum.Sources {
		srcRecords += s.Records
		srcRemoved += s.Removed
		if s.Kept != s.Records-s.Removed {
			t.Fatalf("source %+v: kept != records - removed", s)
		}
	}
	if len(sum.Sources) != 3 || srcRecords != sum.Records || srcRemoved != sum.Duplicates {
		t.Fatalf("sources %+v do not add up to %d records and %d removals", sum.Sources, sum.Records, sum.Duplicates)
	}
	p := sum.Precision
	if p == nil || p.Pairs == 0 || len(p.Samples) != p.Pairs || p.AtOrAbove > p.Pairs || p.Precision != float64(p.AtOrAbove)/float64(p.Pairs) || p.Threshold <= 0 {
		t.Fatalf("precision sample %+v", p)
	}
	if exact && (p.ThresholdSource != "verify_threshold" || p.Threshold != 0.7 || sum.CandidateSimilarity == nil) {
		t.Fatalf("with verification: threshold %v from %s, candidate similarity %v", p.Threshold, p.ThresholdSource, sum.CandidateSimilarity)
	}
	if !exact && (p.ThresholdSource != "lsh_midpoint" || sum.CandidateSimilarity != nil) {
		t.Fatalf("without verification: threshold from %s, candidate similarity %v", p.ThresholdSource, sum.CandidateSimilarity)
	}
	if len(sum.LargestGrps) == 0 || len(sum.LargestGrps[0].Members) == 0 || sum.LargestGrps[0].Members[0].TextStart == "" {
		t.Fatalf("largest groups lack their members' text: %+v", sum.LargestGrps)
	}
}

// TestLedgerMissingRowFailsRun injects a fault: a cached ledger part that
// lost a row. A re-run resumes the components phase from the cache, finds
// one ledger row fewer than duplicates, and fails (exit 1) without writing
// summary.json: a run is never reported done with a removal unaccounted for.
func TestLedgerMissingRowFailsRun(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	writeLedgerCorpus(t, in, 2)
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"dedup", "fuzzy", "--input", in, "--output", out, "--bands", "10", "--rows", "5"}
	if r := sluice(args...); r.code != 0 {
		t.Fatal(r)
	}
	cached, _ := filepath.Glob(filepath.Join(out, "_cache", "mh-*", "lsh-*", "cc", "ledger", "part.*.parquet"))
	if len(cached) == 0 {
		t.Fatal("no cached ledger part")
	}
	var rows []ledger.Row
	if err := ledger.Scan(context.Background(), cached[:1], func(rs []ledger.Row) error { rows = append(rows, rs...); return nil }); err != nil || len(rows) == 0 {
		t.Fatalf("cached part %s: %d rows, %v", cached[0], len(rows), err)
	}
	w, err := ledger.Create(cached[0])
	if err != nil {
		t.Fatal(err)
	}
	w.Write(rows[1:]...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := sluice(append(args, "--overwrite")...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "removal ledger") || !strings.Contains(r.stderr, "rows for") {
		t.Fatalf("a ledger missing a row: want exit 1 naming the ledger:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); !os.IsNotExist(err) {
		t.Fatalf("the failed run left summary.json: %v", err)
	}
}
