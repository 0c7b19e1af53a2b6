package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/dedup/ledger"
)

// TestExplain checks `sluice explain` on the sample's output: a removed
// id prints its ledger row and both texts with the differing words
// marked; the kept document of a group and a kept document without
// duplicates are named as kept; an unknown id exits 1; usage errors exit 2.
// It also checks the sample's report.html against its summary.json.
func TestExplain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if r := sluice("dedup", "fuzzy", "--input", "../../examples/fuzzy/data", "--output", out, "--workers", "2", "--bands", "10", "--rows", "5"); r.code != 0 {
		t.Fatal(r)
	}
	checkFuzzyReport(t, out)
	parts, err := ledger.Parts(out)
	if err != nil {
		t.Fatal(err)
	}
	// A removal whose texts differ (not an exact copy).
	var row *ledger.Row
	ledger.Scan(context.Background(), parts, func(rs []ledger.Row) error {
		for _, r := range rs {
			if row == nil && r.Similarity < 0.97 && r.OriginalID != nil && r.KeptOriginalID != nil {
				row = &r
			}
		}
		return nil
	})
	if row == nil {
		t.Fatal("no removal of a near (not exact) copy in the sample's ledger")
	}
	id, keptID := *row.OriginalID, *row.KeptOriginalID

	r := sluice("explain", "--output", out, id)
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{id + " was removed as a duplicate", "kept        " + keptID, "estimated from the MinHash signatures",
		row.ParamsHash, "Removed document (first 60", "Kept document (first 60", "Exact shingle Jaccard of the texts as they are now"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain %s lacks %q:\n%s", id, want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "[-") && !strings.Contains(r.stdout, "{+") {
		t.Errorf("explain %s marks no differing words:\n%s", id, r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("explain wrote colours to a pipe:\n%q", r.stdout)
	}
	if r := sluice("explain", "--output", out, "--color", "always", id); r.code != 0 || !strings.Contains(r.stdout, "\x1b[1;3") {
		t.Errorf("--color always: no colours:\n%s", r)
	}

	r = sluice("explain", "--output", out, keptID)
	if r.code != 0 || !strings.Contains(r.stdout, keptID+" was kept: it is the document kept for group") || !strings.Contains(r.stdout, id) {
		t.Errorf("explain of a kept group document:\n%s", r)
	}

	// doc-00002 has no duplicate in the sample (its family has one member).
	r = sluice("explain", "--output", out, "doc-00002")
	if r.code != 0 || !strings.Contains(r.stdout, "doc-00002 was kept: it has no duplicates") {
		t.Errorf("explain of a document without duplicates:\n%s", r)
	}
	r = sluice("explain", "--output", out, "--search-inputs=false", "doc-00002")
	if r.code != exitFailed || !strings.Contains(r.stderr, "not in the removal ledger") {
		t.Errorf("explain --search-inputs=false of a kept document:\n%s", r)
	}
	r = sluice("explain", "--output", out, "no-such-doc")
	if r.code != exitFailed || !strings.Contains(r.stderr, "no-such-doc is unknown") {
		t.Errorf("explain of an unknown id:\n%s", r)
	}

	for _, args := range [][]string{
		{"explain", id},                          // no --output
		{"explain", "--output", out},             // no id
		{"explain", "--output", out, id, keptID}, // two ids
		{"explain", "--output", t.TempDir(), id}, // no ledger
		{"explain", "--output", out, "--words", "0", id},
		{"explain", "--output", out, "--color", "sometimes", id},
	} {
		if r := sluice(args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("%v: want exit 2 with a message:\n%s", args, r)
		}
	}
}

// TestExplainCorruptLedger: a ledger part that is not Parquet fails the
// command (exit 1) naming the file; nothing is written.
func TestExplainCorruptLedger(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	bad := writeFile(t, filepath.Join(out, ledger.Dir, "part.0.parquet"), "not parquet")
	r := sluice("explain", "--output", out, "x")
	if r.code != exitFailed || !strings.Contains(r.stderr, bad) {
		t.Fatalf("explain with a corrupt ledger part: want exit 1 naming %s:\n%s", bad, r)
	}
}
