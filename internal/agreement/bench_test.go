package agreement

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// bench10000x5 is 10,000 items rated by 5 annotators on a 1–5 scale: each annotator gives
// the item's true grade with probability 0.7, else a random grade, and 5% of ratings are
// missing (for α only; the κ statistics get the complete data).
type bench10000x5 struct {
	grades [][]int     // items × annotators, complete
	labels [][]string  // the same as strings
	units  [][]float64 // with 5% missing removed
	lunits [][]string
	counts [][]int // items × 5 categories
	a, b   []string
	scores [][]float64 // continuous scores, ~50,000 distinct values
}

func newBench10000x5() bench10000x5 {
	const items, raters = 10000, 5
	rng := rand.New(rand.NewPCG(7, 8))
	var d bench10000x5
	for range items {
		truth := 1 + rng.IntN(5)
		g := make([]int, raters)
		l := make([]string, raters)
		c := make([]int, 5)
		var u, s []float64
		var lu []string
		for r := range g {
			g[r] = truth
			if rng.Float64() < 0.3 {
				g[r] = 1 + rng.IntN(5)
			}
			l[r] = "grade-" + strconv.Itoa(g[r])
			c[g[r]-1]++
			if rng.Float64() >= 0.05 {
				u = append(u, float64(g[r]))
				lu = append(lu, l[r])
				s = append(s, float64(truth)+rng.NormFloat64())
			}
		}
		d.grades = append(d.grades, g)
		d.labels = append(d.labels, l)
		d.counts = append(d.counts, c)
		d.units = append(d.units, u)
		d.lunits = append(d.lunits, lu)
		d.scores = append(d.scores, s)
		d.a = append(d.a, l[0])
		d.b = append(d.b, l[1])
	}
	return d
}

// BenchmarkAgreement10000x5 times each statistic on 10,000 items × 5 annotators; the target
// is well under a second each.
func BenchmarkAgreement10000x5(b *testing.B) {
	d := newBench10000x5()
	cases := []struct {
		name string
		f    func() (float64, error)
	}{
		{"CohenKappa", func() (float64, error) { return CohenKappa(d.a, d.b) }},
		{"FleissKappa", func() (float64, error) { return FleissKappa(d.counts) }},
		{"FleissKappaLabels", func() (float64, error) { return FleissKappaLabels(d.labels) }},
		{"AlphaLabels", func() (float64, error) { return KrippendorffAlphaLabels(d.lunits) }},
		{"AlphaNominal", func() (float64, error) { return KrippendorffAlpha(d.units, Nominal) }},
		{"AlphaOrdinal", func() (float64, error) { return KrippendorffAlpha(d.units, Ordinal) }},
		{"AlphaInterval", func() (float64, error) { return KrippendorffAlpha(d.units, Interval) }},
		{"AlphaRatio", func() (float64, error) { return KrippendorffAlpha(d.units, Ratio) }},
		{"AlphaIntervalContinuous", func() (float64, error) { return KrippendorffAlpha(d.scores, Interval) }},
		{"AlphaOrdinalContinuous", func() (float64, error) { return KrippendorffAlpha(d.scores, Ordinal) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
