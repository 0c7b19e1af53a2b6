package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/internal/browsertest"
)

func fileURL(path string) string {
	abs, _ := filepath.Abs(path)
	return (&url.URL{Scheme: "file", Path: abs}).String()
}

// TestReportsInBrowser opens the report.html of a fuzzy run (with
// verification, so that every chart is drawn) and the HTML report of a
// `sluice run` in a real headless Chromium, one browser for both: each
// page loads with no console error, warning or exception, requests nothing
// but its own file, and draws its charts with as many bars as summary.json
// has values, at a visible size. Screenshots are saved and their paths
// logged. Without a browser the test fails, saying how to install one.
func TestReportsInBrowser(t *testing.T) {
	b := browsertest.Start(t)

	t.Run("fuzzy", func(t *testing.T) {
		in := filepath.Join(t.TempDir(), "in")
		writeLedgerCorpus(t, in, 2)
		out := filepath.Join(t.TempDir(), "out")
		if r := sluice("dedup", "fuzzy", "--input", in, "--output", out, "--bands", "10", "--rows", "5", "--verify-threshold", "0.7"); r.code != 0 {
			t.Fatal(r)
		}
		var s reportSummary
		readJSON(t, filepath.Join(out, "summary.json"), &s)
		want := expectedBars(s)
		if want["candidate-similarity"] == 0 || want["precision-sample"] == 0 {
			t.Fatalf("the run drew no candidate-similarity or precision chart: %v", want)
		}
		p := openPage(t, b, filepath.Join(out, "report.html"), "fuzzy-report.png")
		checkCharts(t, p, want)
	})

	t.Run("run", func(t *testing.T) {
		// The example pipeline (with the chaos stage's retries), in a
		// directory of its own: it writes next to itself.
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "pipeline.yaml"), readFile(t, "../../examples/pipeline.yaml"))
		writeFile(t, filepath.Join(dir, "data", "sample.jsonl"), readFile(t, "../../examples/data/sample.jsonl"))
		sumPath := filepath.Join(dir, "summary.json")
		if r := sluice("run", filepath.Join(dir, "pipeline.yaml"), "--summary-json", sumPath); r.code != 0 {
			t.Fatal(r)
		}
		var s runSummary
		readJSON(t, sumPath, &s)
		p := openPage(t, b, s.HTMLReport, "run-report.png")
		checkCharts(t, p, map[string]int{"stage-time": len(s.Report.Stages), "stage-items": len(s.Report.Stages)})
	})
}

// openPage opens path, checks that it logged nothing and requested only
// itself, and saves a screenshot named shot (browsertest.ArtifactDir).
func openPage(t *testing.T, b *browsertest.Browser, path, shot string) *browsertest.Page {
	t.Helper()
	u := fileURL(path)
	p := b.Open(t, u)
	p.Screenshot(t, shot)
	if m := p.Messages(); len(m) > 0 {
		t.Errorf("%s logged:\n%s", path, strings.Join(m, "\n"))
	}
	if reqs := p.Requests(); len(reqs) != 1 || reqs[0] != u {
		t.Errorf("%s requested %q; want only itself", path, reqs)
	}
	return p
}

// checkCharts checks, in the browser, that each chart exists with the
// given number of bars (or dots), that it is drawn at a visible size, and
// that no chart is unexpected.
func checkCharts(t *testing.T, p *browsertest.Page, want map[string]int) {
	t.Helper()
	ids, err := browsertest.Eval[[]string](p, `Array.from(document.querySelectorAll("svg[data-chart]")).map(s => s.dataset.chart)`)
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	slices.Sort(ids)
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("charts drawn %v; the summary calls for %v", ids, wantIDs)
	}
	for id, n := range want {
		sel := fmt.Sprintf(`svg[data-chart=%q]`, id)
		got, err := p.Count(sel + " g.bar, " + sel + " circle.dot")
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("chart %s: %d bars or dots in the page; summary.json has %d values", id, got, n)
		}
		w, err := browsertest.Eval[float64](p, fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().width`, sel))
		if err != nil || w < 300 {
			t.Errorf("chart %s is drawn %v px wide (%v)", id, w, err)
		}
		// Every non-zero value is a visible mark.
		empty, err := browsertest.Eval[int](p, fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).filter(g => {
			const vals = (g.dataset.values || "").split(",").map(v => parseFloat(v.replaceAll(",", "")));
			const any = vals.some(v => v > 0);
			const drawn = Array.from(g.querySelectorAll("rect")).some(r => { const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
			return any && !drawn;
		}).length`, sel+" g.bar"))
		if err != nil || empty != 0 {
			t.Errorf("chart %s: %d bars with a value draw nothing (%v)", id, empty, err)
		}
	}
}
