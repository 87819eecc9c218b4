package web

import (
	"math"
	"strings"
	"testing"
)

func TestDiffWords(t *testing.T) {
	render := func(ss []span) string {
		var b strings.Builder
		for _, s := range ss {
			if s.Changed {
				b.WriteString("[" + s.Text + "]")
			} else {
				b.WriteString(s.Text)
			}
		}
		return b.String()
	}
	tests := []struct{ a, b, wantA, wantB string }{
		{"the quick brown fox", "the slow brown dog", "the [quick ]brown [fox]", "the [slow ]brown [dog]"},
		{"same text", "same text", "same text", "same text"},
		{"", "new", "", "[new]"},
		{"gone", "", "[gone]", ""},
		// Whitespace changes alone do not mark a word changed in the middle.
		{"a b  c d", "a b c d", "a b  c d", "a b c d"},
		{"Refunds take 5 days.", "Refunds take 10 business days.", "Refunds take [5 ]days.", "Refunds take [10 business ]days."},
		{"<b>x</b> y", "<b>x</b> z", "<b>x</b> [y]", "<b>x</b> [z]"},
	}
	for _, tt := range tests {
		got := diffWords(tt.a, tt.b)
		if ga, gb := render(got.A), render(got.B); ga != tt.wantA || gb != tt.wantB {
			t.Errorf("diffWords(%q, %q) = %q | %q, want %q | %q", tt.a, tt.b, ga, gb, tt.wantA, tt.wantB)
		}
		// Nothing is lost: the spans spell out the outputs.
		if strings.ReplaceAll(strings.ReplaceAll(render(got.A), "[", ""), "]", "") != strings.ReplaceAll(strings.ReplaceAll(tt.a, "[", ""), "]", "") {
			t.Errorf("diffWords(%q, …) lost text of A", tt.a)
		}
	}
	// Outputs whose differing middles exceed maxDiffWords fall back to marking the whole
	// middle between the common start and end (the word diff would have kept the shared
	// "c"s), and stay complete.
	mid := func(w string) string { return strings.Repeat(w+" c ", maxDiffWords) }
	got := diffWords("start "+mid("a")+"end", "start "+mid("b")+"end")
	// The common end is the last "c " and "end".
	if render(got.A) != "start ["+strings.TrimSuffix(mid("a"), "c ")+"]c end" || render(got.B) != "start ["+strings.TrimSuffix(mid("b"), "c ")+"]c end" {
		t.Errorf("long outputs: the middle is not marked whole between the common ends")
	}
}

func TestTrend(t *testing.T) {
	pts := []point{
		{V: 0.9, Lo: 0.8, Hi: 0.95, Label: "Jan 1"},
		{V: math.NaN(), Label: "Jan 2"}, // a run without the metric is left out
		{V: 0.7, Lo: 0.6, Hi: 0.8, Label: "Jan 3"},
	}
	tr := newTrend("Pass rate", pts, pct, true)
	if tr.Empty || len(tr.Dots) != 2 {
		t.Fatalf("trend of 2 finite points: %+v", tr)
	}
	// Rates use the whole [0, 1] axis: 0 at the bottom, 1 at the top.
	if tr.YTicks[0].Label != "0.0%" || tr.YTicks[4].Label != "100.0%" || tr.YTicks[0].Pos != chartH-padB || tr.YTicks[4].Pos != padT {
		t.Errorf("rate axis ticks %+v", tr.YTicks)
	}
	// The higher value is drawn higher (smaller y), and the band spans the interval.
	if !(tr.Dots[0].Y < tr.Dots[1].Y) {
		t.Errorf("0.9 drawn at y=%v, 0.7 at y=%v", tr.Dots[0].Y, tr.Dots[1].Y)
	}
	// y(v) = 152 − 140·v (the plot spans y 152 to 12); x runs from 64 to 548. The band goes
	// along the upper ends (0.95, 0.8) and back along the lower ones (0.6, 0.8).
	wantBand := "M64.00 19.00 L548.00 40.00 L548.00 68.00 L64.00 40.00 Z"
	if tr.Band != wantBand {
		t.Errorf("band = %q, want %q", tr.Band, wantBand)
	}
	if empty := newTrend("x", []point{{V: math.NaN()}}, pct, true); !empty.Empty {
		t.Errorf("a trend without values is not empty")
	}
}

func TestScatter(t *testing.T) {
	c := newScatter([]entry{{Label: "cheap", Cost: 0.001, Passed: 90, N: 100}, {Label: "dear", Cost: 0.01, Passed: 92, N: 100}})
	if len(c.Dots) != 2 || !(c.Dots[0].X < c.Dots[1].X) {
		t.Fatalf("cheaper model not left of the dearer one: %+v", c.Dots)
	}
	// The whisker is the Wilson interval: for 90/100 it is [82.6%, 94.5%].
	d := c.Dots[0]
	if !(d.YHi < d.Y && d.Y < d.YLo) || !strings.Contains(d.Title, "90.0% [82.6%, 94.5%]") {
		t.Errorf("cheap: %+v", d)
	}
}

func TestElide(t *testing.T) {
	long := strings.Repeat("x", 1000)
	got := elide([]span{{Text: long}, {Text: "new", Changed: true}, {Text: long}, {Text: "b", Changed: true}, {Text: long}}, 10)
	want := []span{{Text: " […] " + long[:10]}, {Text: "new", Changed: true}, {Text: long[:10] + " […] " + long[:10]}, {Text: "b", Changed: true}, {Text: long[:10] + " […] "}}
	if len(got) != len(want) {
		t.Fatalf("elide: %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("span %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
