package report

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// The template gets geometry computed here; it only writes elements.

type view struct {
	Title, Subtitle, Generator, Hash string
	Sections                         []sectionView
}

type sectionView struct {
	Section
	Views []chartView
}

type chartView struct {
	ID, Title, Kind string
	W, H            float64
	NBars           int
	Plot            box
	Bars            []barView
	Points          []pointView
	Legend          []legendItem
	XTicks, YTicks  []tick
	XLabel, YLabel  axisLabel
	Ref             *refLine
	Desc            string
}

type box struct{ X, Y, W, H float64 }

type barView struct {
	Label, Tip string
	Values     string // comma-separated, for tests and tools
	Segs       []segView
	Text       textAt
}

type segView struct {
	X, Y, W, H float64
	Class, Tip string
}

type pointView struct {
	X, Y       float64
	Class, Tip string
}

type legendItem struct {
	X, Y        float64
	Name, Class string
}

type tick struct {
	X1, Y1, X2, Y2 float64 // grid line
	TX, TY         float64
	Label, Anchor  string
}

type textAt struct {
	X, Y          float64
	Label, Anchor string
	Rotate        bool
}

type axisLabel struct {
	X, Y   float64
	Text   string
	Rotate bool
}

type refLine struct {
	X, Y1, Y2 float64
	Label     string
	LX, LY    float64
}

const chartWidth = 680.0

func layout(c Chart) (chartView, error) {
	if c.ID == "" {
		return chartView{}, errors.New("no id")
	}
	for _, b := range c.Bars {
		if len(b.Values) != len(c.Series) {
			return chartView{}, fmt.Errorf("bar %q has %d values for %d series", b.Label, len(b.Values), len(c.Series))
		}
		for _, v := range b.Values {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return chartView{}, fmt.Errorf("bar %q: value %v", b.Label, v)
			}
		}
	}
	var v chartView
	switch c.Kind {
	case Columns:
		v = layoutColumns(c)
	case Rows:
		v = layoutRows(c)
	case Strip:
		v = layoutStrip(c)
	default:
		return chartView{}, fmt.Errorf("unknown kind %d", c.Kind)
	}
	v.ID, v.Title, v.NBars = c.ID, c.Title, len(c.Bars)
	v.Desc = c.Title
	for i, s := range c.Series {
		v.Legend = append(v.Legend, legendItem{X: v.Plot.X + float64(i)*150, Y: 14, Name: s.Name, Class: seriesClass(c.Series, i)})
	}
	return v, nil
}

func seriesClass(s []Series, i int) string {
	if s[i].Class != "" {
		return s[i].Class
	}
	return fmt.Sprintf("s%d", i%4)
}

func values(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = number(v)
	}
	return strings.Join(parts, ",")
}

func (c Chart) tip(b Bar) string {
	parts := []string{b.Label}
	for i, s := range c.Series {
		parts = append(parts, s.Name+": "+number(b.Values[i])+c.Unit)
	}
	return strings.Join(parts, "\n")
}

// niceMax rounds v up to four times a round tick step (1, 1.5, 2, 2.5,
// 3, 4, 5, 6, 7.5 or 8 times a power of ten), so that the axis's four
// ticks are round numbers.
//
// With integers (every value a whole number), an axis is at least 0 to 4,
// so that the ticks of small counts are whole numbers too.
func niceMax(v float64, integers bool) float64 {
	if v <= 0 || integers && v <= 4 {
		return 4
	}
	step := v / 4
	p := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10} {
		if m*p >= step*(1-1e-12) {
			return 4 * m * p
		}
	}
	return 40 * p
}

func stackedMax(c Chart) float64 {
	m := 0.0
	integers := true
	for _, b := range c.Bars {
		s := 0.0
		for _, v := range b.Values {
			integers = integers && v == math.Trunc(v)
			if c.Grouped {
				s = max(s, v)
			} else {
				s += v
			}
		}
		m = max(m, s)
	}
	return niceMax(m, integers)
}

func layoutColumns(c Chart) chartView {
	const left, right, top, bottom, height = 64.0, 16.0, 30.0, 58.0, 280.0
	v := chartView{Kind: "columns", W: chartWidth, H: height}
	v.Plot = box{left, top, chartWidth - left - right, height - top - bottom}
	ymax := stackedMax(c)
	n := max(len(c.Bars), 1)
	slot := v.Plot.W / float64(n)
	every := (n + 11) / 12 // label at most about 12 bars
	rotate := false
	for _, b := range c.Bars {
		rotate = rotate || len(b.Label) > 6 && n > 6
	}
	for i, b := range c.Bars {
		x := v.Plot.X + float64(i)*slot + slot*0.1
		bv := barView{Label: b.Label, Tip: c.tip(b), Values: values(b.Values)}
		y := v.Plot.Y + v.Plot.H
		for k, val := range b.Values {
			h := val / ymax * v.Plot.H
			y -= h
			bv.Segs = append(bv.Segs, segView{X: x, Y: y, W: slot * 0.8, H: h, Class: seriesClass(c.Series, k), Tip: bv.Tip})
		}
		if i%every == 0 {
			bv.Text = textAt{X: x + slot*0.4, Y: v.Plot.Y + v.Plot.H + 14, Label: b.Label, Anchor: "middle", Rotate: rotate}
			if rotate {
				bv.Text.Anchor = "end"
			}
		}
		v.Bars = append(v.Bars, bv)
	}
	for k := 0; k <= 4; k++ {
		val := ymax * float64(k) / 4
		y := v.Plot.Y + v.Plot.H - v.Plot.H*float64(k)/4
		v.YTicks = append(v.YTicks, tick{X1: v.Plot.X, Y1: y, X2: v.Plot.X + v.Plot.W, Y2: y, TX: v.Plot.X - 6, TY: y + 4, Label: number(val), Anchor: "end"})
	}
	v.XLabel = axisLabel{X: v.Plot.X + v.Plot.W/2, Y: height - 6, Text: c.XLabel}
	v.YLabel = axisLabel{X: 14, Y: v.Plot.Y + v.Plot.H/2, Text: c.YLabel, Rotate: true}
	if c.Ref != nil {
		x := v.Plot.X + min(max(*c.Ref, 0), 1)*v.Plot.W
		v.Ref = &refLine{X: x, Y1: v.Plot.Y, Y2: v.Plot.Y + v.Plot.H, Label: c.RefLabel, LX: x + 4, LY: v.Plot.Y + 12}
	}
	return v
}

func layoutRows(c Chart) chartView {
	const left, right, top, bottom = 210.0, 24.0, 30.0, 40.0
	n := len(c.Series)
	rowH := 22.0
	if c.Grouped {
		rowH = float64(n)*10 + 10
	}
	height := top + bottom + rowH*float64(max(len(c.Bars), 1))
	v := chartView{Kind: "rows", W: chartWidth, H: height}
	v.Plot = box{left, top, chartWidth - left - right, height - top - bottom}
	xmax := stackedMax(c)
	for i, b := range c.Bars {
		y0 := v.Plot.Y + float64(i)*rowH
		bv := barView{Label: b.Label, Tip: c.tip(b), Values: values(b.Values)}
		x := v.Plot.X
		for k, val := range b.Values {
			w := val / xmax * v.Plot.W
			seg := segView{W: w, Class: seriesClass(c.Series, k), Tip: bv.Tip}
			if c.Grouped {
				seg.X, seg.Y, seg.H = v.Plot.X, y0+5+float64(k)*10, 9
			} else {
				seg.X, seg.Y, seg.H = x, y0+4, rowH-8
				x += w
			}
			bv.Segs = append(bv.Segs, seg)
		}
		bv.Text = textAt{X: v.Plot.X - 8, Y: y0 + rowH/2 + 4, Label: Shorten(b.Label, 32), Anchor: "end"}
		v.Bars = append(v.Bars, bv)
	}
	for k := 0; k <= 4; k++ {
		val := xmax * float64(k) / 4
		x := v.Plot.X + v.Plot.W*float64(k)/4
		v.XTicks = append(v.XTicks, tick{X1: x, Y1: v.Plot.Y, X2: x, Y2: v.Plot.Y + v.Plot.H, TX: x, TY: v.Plot.Y + v.Plot.H + 14, Label: number(val) + c.Unit, Anchor: "middle"})
	}
	v.XLabel = axisLabel{X: v.Plot.X + v.Plot.W/2, Y: height - 6, Text: c.XLabel}
	return v
}

func layoutStrip(c Chart) chartView {
	const left, right, top, height = 40.0, 24.0, 30.0, 130.0
	v := chartView{Kind: "strip", W: chartWidth, H: height}
	v.Plot = box{left, top, chartWidth - left - right, height - top - 44}
	mid := v.Plot.Y + v.Plot.H/2
	for i, p := range c.Points {
		x := v.Plot.X + min(max(p.X, 0), 1)*v.Plot.W
		v.Points = append(v.Points, pointView{X: x, Y: mid + float64(i%7-3)*6, Class: p.Class, Tip: p.Tip})
	}
	for k := 0; k <= 5; k++ {
		x := v.Plot.X + v.Plot.W*float64(k)/5
		v.XTicks = append(v.XTicks, tick{X1: x, Y1: v.Plot.Y, X2: x, Y2: v.Plot.Y + v.Plot.H, TX: x, TY: v.Plot.Y + v.Plot.H + 14, Label: number(float64(k) / 5), Anchor: "middle"})
	}
	v.XLabel = axisLabel{X: v.Plot.X + v.Plot.W/2, Y: height - 8, Text: c.XLabel}
	if c.Ref != nil {
		x := v.Plot.X + min(max(*c.Ref, 0), 1)*v.Plot.W
		v.Ref = &refLine{X: x, Y1: v.Plot.Y, Y2: v.Plot.Y + v.Plot.H, Label: c.RefLabel, LX: x + 4, LY: v.Plot.Y + 10}
	}
	return v
}
