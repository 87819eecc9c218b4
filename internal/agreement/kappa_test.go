package agreement

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// fleissCounts is Fleiss' (1971) example as given in REFERENCE.md §10: 10 items, 14 raters,
// 5 categories, κ = 0.2099.
var fleissCounts = [][]int{
	{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
	{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
}

// labelsFromConfusion expands a confusion matrix into the paired labels it counts.
func labelsFromConfusion(confusion [][]int) (a, b []string) {
	for i, row := range confusion {
		for j, c := range row {
			for range c {
				a = append(a, "c"+strconv.Itoa(i))
				b = append(b, "c"+strconv.Itoa(j))
			}
		}
	}
	return a, b
}

// labelsFromCounts expands a Fleiss count matrix into per-item label lists.
func labelsFromCounts(counts [][]int) [][]string {
	items := make([][]string, len(counts))
	for i, row := range counts {
		for j, c := range row {
			for range c {
				items[i] = append(items[i], "c"+strconv.Itoa(j))
			}
		}
	}
	return items
}

func TestKappaVectors(t *testing.T) {
	confusion := [][]int{{20, 20}, {10, 50}}
	a, b := labelsFromConfusion(confusion)
	tests := []struct {
		name string
		got  func() (float64, error)
		want float64
	}{
		// REFERENCE.md §10: pₒ = 0.7, pₑ = 0.4·0.3 + 0.6·0.7 = 0.54, κ = 0.16/0.46.
		{"cohen matrix", func() (float64, error) { return CohenKappaMatrix(confusion) }, 0.3478},
		{"cohen labels", func() (float64, error) { return CohenKappa(a, b) }, 0.3478},
		{"fleiss counts", func() (float64, error) { return FleissKappa(fleissCounts) }, 0.2099},
		{"fleiss labels", func() (float64, error) { return FleissKappaLabels(labelsFromCounts(fleissCounts)) }, 0.2099},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > 5e-5 {
				t.Errorf("kappa = %.6f, want %.4f", got, tt.want)
			}
		})
	}
}

func TestEdgeCases(t *testing.T) {
	units := func(us ...[]float64) [][]float64 { return us }
	tests := []struct {
		name    string
		got     func() (float64, error)
		want    float64 // ignored when wantErr is set: the value must then be NaN
		wantErr error   // a sentinel, or errAny for an input error
	}{
		{"cohen perfect", func() (float64, error) { return CohenKappa([]string{"a", "b", "a"}, []string{"a", "b", "a"}) }, 1, nil},
		{"cohen complete disagreement", func() (float64, error) { return CohenKappa([]string{"a", "b"}, []string{"b", "a"}) }, -1, nil},
		{"cohen one category", func() (float64, error) { return CohenKappa([]string{"ok", "ok"}, []string{"ok", "ok"}) }, 0, ErrNoVariation},
		{"cohen empty", func() (float64, error) { return CohenKappa([]string{}, nil) }, 0, ErrNoData},
		{"cohen lengths differ", func() (float64, error) { return CohenKappa([]int{1, 2}, []int{1}) }, 0, errAny},
		{"cohen matrix one cell", func() (float64, error) { return CohenKappaMatrix([][]int{{5, 0}, {0, 0}}) }, 0, ErrNoVariation},
		{"cohen matrix zeros", func() (float64, error) { return CohenKappaMatrix([][]int{{0, 0}, {0, 0}}) }, 0, ErrNoData},
		{"cohen matrix empty", func() (float64, error) { return CohenKappaMatrix(nil) }, 0, ErrNoData},
		{"cohen matrix not square", func() (float64, error) { return CohenKappaMatrix([][]int{{1, 2}, {3}}) }, 0, errAny},
		{"cohen matrix negative", func() (float64, error) { return CohenKappaMatrix([][]int{{1, -2}, {3, 4}}) }, 0, errAny},
		{"fleiss perfect", func() (float64, error) { return FleissKappa([][]int{{3, 0}, {0, 3}}) }, 1, nil},
		{"fleiss one category", func() (float64, error) { return FleissKappa([][]int{{3, 0}, {3, 0}}) }, 0, ErrNoVariation},
		{"fleiss empty", func() (float64, error) { return FleissKappa(nil) }, 0, ErrNoData},
		{"fleiss unequal raters", func() (float64, error) { return FleissKappa([][]int{{3, 0}, {1, 1}}) }, 0, errAny},
		{"fleiss one rater", func() (float64, error) { return FleissKappa([][]int{{1, 0}, {0, 1}}) }, 0, errAny},
		{"fleiss ragged", func() (float64, error) { return FleissKappa([][]int{{1, 1}, {2}}) }, 0, errAny},
		{"fleiss negative", func() (float64, error) { return FleissKappa([][]int{{3, -1}, {1, 1}}) }, 0, errAny},
		{"fleiss labels unequal", func() (float64, error) { return FleissKappaLabels([][]string{{"a", "b"}, {"a"}}) }, 0, errAny},
		{"fleiss labels empty", func() (float64, error) { return FleissKappaLabels[string](nil) }, 0, ErrNoData},
		{"alpha perfect", func() (float64, error) {
			return KrippendorffAlpha(units([]float64{1, 1}, []float64{2, 2, 2}), Interval)
		}, 1, nil},
		{"alpha one value", func() (float64, error) { return KrippendorffAlpha(units([]float64{3, 3}, []float64{3, 3}), Ordinal) }, 0, ErrNoVariation},
		{"alpha no pairable unit", func() (float64, error) { return KrippendorffAlpha(units([]float64{1}, []float64{2, x}), Nominal) }, 0, ErrNoData},
		{"alpha empty", func() (float64, error) { return KrippendorffAlpha(nil, Interval) }, 0, ErrNoData},
		{"alpha unpairable value ignored", func() (float64, error) {
			// The lone 9 in the last unit cannot be paired, so it neither adds variation
			// nor counts as a disagreement: all pairable values are 1.
			return KrippendorffAlpha(units([]float64{1, 1}, []float64{1, 1}, []float64{9}), Interval)
		}, 0, ErrNoVariation},
		{"alpha infinite", func() (float64, error) { return KrippendorffAlpha(units([]float64{1, math.Inf(1)}), Interval) }, 0, errAny},
		{"alpha ratio negative", func() (float64, error) { return KrippendorffAlpha(units([]float64{1, -1}), Ratio) }, 0, errAny},
		{"alpha unknown metric", func() (float64, error) { return KrippendorffAlpha(units([]float64{1, 2}), Metric(9)) }, 0, errAny},
		{"alpha labels perfect", func() (float64, error) { return KrippendorffAlphaLabels([][]string{{"a", "a"}, {"b", "b", "b"}}) }, 1, nil},
		{"alpha labels one category", func() (float64, error) { return KrippendorffAlphaLabels([][]string{{"a", "a"}, {"a", "a"}, {"b"}}) }, 0, ErrNoVariation},
		{"alpha labels empty", func() (float64, error) { return KrippendorffAlphaLabels([][]string{{"a"}}) }, 0, ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr == nil:
				if math.Abs(got-tt.want) > 1e-12 {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			case err == nil:
				t.Fatalf("got %v and no error, want an error", got)
			case tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			case tt.wantErr == errAny && (errors.Is(err, ErrNoData) || errors.Is(err, ErrNoVariation)):
				t.Errorf("error = %v, want an input error", err)
			case !math.IsNaN(got):
				t.Errorf("got %v with error %v, want NaN", got, err)
			}
		})
	}
}

// errAny stands for "an input error, not a sentinel" in TestEdgeCases.
var errAny = errors.New("any input error")

// TestKappaRelabelInvariant checks that renaming categories (a permutation) changes neither
// κ nor α: the statistics must not depend on label order or spelling.
func TestKappaRelabelInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		const items, raters, k = 40, 3, 4
		perm := rng.Perm(k)
		orig := make([][]int, items)
		renamed := make([][]string, items)
		for i := range orig {
			truth := rng.IntN(k)
			for range raters {
				l := truth
				if rng.Float64() < 0.4 {
					l = rng.IntN(k)
				}
				orig[i] = append(orig[i], l)
				renamed[i] = append(renamed[i], "label-"+strconv.Itoa(perm[l]))
			}
		}
		a, b := column(orig, 0), column(orig, 1)
		ra, rb := column(renamed, 0), column(renamed, 1)
		pairs := []struct {
			name string
			f    func() (float64, error)
			g    func() (float64, error)
		}{
			{"cohen", func() (float64, error) { return CohenKappa(a, b) }, func() (float64, error) { return CohenKappa(ra, rb) }},
			{"fleiss", func() (float64, error) { return FleissKappaLabels(orig) }, func() (float64, error) { return FleissKappaLabels(renamed) }},
			{"alpha", func() (float64, error) { return KrippendorffAlphaLabels(orig) }, func() (float64, error) { return KrippendorffAlphaLabels(renamed) }},
		}
		for _, p := range pairs {
			v, err1 := p.f()
			w, err2 := p.g()
			if err1 != nil || err2 != nil {
				t.Fatalf("trial %d %s: %v, %v", trial, p.name, err1, err2)
			}
			if math.Abs(v-w) > 1e-12 {
				t.Errorf("trial %d %s: %v before relabelling, %v after", trial, p.name, v, w)
			}
		}
	}
}

func column[L any](rows [][]L, j int) []L {
	c := make([]L, len(rows))
	for i, r := range rows {
		c[i] = r[j]
	}
	return c
}

// TestAlphaScottsPi checks Krippendorff's (2011) relation for two coders and no missing
// values: α = 1 − (2N − 1)/(2N)·(1 − π), where π is Scott's π, which is Fleiss' κ with two
// raters. It ties the α and Fleiss implementations to each other.
func TestAlphaScottsPi(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 50 {
		n := 5 + rng.IntN(60)
		items := make([][]int, n)
		for i := range items {
			truth := rng.IntN(3)
			other := truth
			if rng.Float64() < 0.3 {
				other = rng.IntN(3)
			}
			items[i] = []int{truth, other}
		}
		pi, err := FleissKappaLabels(items)
		if errors.Is(err, ErrNoVariation) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		alpha, err := KrippendorffAlphaLabels(items)
		if err != nil {
			t.Fatal(err)
		}
		want := 1 - float64(2*n-1)/float64(2*n)*(1-pi)
		if math.Abs(alpha-want) > 1e-12 {
			t.Errorf("trial %d (N=%d): alpha = %.12f, 1 − (2N−1)/2N·(1 − π) = %.12f", trial, n, alpha, want)
		}
	}
}

// TestAlphaAgainstDefinition compares every metric with bruteAlpha on random data with
// missing values and uneven numbers of coders per unit, and checks the invariances a user
// relies on: interval α does not change with the unit of the scale (affine map), ordinal α
// not with any increasing relabelling of the grades, ratio α not with a change of unit.
func TestAlphaAgainstDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 40 {
		nu, nc := 3+rng.IntN(30), 2+rng.IntN(5)
		units := make([][]float64, nu)
		for u := range units {
			truth := float64(1 + rng.IntN(5))
			for range nc {
				switch r := rng.Float64(); {
				case r < 0.2:
					units[u] = append(units[u], x)
				case r < 0.5:
					units[u] = append(units[u], float64(1+rng.IntN(5)))
				default:
					units[u] = append(units[u], truth)
				}
			}
		}
		transform := func(f func(float64) float64) [][]float64 {
			out := make([][]float64, len(units))
			for u, vs := range units {
				for _, v := range vs {
					out[u] = append(out[u], f(v))
				}
			}
			return out
		}
		for _, m := range []Metric{Nominal, Ordinal, Interval, Ratio} {
			got, err := KrippendorffAlpha(units, m)
			if errors.Is(err, ErrNoVariation) || errors.Is(err, ErrNoData) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if ref := bruteAlpha(units, m); math.Abs(got-ref) > 1e-9 {
				t.Errorf("trial %d %v: alpha = %.12f, definition gives %.12f", trial, m, got, ref)
			}
			var same [][]float64
			switch m {
			case Nominal, Ordinal:
				same = transform(func(v float64) float64 { return math.Exp(v) })
			case Interval:
				same = transform(func(v float64) float64 { return 10 - 2.5*v })
			case Ratio:
				same = transform(func(v float64) float64 { return 60 * v })
			}
			if again, _ := KrippendorffAlpha(same, m); math.Abs(got-again) > 1e-9 {
				t.Errorf("trial %d %v: alpha = %.12f, after an admissible transformation %.12f", trial, m, got, again)
			}
		}
	}
}

func TestLandisKoch(t *testing.T) {
	tests := []struct {
		kappa float64
		want  Strength
	}{
		{-0.1, Poor}, {0, Slight}, {0.2, Slight}, {0.205, Fair}, {0.3478, Fair}, {0.4, Fair},
		{0.41, Moderate}, {0.6, Moderate}, {0.61, Substantial}, {0.8, Substantial},
		{0.81, AlmostPerfect}, {1, AlmostPerfect}, {math.NaN(), UndefinedStrength},
	}
	for _, tt := range tests {
		if got := LandisKoch(tt.kappa); got != tt.want {
			t.Errorf("LandisKoch(%v) = %q, want %q", tt.kappa, got, tt.want)
		}
	}
}

func TestReadAlpha(t *testing.T) {
	tests := []struct {
		alpha float64
		want  Reliability
	}{
		{-0.2, Unreliable}, {0.666, Unreliable}, {0.667, Tentative}, {0.691358, Tentative},
		{0.799, Tentative}, {0.8, Reliable}, {0.810845, Reliable}, {1, Reliable},
		{math.NaN(), UndefinedReliability},
	}
	for _, tt := range tests {
		if got := ReadAlpha(tt.alpha); got != tt.want {
			t.Errorf("ReadAlpha(%v) = %q, want %q", tt.alpha, got, tt.want)
		}
	}
}

func TestUnitsFromCoders(t *testing.T) {
	if _, err := UnitsFromCoders([][]float64{{1, 2}, {1}}); err == nil {
		t.Error("coders with different numbers of entries: want an error")
	}
	units, err := LabelUnitsFromCoders([][]string{{"a", "", "b"}, {"a", "c", ""}}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a", "a"}, {"c"}, {"b"}}
	if len(units) != len(want) {
		t.Fatalf("units = %q, want %q", units, want)
	}
	for i := range want {
		if len(units[i]) != len(want[i]) || (len(want[i]) > 0 && units[i][0] != want[i][0]) {
			t.Errorf("unit %d = %q, want %q", i, units[i], want[i])
		}
	}
}
