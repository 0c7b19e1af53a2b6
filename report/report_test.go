package report

import (
	"bytes"
	"strings"
	"testing"
)

func testDoc() Doc {
	ref := 0.5
	return Doc{Title: "T <b>", Generator: "sluice test", Sections: []Section{{
		ID: "s", Title: "Section", Intro: "intro & more",
		Facts: []Fact{{Name: "records", Value: "1,234"}},
		Charts: []Chart{
			{ID: "cols", Title: "c", Kind: Columns, Series: []Series{{Name: "a"}, {Name: "b", Class: "removed"}},
				Bars: []Bar{{Label: "x", Values: []float64{1, 2}}, {Label: "<script>alert(1)</script>", Values: []float64{0, 3}}}, Ref: &ref, RefLabel: "half"},
			{ID: "rows", Title: "r", Kind: Rows, Grouped: true, Series: []Series{{Name: "w"}, {Name: "c"}},
				Bars: []Bar{{Label: "phase", Values: []float64{1.5, 0.25}}}},
			{ID: "dots", Title: "d", Kind: Strip, Points: []Point{{X: 0.2, Class: "low"}, {X: 0.9}}, Ref: &ref},
		},
		Tables: []Table{{Head: []string{"a", "n"}, Numeric: []bool{false, true}, Rows: [][]Cell{{{Text: "<i>x</i>"}, {Text: "3"}}}}},
		Notes:  []string{"note"},
	}}}
}

func TestRender(t *testing.T) {
	b, err := Render(testDoc())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`data-chart="cols" data-bars="2"`, `data-chart="rows" data-bars="1"`, `data-chart="dots" data-bars="0"`,
		`<circle class="dot low"`, `class="ref"`, "T &lt;b&gt;", "&lt;i&gt;x&lt;/i&gt;", `class="num "`, "default-src 'none'", `<td class="num ">3</td>`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %s", want)
		}
	}
	if strings.Contains(s, "<script>") || strings.Contains(s, "<i>x") {
		t.Error("report holds unescaped markup from its data")
	}
	if n := strings.Count(s, `<g class="bar"`); n != 3 {
		t.Errorf("%d bars drawn, want 3", n)
	}
	if !Unmodified(b) {
		t.Fatal("a rendered report is not Unmodified")
	}
	edited := bytes.Replace(b, []byte("intro &amp; more"), []byte("intro &amp; less"), 1)
	if Unmodified(edited) || CheckReplace(edited) == nil {
		t.Fatal("an edited report still counts as unmodified")
	}
	if Unmodified([]byte("<html>mine</html>")) || CheckReplace(nil) != nil || CheckReplace(b) != nil {
		t.Fatal("CheckReplace: a foreign file is replaceable, or a missing file or an own report is not")
	}
}

func TestRenderRejectsBadCharts(t *testing.T) {
	for _, c := range []Chart{
		{ID: "", Kind: Columns},
		{ID: "x", Kind: Columns, Series: []Series{{Name: "a"}}, Bars: []Bar{{Label: "b", Values: []float64{1, 2}}}},
		{ID: "x", Kind: Rows, Series: []Series{{Name: "a"}}, Bars: []Bar{{Label: "b", Values: []float64{-1}}}},
		{ID: "x", Kind: ChartKind(9)},
	} {
		if _, err := Render(Doc{Sections: []Section{{ID: "s", Charts: []Chart{c}}}}); err == nil {
			t.Errorf("chart %+v rendered", c)
		}
	}
}

func TestFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4321: "-4,321"} {
		if got := Int(n); got != want {
			t.Errorf("Int(%d) = %q", n, got)
		}
	}
	if Percent(1, 3) != "33.3%" || Percent(1, 0) != "–" {
		t.Error("Percent")
	}
	if Seconds(0.271) != "0.27 s" || Seconds(65) != "1 m 05 s" || Seconds(7380) != "2 h 03 m" {
		t.Error("Seconds", Seconds(0.271), Seconds(65), Seconds(7380))
	}
	if Bytes(512) != "512 B" || Bytes(3<<20) != "3.0 MiB" {
		t.Error("Bytes")
	}
	if Shorten("abcdef", 4) != "abc…" || Shorten("abc", 4) != "abc" {
		t.Error("Shorten")
	}
	for v, want := range map[float64]float64{0: 4, 3: 4, 245: 300, 694: 800, 1000: 1000} {
		if got := niceMax(v, true); got != want {
			t.Errorf("niceMax(%v) = %v, want %v", v, got, want)
		}
	}
	if got := niceMax(0.9, false); got != 1 {
		t.Errorf("niceMax(0.9) = %v, want 1", got)
	}
}
