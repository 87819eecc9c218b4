package agreement

import (
	"math"
	"slices"
	"testing"
)

// x marks a missing value in the reliability data below.
var x = math.NaN()

// wikipediaCoders is the reliability data of REFERENCE.md §10 (3 coders × 15 units), the
// computational example of Wikipedia's "Krippendorff's alpha" article: nominal α = 56/81 =
// 0.691358 and interval α = 0.810845 are published there.
var wikipediaCoders = [][]float64{
	{x, x, x, x, x, 3, 4, 1, 2, 1, 1, 3, 3, x, 3},
	{1, x, 2, 1, 3, 3, 4, 3, x, x, x, x, x, x, x},
	{x, x, 2, 1, 3, 4, 4, x, 2, 1, 1, 3, 3, x, 4},
}

// krippendorff2011Coders is the reliability data of Krippendorff (2011), "Computing
// Krippendorff's Alpha-Reliability" (4 observers × 12 units, values 1–5), whose worked
// examples give nominal α = 0.743, ordinal 0.815, interval 0.849 and ratio 0.797 (three
// decimals). The ordinal 0.815 belongs to this data set, not to wikipediaCoders.
var krippendorff2011Coders = [][]float64{
	{1, 2, 3, 3, 2, 1, 4, 1, 2, x, x, x},
	{1, 2, 3, 3, 2, 2, 4, 1, 2, 5, x, 3},
	{x, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, x},
	{1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, x},
}

func mustUnits(t testing.TB, coders [][]float64) [][]float64 {
	t.Helper()
	units, err := UnitsFromCoders(coders)
	if err != nil {
		t.Fatal(err)
	}
	return units
}

// bruteAlpha computes α straight from Krippendorff's (2011) definition, independently of the
// package's closed forms: it builds the coincidence matrix o_ck = Σ_u (pairs c–k in u)/(m_u − 1)
// over distinct values, the marginals n_c, and α = 1 − (n − 1)·Σ o_ck δ²_ck / Σ n_c n_k δ²_ck,
// with the ordinal δ taken literally as Σ_{g=c..k} n_g − (n_c + n_k)/2.
func bruteAlpha(units [][]float64, metric Metric) float64 {
	var vals []float64
	for _, u := range units {
		for _, v := range u {
			if !math.IsNaN(v) && !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
	}
	slices.Sort(vals)
	V := len(vals)
	o := make([][]float64, V)
	for i := range o {
		o[i] = make([]float64, V)
	}
	for _, u := range units {
		var us []int
		for _, v := range u {
			if !math.IsNaN(v) {
				us = append(us, slices.Index(vals, v))
			}
		}
		m := len(us)
		if m < 2 {
			continue
		}
		for i := range us {
			for j := range us {
				if i != j {
					o[us[i]][us[j]] += 1 / float64(m-1)
				}
			}
		}
	}
	nc := make([]float64, V)
	var n float64
	for c := range o {
		for k := range o {
			nc[c] += o[c][k]
		}
		n += nc[c]
	}
	delta2 := func(c, k int) float64 {
		a, b := vals[c], vals[k]
		switch metric {
		case Nominal:
			if c == k {
				return 0
			}
			return 1
		case Ordinal:
			lo, hi := min(c, k), max(c, k)
			var s float64
			for g := lo; g <= hi; g++ {
				s += nc[g]
			}
			s -= (nc[lo] + nc[hi]) / 2
			return s * s
		case Interval:
			return (a - b) * (a - b)
		}
		if a+b == 0 {
			return 0
		}
		return (a - b) * (a - b) / ((a + b) * (a + b))
	}
	var do, de float64
	for c := range o {
		for k := range o {
			d := delta2(c, k)
			do += o[c][k] * d
			de += nc[c] * nc[k] * d
		}
	}
	return 1 - (n-1)*do/de
}

func TestKrippendorffAlphaVectors(t *testing.T) {
	wiki := mustUnits(t, wikipediaCoders)
	k2011 := mustUnits(t, krippendorff2011Coders)
	tests := []struct {
		name   string
		units  [][]float64
		metric Metric
		want   float64
		tol    float64
	}{
		// Published to six decimals (REFERENCE.md §10, Wikipedia).
		{"wikipedia nominal", wiki, Nominal, 56.0 / 81, 5e-5},
		{"wikipedia interval", wiki, Interval, 0.810845, 5e-5},
		// Not published for this data: computed by hand (TestWikipediaOrdinalByHand).
		{"wikipedia ordinal", wiki, Ordinal, 0.806721, 5e-5},
		// Published to three decimals (Krippendorff 2011).
		{"2011 nominal", k2011, Nominal, 0.743, 5e-4},
		{"2011 ordinal", k2011, Ordinal, 0.815, 5e-4},
		{"2011 interval", k2011, Interval, 0.849, 5e-4},
		{"2011 ratio", k2011, Ratio, 0.797, 5e-4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KrippendorffAlpha(tt.units, tt.metric)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > tt.tol {
				t.Errorf("alpha = %.6f, want %.6f", got, tt.want)
			}
			if ref := bruteAlpha(tt.units, tt.metric); math.Abs(got-ref) > 1e-12 {
				t.Errorf("alpha = %.15f, coincidence-matrix definition gives %.15f", got, ref)
			}
		})
	}
}

// TestWikipediaOrdinalByHand pins the ordinal vector to a hand computation. The pairable
// values of wikipediaCoders (units 1, 2 and 14 have fewer than two) are n₁ = 7, n₂ = 4,
// n₃ = 10, n₄ = 5 (n = 26), so the mid-ranks are 3.5, 9, 16, 23.5 and the ordinal δ² for 1–2,
// 1–3, 1–4, 2–3, 2–4, 3–4 are 30.25, 156.25, 400, 49, 210.25, 56.25. The disagreements are in
// unit 8 (1, 3: o₁₃ = o₃₁ = 1), unit 6 (3, 3, 4: o₃₄ = o₄₃ = 2·½) and unit 15 (3, 4: o₃₄ = o₄₃
// = 1), so Σ o δ² = 2·156.25 + 4·56.25 = 537.5. The expected Σ n_c n_k δ² = 2·(7·4·30.25 +
// 7·10·156.25 + 7·5·400 + 4·10·49 + 4·5·210.25 + 10·5·56.25) = 69524, and
// α = 1 − 25·537.5/69524 = 0.806721... (The same counts give the nominal 1 − 25·6/486 = 56/81.)
func TestWikipediaOrdinalByHand(t *testing.T) {
	const want = 1 - 25*537.5/69524
	got, err := KrippendorffAlpha(mustUnits(t, wikipediaCoders), Ordinal)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("ordinal alpha = %.12f, hand computation gives %.12f", got, want)
	}
}
