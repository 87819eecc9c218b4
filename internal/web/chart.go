package web

import (
	"math"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/stats"
)

// Charts are drawn here as numbers for an SVG template (parts.html, "trend" and "scatter"):
// no chart script, so nothing runs in the page, and every label goes through the template's
// escaping like any other text.

// Geometry of a chart, in SVG user units (the SVG scales to its box).
const (
	chartW, chartH         = 560, 180
	padL, padR, padT, padB = 64, 12, 12, 28
)

// point is one value of a series with its 95% interval (Lo == Hi == V without one).
type point struct {
	V, Lo, Hi float64
	HasCI     bool
	Label     string // the x-axis label (a date)
	Title     string // the tooltip: run and value
	Href      string // where a click on the point goes
}

// trend is a drawn time series: a line, the band of its intervals, dots and axes.
type trend struct {
	Name       string
	W, H       int
	Line, Band string // SVG path data
	Dots       []dot
	YTicks     []tick
	XTicks     []tick
	Empty      bool
}

type dot struct {
	X, Y  float64
	Title string
	Href  string
}

type tick struct {
	Pos    float64
	Label  string
	Anchor string // the x label's text-anchor: start, middle or end (so the ends are not cut)
}

// scale maps [lo, hi] onto [a, b].
type scale struct{ lo, hi, a, b float64 }

func (s scale) at(v float64) float64 {
	if s.hi == s.lo {
		return (s.a + s.b) / 2
	}
	return s.a + (v-s.lo)/(s.hi-s.lo)*(s.b-s.a)
}

// newTrend lays out a series, oldest first. format labels the y axis; rate fixes the axis
// to [0, 1] when the values are rates.
func newTrend(name string, pts []point, format func(float64) string, rate bool) trend {
	t := trend{Name: name, W: chartW, H: chartH}
	var vals []point
	for _, p := range pts {
		if finite(p.V) {
			vals = append(vals, p)
		}
	}
	if len(vals) == 0 {
		t.Empty = true
		return t
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range vals {
		lo, hi = math.Min(lo, math.Min(p.V, p.Lo)), math.Max(hi, math.Max(p.V, p.Hi))
	}
	if rate {
		lo, hi = 0, 1
	} else {
		lo = math.Min(lo, 0)
		if hi == lo {
			hi = lo + 1
		}
		hi *= 1.05
	}
	x := scale{0, float64(max(len(vals)-1, 1)), padL, chartW - padR}
	if len(vals) == 1 {
		x = scale{-1, 1, padL, chartW - padR}
	}
	y := scale{lo, hi, chartH - padB, padT}
	var line, upper, lower strings.Builder
	for i, p := range vals {
		px, py := x.at(float64(i)), y.at(p.V)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		line.WriteString(cmd + num(px) + " " + num(py) + " ")
		upper.WriteString(cmd + num(px) + " " + num(y.at(p.Hi)) + " ")
		t.Dots = append(t.Dots, dot{X: px, Y: py, Title: p.Title, Href: p.Href})
	}
	for i := len(vals) - 1; i >= 0; i-- {
		lower.WriteString("L" + num(x.at(float64(i))) + " " + num(y.at(vals[i].Lo)) + " ")
	}
	t.Line = strings.TrimSpace(line.String())
	t.Band = strings.TrimSpace(upper.String() + lower.String() + "Z")
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		t.YTicks = append(t.YTicks, tick{Pos: y.at(v), Label: format(v)})
	}
	// At most six dates along the bottom, first and last included.
	step := max(1, (len(vals)+4)/5)
	for i := 0; i < len(vals); i += step {
		t.XTicks = append(t.XTicks, tick{Pos: x.at(float64(i)), Label: vals[i].Label})
	}
	if last := len(vals) - 1; last%step != 0 {
		t.XTicks = append(t.XTicks, tick{Pos: x.at(float64(last)), Label: vals[last].Label})
	}
	for i := range t.XTicks {
		t.XTicks[i].Anchor = "middle"
	}
	if n := len(t.XTicks); n > 1 {
		t.XTicks[0].Anchor, t.XTicks[n-1].Anchor = "start", "end"
	}
	return t
}

// scatterChart is the cost–quality view: one dot per model (or prompt) at its cost per
// case and pass rate, with the pass rate's 95% interval as a vertical bar.
type scatterChart struct {
	W, H   int
	Dots   []scatterDot
	XTicks []tick
	YTicks []tick
	Empty  bool
}

type scatterDot struct {
	X, Y, YLo, YHi float64
	Label, Title   string
	Anchor         string  // the label's text-anchor: labels right of the middle end at the dot
	DX             float64 // the label's offset from the dot
}

// entry is one dot of the cost–quality view.
type entry struct {
	Label     string
	Cost      float64 // USD per case
	Passed, N int
}

// newScatter lays out the cost–quality view; the x axis starts at 0 so that "cheaper" is
// read as a distance.
func newScatter(es []entry) scatterChart {
	c := scatterChart{W: chartW, H: chartH + 40}
	if len(es) == 0 {
		c.Empty = true
		return c
	}
	hiX := 0.0
	for _, e := range es {
		hiX = math.Max(hiX, e.Cost)
	}
	if hiX == 0 {
		hiX = 1e-6
	}
	hiX *= 1.15
	x := scale{0, hiX, padL, chartW - padR - 8}
	y := scale{0, 1, float64(c.H - padB), padT}
	for _, e := range es {
		lo, hi := wilson(e.Passed, e.N)
		r := ratio(e.Passed, e.N)
		d := scatterDot{X: x.at(e.Cost), Y: y.at(r), YLo: y.at(lo), YHi: y.at(hi), Label: e.Label,
			Title: e.Label + ": " + wilsonText(e.Passed, e.N) + " at " + usd(e.Cost) + " per case", Anchor: "start", DX: 7}
		if d.X > chartW/2 {
			d.Anchor, d.DX = "end", -7
		}
		c.Dots = append(c.Dots, d)
	}
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		c.YTicks = append(c.YTicks, tick{Pos: y.at(v), Label: pct(v)})
		xv := hiX * float64(i) / 4
		c.XTicks = append(c.XTicks, tick{Pos: x.at(xv), Label: usd(xv), Anchor: "middle"})
	}
	return c
}

// wilson is the 95% Wilson interval of passed out of n.
func wilson(passed, n int) (lo, hi float64) {
	ci := stats.Wilson(passed, n, 0.95)
	return ci.Lo, ci.Hi
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num writes a coordinate with two decimals: enough for the eye, short in the page.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
