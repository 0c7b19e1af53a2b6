// Package report renders Sluice's run reports: one self-contained HTML
// file per run (report.html), with tables and charts drawn as inline SVG.
// The file loads nothing: no script, font, style sheet or image from
// anywhere, and its Content-Security-Policy forbids every request, so it
// can be opened from disk, mailed or archived as is.
//
// A report is a Doc: sections of facts, charts and tables, built by the
// workflow that owns the numbers (dedup/fuzzy from its summary, `sluice
// run` from the executor's report) and rendered here with html/template
// (the template and style sheet are embedded with go:embed). Every chart
// carries data-chart and data-bars attributes, and each bar a g.bar
// element, so tests can check what was drawn against the numbers.
package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Doc is one report.
type Doc struct {
	Title string
	// Subtitle is a line under the title (the run's output, its times).
	Subtitle string
	// Generator names the program and version that wrote the report.
	Generator string
	Sections  []Section
}

// Section is one titled part of a report. Its parts are shown in order:
// intro, facts, charts, tables, notes.
type Section struct {
	ID     string
	Title  string
	Intro  string
	Facts  []Fact
	Charts []Chart
	Tables []Table
	Notes  []string
}

// Fact is one name and value.
type Fact struct {
	Name, Value string
	// Class styles the value ("good", "bad", "mono").
	Class string
}

// Table is a table of text cells.
type Table struct {
	ID      string
	Caption string
	Head    []string
	// Numeric marks the columns to align right.
	Numeric []bool
	Rows    [][]Cell
}

// Cell is one table cell.
type Cell struct {
	Text  string
	Class string
	// Title is shown on hover (the full text of a shortened cell).
	Title string
}

// ChartKind is how a chart draws its data.
type ChartKind int

const (
	// Columns draws vertical bars, one per Bar, series stacked: histograms.
	Columns ChartKind = iota
	// Rows draws horizontal bars, one row per Bar; series are stacked, or
	// side by side with Grouped.
	Rows
	// Strip draws Points as dots on a horizontal axis from 0 to 1.
	Strip
)

// Chart is a bar chart or a strip plot.
type Chart struct {
	// ID names the chart (the svg's data-chart attribute).
	ID    string
	Title string
	Kind  ChartKind
	// Series names the values of each bar, with a legend; each series gets
	// the colour of its position (s0, s1, …) unless Class is set.
	Series []Series
	Bars   []Bar
	// Grouped draws a Rows chart's series side by side instead of stacked.
	Grouped bool
	// Points are a Strip chart's dots.
	Points []Point
	// XLabel and YLabel name the axes; Unit follows values in tooltips.
	XLabel, YLabel, Unit string
	// Ref, when set, draws a dashed reference line at this value of the
	// category axis, in [0, 1] of its width (Columns and Strip charts).
	Ref      *float64
	RefLabel string
}

// Series is one value of each bar.
type Series struct{ Name, Class string }

// Bar is one bar: its label and one value per series.
type Bar struct {
	Label  string
	Values []float64
}

// Point is one dot of a strip plot.
type Point struct {
	X     float64
	Class string
	Tip   string
}

//go:embed report.html.tmpl style.css
var assets embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"css": func() template.CSS {
		b, _ := assets.ReadFile("style.css")
		return template.CSS(b)
	},
	"f": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).ParseFS(assets, "report.html.tmpl"))

// markerRE finds the report's self-hash (see Render).
var markerRE = regexp.MustCompile(`<meta name="sluice-report" content="sha256:([0-9a-f]{64})">`)

var zeroHash = strings.Repeat("0", 64)

// Render renders doc. The result carries its own SHA-256 (computed with the
// hash's place zeroed) in a meta element, so that Unmodified can tell a
// report Sluice wrote from a file a user wrote or edited.
func Render(doc Doc) ([]byte, error) {
	v := view{Title: doc.Title, Subtitle: doc.Subtitle, Generator: doc.Generator, Hash: zeroHash}
	for _, s := range doc.Sections {
		sv := sectionView{Section: s}
		for _, c := range s.Charts {
			cv, err := layout(c)
			if err != nil {
				return nil, fmt.Errorf("report: chart %s: %w", c.ID, err)
			}
			sv.Views = append(sv.Views, cv)
		}
		v.Sections = append(v.Sections, sv)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	b := buf.Bytes()
	sum := sha256.Sum256(b)
	return bytes.Replace(b, []byte("sha256:"+zeroHash), []byte("sha256:"+hex.EncodeToString(sum[:])), 1), nil
}

// Write renders doc to w.
func Write(w io.Writer, doc Doc) error {
	b, err := Render(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Unmodified reports whether b is a report Render made, unchanged since:
// its self-hash matches its content.
func Unmodified(b []byte) bool {
	m := markerRE.FindSubmatchIndex(b)
	if m == nil {
		return false
	}
	got := string(b[m[2]:m[3]])
	z := bytes.Clone(b)
	copy(z[m[2]:m[3]], zeroHash)
	sum := sha256.Sum256(z)
	return got == hex.EncodeToString(sum[:])
}

// ErrNotOurs is returned by CheckReplace for a file Sluice did not write.
var ErrNotOurs = errors.New("not a report Sluice wrote")

// CheckReplace says whether the file holding b (nil: no file) may be
// replaced by a new report: only an unmodified report Sluice wrote may.
func CheckReplace(b []byte) error {
	if b == nil || Unmodified(b) {
		return nil
	}
	return ErrNotOurs
}

// Int formats n with thousands separators: 1234567 → "1,234,567".
func Int(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Percent formats part/whole as a percentage with one decimal ("–" when
// whole is 0).
func Percent(part, whole int64) string {
	if whole == 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// Seconds formats a duration in seconds: "0.27 s", "1 m 05 s", "2 h 03 m".
func Seconds(s float64) string {
	switch {
	case s < 60:
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	case s < 3600:
		return fmt.Sprintf("%d m %02d s", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%d h %02d m", int(s)/3600, int(s)%3600/60)
}

// Bytes formats a size in bytes with a binary unit.
func Bytes(n int64) string {
	f, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// Shorten cuts s to at most n characters, marking the cut with "…".
func Shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n-1, 0)]) + "…"
}

// number formats a chart value compactly.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return Int(int64(v))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
