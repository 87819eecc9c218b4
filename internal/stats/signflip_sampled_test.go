package stats

import (
	"math"
	"testing"
)

// exactSignFlip enumerates every sign assignment of d (at most ~20 values).
func exactSignFlip(d []float64) float64 {
	observed := 0.0
	for _, x := range d {
		observed += x
	}
	observed = math.Abs(observed)
	hits, total := 0, 1<<len(d)
	for mask := range total {
		sum := 0.0
		for i, x := range d {
			if mask&(1<<i) != 0 {
				sum -= math.Abs(x)
			} else {
				sum += math.Abs(x)
			}
		}
		if math.Abs(sum) >= observed-1e-9*(1+observed) {
			hits++
		}
	}
	return float64(hits) / float64(total)
}

// TestSignFlipTestSampledMatchesEnumeration checks the sampled test (beyond 16 non-zero
// differences) against full enumeration, with magnitudes that repeat (drawn as groups) and
// that do not (drawn one sign at a time): within 4 standard errors of 10,000 draws.
func TestSignFlipTestSampledMatchesEnumeration(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    []float64
	}{
		{"graded, few magnitudes", []float64{-1.0 / 3, -1.0 / 3, -2.0 / 3, 1.0 / 3, -1.0 / 3, -1, -1.0 / 3, 2.0 / 3,
			-1.0 / 3, -1.0 / 3, -2.0 / 3, -1.0 / 3, 1.0 / 3, -1.0 / 3, -1.0 / 3, -2.0 / 3, 1.0 / 3, -1.0 / 3}},
		{"all distinct", []float64{-0.11, 0.23, -0.31, -0.47, 0.05, -0.62, 0.19, 0.08, -0.27, -0.35,
			0.14, -0.52, -0.09, -0.41, 0.33, -0.16, -0.21, -0.07}},
		{"mixed", []float64{-0.5, -0.5, 0.5, 0.5, -0.25, -0.75, -0.5, 0.1, -0.5, 0.5,
			-0.5, 0.5, -0.5, -0.5, 0.3, -0.5, -0.5, 0.5, -0.5}},
	} {
		want := exactSignFlip(tc.d)
		got := SignFlipTest(tc.d, 10000, DefaultSeed)
		se := math.Sqrt(want * (1 - want) / 10000)
		if math.Abs(got-want) > 4*se+1e-4 {
			t.Errorf("%s: sampled p = %.4f, exact %.4f (standard error %.4f)", tc.name, got, want, se)
		}
		if want < 0.02 || want > 0.98 {
			t.Errorf("%s: exact p %.4f is too extreme to test the sampling against", tc.name, want)
		}
	}
}
