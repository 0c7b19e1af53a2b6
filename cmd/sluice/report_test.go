package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/sluice-data/sluice/report"
)

// htmlReport is what a report's HTML holds, parsed without a browser.
type htmlReport struct {
	charts  map[string]*chartInfo // by data-chart
	facts   map[string]string     // dt → dd
	scripts int
	// external lists every attribute that could load something: src,
	// srcset, link and non-fragment href values.
	external []string
	csp      string
	raw      []byte
}

type chartInfo struct {
	bars    []string // each g.bar's data-values
	circles int
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, c string) bool {
	for _, f := range strings.Fields(attr(n, "class")) {
		if f == c {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// parseReport parses a report.html.
func parseReport(t *testing.T, path string) *htmlReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	r := &htmlReport{charts: map[string]*chartInfo{}, facts: map[string]string{}, raw: b}
	var cur *chartInfo
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				r.scripts++
			case "svg":
				if id := attr(n, "data-chart"); id != "" {
					cur = &chartInfo{}
					r.charts[id] = cur
					defer func() { cur = nil }()
				}
			case "g":
				if cur != nil && hasClass(n, "bar") {
					cur.bars = append(cur.bars, attr(n, "data-values"))
				}
			case "circle":
				if cur != nil {
					cur.circles++
				}
			case "dt":
				if dd := n.NextSibling; dd != nil && dd.Data == "dd" {
					r.facts[textOf(n)] = textOf(dd)
				}
			case "meta":
				if attr(n, "http-equiv") == "Content-Security-Policy" {
					r.csp = attr(n, "content")
				}
			case "link":
				r.external = append(r.external, "link "+attr(n, "href"))
			}
			for _, a := range n.Attr {
				switch {
				case a.Key == "src" || a.Key == "srcset" || a.Key == "xlink:href" || a.Key == "action":
					r.external = append(r.external, a.Key+"="+a.Val)
				case a.Key == "href" && !strings.HasPrefix(a.Val, "#"):
					r.external = append(r.external, a.Key+"="+a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return r
}

// reportSummary is the part of summary.json the report draws.
type reportSummary struct {
	Records    int64 `json:"records"`
	Duplicates int64 `json:"duplicates"`
	Sources    []struct {
		Name          string `json:"name"`
		Kept, Removed int64
	} `json:"sources"`
	GroupSizes []struct {
		Groups int64 `json:"groups"`
	} `json:"group_size_histogram"`
	Phases              []json.RawMessage `json:"phases"`
	CandidateSimilarity *struct {
		Exact, Estimated []int64
	} `json:"candidate_similarity"`
	Precision *struct {
		Samples []json.RawMessage `json:"samples"`
	} `json:"precision_sample"`
}

// expectedBars is, for each chart of a fuzzy report, the number of bars
// (or dots) summary.json says it must draw.
func expectedBars(s reportSummary) map[string]int {
	want := map[string]int{"sources": len(s.Sources), "cluster-sizes": len(s.GroupSizes), "phases": len(s.Phases)}
	if s.Duplicates > 0 {
		want["removed-similarity"] = 20
	}
	if s.CandidateSimilarity != nil {
		want["candidate-similarity"] = 20
	}
	if s.Precision != nil {
		want["precision-sample"] = len(s.Precision.Samples)
	}
	return want
}

// checkFuzzyReport checks OUT/report.html against OUT/summary.json: a
// self-contained file (no script, nothing that loads, a CSP that forbids
// loading), one chart per summary figure with one bar per value, and the
// bars' values and the headline facts equal to the summary's.
func checkFuzzyReport(t *testing.T, out string) {
	t.Helper()
	var s reportSummary
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	r := parseReport(t, filepath.Join(out, "report.html"))
	if r.scripts != 0 || len(r.external) != 0 || !strings.Contains(r.csp, "default-src 'none'") {
		t.Fatalf("report.html is not self-contained: %d scripts, loads %q, CSP %q", r.scripts, r.external, r.csp)
	}
	want := expectedBars(s)
	if len(r.charts) != len(want) {
		t.Errorf("report.html has charts %v; summary.json calls for %v", keys(r.charts), want)
	}
	for id, n := range want {
		c := r.charts[id]
		if c == nil {
			t.Errorf("report.html has no chart %q", id)
			continue
		}
		if got := len(c.bars) + c.circles; got != n {
			t.Errorf("chart %q draws %d bars or dots; summary.json has %d values", id, got, n)
		}
	}
	for i, g := range s.GroupSizes {
		if c := r.charts["cluster-sizes"]; c != nil && i < len(c.bars) && c.bars[i] != report.Int(g.Groups) {
			t.Errorf("cluster-size bar %d shows %s groups; summary.json has %d", i, c.bars[i], g.Groups)
		}
	}
	for i, src := range s.Sources {
		if c := r.charts["sources"]; c != nil && i < len(c.bars) && c.bars[i] != report.Int(src.Kept)+","+report.Int(src.Removed) {
			t.Errorf("sources bar %d (%s) shows %s; summary.json has kept %d, removed %d", i, src.Name, c.bars[i], src.Kept, src.Removed)
		}
	}
	if s.CandidateSimilarity != nil {
		for k, b := range r.charts["candidate-similarity"].bars {
			if w := report.Int(s.CandidateSimilarity.Exact[k]) + "," + report.Int(s.CandidateSimilarity.Estimated[k]); b != w {
				t.Errorf("candidate-similarity bin %d shows %s; summary.json has %s", k, b, w)
			}
		}
	}
	if got := r.facts["records read"]; got != report.Int(s.Records) {
		t.Errorf("report says %q records read; summary.json %d", got, s.Records)
	}
	if got := r.facts["duplicates removed"]; !strings.HasPrefix(got, report.Int(s.Duplicates)+" ") {
		t.Errorf("report says %q duplicates removed; summary.json %d", got, s.Duplicates)
	}
	if !report.Unmodified(r.raw) {
		t.Error("report.html's self-hash does not match its content")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestForeignReportRefused: a report.html Sluice did not write in a fresh
// output refuses the run before any work, and is kept. (The reports of
// real runs are checked by TestLedgerAccountsForEveryRemoval, TestExplain
// and TestReportsInBrowser.)
func TestForeignReportRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	mine := writeFile(t, filepath.Join(out, "report.html"), "my own notes")
	r := sluice("dedup", "fuzzy", "--input", "../../examples/fuzzy/data", "--output", out, "--overwrite")
	if r.code != exitUsage || !strings.Contains(r.stderr, "report.html") {
		t.Fatalf("a foreign report.html did not refuse the run:\n%s", r)
	}
	if readFile(t, mine) != "my own notes" {
		t.Fatal("the user's report.html was changed")
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused run wrote summary.json: %v", err)
	}
}

// TestRunReport checks `sluice run`'s HTML report: written beside
// --summary-json, one bar per stage matching the summary; replaced by a
// re-run; never written over a file Sluice did not write (an explicit
// --report refuses the run, exit 2; the default location is skipped with a
// warning); a report edited since is not Sluice's any more.
func TestRunReport(t *testing.T) {
	dir := t.TempDir()
	pipe := writeFile(t, filepath.Join(dir, "p.yaml"), `name: rep
executor: { max_attempts: 3, retry_backoff: 1ms }
stages:
  - type: jsonl_reader
    config: { paths: [data.jsonl], batch_rows: 5 }
  - type: chaos
    config: { error_fraction: 0.3, seed: 3 }
  - type: jsonl_writer
    config: { dir: out, mode: overwrite }
`)
	var lines []string
	for i := range 40 {
		lines = append(lines, `{"id":"d`+strconv.Itoa(i)+`","text":"document number `+strconv.Itoa(i)+`"}`)
	}
	writeFile(t, filepath.Join(dir, "data.jsonl"), strings.Join(lines, "\n")+"\n")
	sumPath := filepath.Join(dir, "res", "summary.json")
	r := sluice("run", pipe, "--summary-json", sumPath)
	if r.code != 0 {
		t.Fatal(r)
	}
	htmlPath := filepath.Join(dir, "res", "summary.html")
	var s runSummary
	readJSON(t, sumPath, &s)
	if s.HTMLReport != htmlPath {
		t.Fatalf("summary names report %q, want %q", s.HTMLReport, htmlPath)
	}
	rep := parseReport(t, htmlPath)
	if rep.scripts != 0 || len(rep.external) != 0 {
		t.Fatalf("run report is not self-contained: %d scripts, %q", rep.scripts, rep.external)
	}
	var retries int64
	for i, st := range s.Report.Stages {
		retries += st.Retries
		if c := rep.charts["stage-items"]; c == nil || len(c.bars) != len(s.Report.Stages) || c.bars[i] != report.Int(st.ItemsIn)+","+report.Int(st.ItemsOut) {
			t.Fatalf("stage-items chart %+v does not match stage %d of the summary (%d in, %d out)", c, i, st.ItemsIn, st.ItemsOut)
		}
	}
	if c := rep.charts["stage-time"]; c == nil || len(c.bars) != len(s.Report.Stages) || retries == 0 {
		t.Fatalf("stage-time chart %+v for %d stages; %d retries (the chaos stage must cause some)", c, len(s.Report.Stages), retries)
	}
	if !strings.Contains(string(rep.raw), ">"+report.Int(retries)+"<") && retries > 0 {
		t.Errorf("the report's stage table does not show the chaos stage's retries")
	}

	// A re-run replaces its own report.
	before := readFile(t, htmlPath)
	if r := sluice("run", pipe, "--summary-json", sumPath); r.code != 0 {
		t.Fatal(r)
	}
	if readFile(t, htmlPath) == before {
		t.Error("the re-run did not replace its report (the times differ)")
	}

	// An edited report is not Sluice's any more: at the default location
	// it is left alone, with a warning; the run succeeds.
	writeFile(t, htmlPath, readFile(t, htmlPath)+"<!-- my note -->")
	edited := readFile(t, htmlPath)
	r = sluice("run", pipe, "--summary-json", sumPath)
	if r.code != 0 || !strings.Contains(r.stderr, "not writing the HTML report") || readFile(t, htmlPath) != edited {
		t.Fatalf("an edited report at the default location:\n%s", r)
	}
	// Named with --report: the run is refused before any work.
	mine := writeFile(t, filepath.Join(dir, "mine.html"), "<p>mine</p>")
	r = sluice("run", pipe, "--report", mine)
	if r.code != exitUsage || !strings.Contains(r.stderr, "refusing to overwrite") || readFile(t, mine) != "<p>mine</p>" {
		t.Fatalf("--report naming a foreign file:\n%s", r)
	}
	if r := sluice("run", pipe, "--report", dir); r.code != exitUsage {
		t.Fatalf("--report naming a directory:\n%s", r)
	}
}
