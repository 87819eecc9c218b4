package stats

import (
	"math"
	"testing"
)

func TestSignFlipTest(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    []float64
		want float64
	}{
		{"no change", []float64{0, 0, 0}, 1},
		// Two pairs that both got worse: 2 of the 4 sign assignments are as extreme.
		{"two pairs", []float64{-1, -1}, 0.5},
		// Ten pairs all worse by one: only the all-minus and all-plus assignments reach 10.
		{"ten pairs", []float64{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, 2.0 / 1024},
		// Zeros are left out: the same as the two-pair case.
		{"zeros ignored", []float64{-1, 0, -1, 0, 0}, 0.5},
		// Mixed signs: 1, 2, -3 sums to 0: every assignment is as extreme.
		{"balanced", []float64{1, 2, -3}, 1},
	} {
		if got := SignFlipTest(tc.d, DefaultResamples, DefaultSeed); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: p = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSignFlipTestSampledAgreesWithExact(t *testing.T) {
	// 20 pairs go beyond exact enumeration; with all 20 worse the exact p is 2/2^20, so the
	// sampled p must be the smallest it can report, 1/(resamples+1).
	d := make([]float64, 20)
	for i := range d {
		d[i] = -0.5
	}
	if got := SignFlipTest(d, 10000, 1); got != 1.0/10001 {
		t.Errorf("p = %v, want %v", got, 1.0/10001)
	}
	// Half better, half worse by the same amount: no evidence at all.
	for i := range 10 {
		d[i] = 0.5
	}
	if got := SignFlipTest(d, 10000, 1); got < 0.99 {
		t.Errorf("balanced: p = %v, want about 1", got)
	}
	if a, b := SignFlipTest(d, 10000, 7), SignFlipTest(d, 10000, 7); a != b {
		t.Errorf("same seed, different p: %v and %v", a, b)
	}
}
