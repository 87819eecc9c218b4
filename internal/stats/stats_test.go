package stats

import (
	"math"
	"testing"
)

// round rounds x to the given number of decimals, as published vectors are.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

func TestZ(t *testing.T) {
	for _, tc := range []struct {
		confidence float64
		sides      int
		want       float64 // NaN means "no answer"
	}{
		{0.95, 2, 1.959964},
		{0.95, 1, 1.644854},
		{0.99, 2, 2.575829},
		{0.90, 2, 1.644854}, // a two-sided 90% interval has one-sided 95% tails
		{0.80, 1, 0.841621},
		{0, 2, math.NaN()},
		{1, 2, math.NaN()},
		{1.5, 1, math.NaN()},
		{math.NaN(), 1, math.NaN()},
		{0.95, 3, math.NaN()},
	} {
		got := Z(tc.confidence, tc.sides)
		if math.IsNaN(tc.want) {
			if !math.IsNaN(got) {
				t.Errorf("Z(%v, %d) = %v, want NaN", tc.confidence, tc.sides, got)
			}
			continue
		}
		if round(got, 6) != tc.want {
			t.Errorf("Z(%v, %d) = %.7f, want %v", tc.confidence, tc.sides, got, tc.want)
		}
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64 // to 4 decimals
	}{
		{81, 263, 0.2553, 0.3662}, // REFERENCE.md §1
		{9, 10, 0.5958, 0.9821},   // REFERENCE.md §1
		{0, 10, 0, 0.2775},        // REFERENCE.md §1
		{10, 10, 0.7225, 1},       // mirror image of k=0
		{0, 0, 0, 1},              // no samples: nothing is known
		{-3, 10, 0, 0.2775},       // out-of-range counts are clamped, not a crash
	} {
		got := Wilson(tc.k, tc.n, 0.95)
		if round(got.Lo, 4) != tc.lo || round(got.Hi, 4) != tc.hi {
			t.Errorf("Wilson(%d, %d, 0.95) = [%.5f, %.5f], want [%v, %v]", tc.k, tc.n, got.Lo, got.Hi, tc.lo, tc.hi)
		}
	}
	// The exact ends must be exactly 0 and 1: a gate "max 0" or "min 1" compares against them.
	if got := Wilson(0, 7, 0.95); got.Lo != 0 {
		t.Errorf("Wilson(0, 7).Lo = %g, want exactly 0", got.Lo)
	}
	if got := Wilson(7, 7, 0.95); got.Hi != 1 {
		t.Errorf("Wilson(7, 7).Hi = %g, want exactly 1", got.Hi)
	}
}

func TestWilsonOneSidedGate(t *testing.T) {
	// The promise: 10 out of 10 cannot prove "at least 90% with 95% confidence",
	// 40 out of 40 can.
	if lb := WilsonLower(10, 10, 0.95); lb >= 0.90 {
		t.Errorf("WilsonLower(10, 10, 0.95) = %.4f, want < 0.90", lb)
	}
	if lb := WilsonLower(40, 40, 0.95); lb < 0.90 {
		t.Errorf("WilsonLower(40, 40, 0.95) = %.4f, want >= 0.90", lb)
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		// One-sided 95% equals the lower end of the two-sided 90% interval.
		{"lower = two-sided 90% lo", WilsonLower(81, 263, 0.95), Wilson(81, 263, 0.90).Lo},
		{"upper = two-sided 90% hi", WilsonUpper(81, 263, 0.95), Wilson(81, 263, 0.90).Hi},
		{"lower with no samples", WilsonLower(0, 0, 0.95), 0},
		{"upper with no samples", WilsonUpper(0, 0, 0.95), 1},
		{"lower with no successes", WilsonLower(0, 50, 0.95), 0},
		{"upper with all successes", WilsonUpper(50, 50, 0.95), 1},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s: got %.6f, want %.6f", tc.name, tc.got, tc.want)
		}
	}
	// A one-sided bound is tighter than the same side of the two-sided interval.
	if WilsonLower(30, 40, 0.95) <= Wilson(30, 40, 0.95).Lo {
		t.Error("one-sided lower bound should be above the two-sided lower end")
	}
}

func TestBinomCDF(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		p    float64
		want float64
	}{
		{1, 10, 0.5, 11.0 / 1024},
		{3, 10, 0.5, 176.0 / 1024}, // 1 + 10 + 45 + 120
		{0, 5, 0.2, math.Pow(0.8, 5)},
		{-1, 10, 0.5, 0},
		{10, 10, 0.3, 1},
		{12, 10, 0.3, 1},
		{0, 0, 0.5, 1},
		{2, 10, 0, 1},
		{2, 10, 1, 0},
	} {
		if got := BinomCDF(tc.k, tc.n, tc.p); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("BinomCDF(%d, %d, %v) = %.12f, want %.12f", tc.k, tc.n, tc.p, got, tc.want)
		}
	}
	for _, p := range []float64{-0.1, 1.1, math.NaN()} {
		if got := BinomCDF(1, 10, p); !math.IsNaN(got) {
			t.Errorf("BinomCDF(1, 10, %v) = %v, want NaN", p, got)
		}
	}
}

func TestMcNemarExact(t *testing.T) {
	for _, tc := range []struct {
		b, c int
		want float64 // to 4 significant digits
	}{
		{1, 9, 0.02148}, // REFERENCE.md §1
		{9, 1, 0.02148}, // symmetric in b and c
		{0, 10, 0.001953},
		{5, 5, 1},
		{0, 0, 1}, // no discordant pairs: no evidence of change
		{3, 4, 1}, // 2·P(X<=3; 7) = 1 exactly
		{0, 1, 1},
	} {
		got := McNemarExact(tc.b, tc.c)
		if sig := roundSig(got, 4); sig != tc.want {
			t.Errorf("McNemarExact(%d, %d) = %.6g, want %v", tc.b, tc.c, got, tc.want)
		}
	}
	if got := McNemarExact(-1, 3); !math.IsNaN(got) {
		t.Errorf("McNemarExact(-1, 3) = %v, want NaN", got)
	}
}

// roundSig rounds x to n significant digits.
func roundSig(x float64, n int) float64 {
	if x == 0 {
		return 0
	}
	return round(x, n-1-int(math.Floor(math.Log10(math.Abs(x)))))
}

func TestMean(t *testing.T) {
	if got := Mean([]float64{1, 2, 3, 4}); got != 2.5 {
		t.Errorf("Mean = %v, want 2.5", got)
	}
	if got := Mean(nil); !math.IsNaN(got) {
		t.Errorf("Mean(nil) = %v, want NaN", got)
	}
}

func TestQuantile(t *testing.T) {
	// numpy's documented example: np.quantile([[10, 7, 4], [3, 2, 1]], 0.5) == 3.5.
	numpyDoc := []float64{10, 7, 4, 3, 2, 1}
	// Hand-checked with numpy's "linear" rule h = (n-1)q on the sorted list [1 1 2 3 4 5 6 9].
	xs := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{numpyDoc, 0.5, 3.5},
		{numpyDoc, 0, 1},
		{numpyDoc, 1, 10},
		{xs, 0.25, 1.75},
		{xs, 0.5, 3.5},
		{xs, 0.9, 6.9},
		{xs, 0.95, 7.95},
		{xs, 0.99, 8.79},
		{[]float64{42}, 0.95, 42},
	} {
		if got := Quantile(tc.xs, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if xs[0] != 3 || xs[7] != 6 {
		t.Errorf("Quantile reordered its input: %v", xs)
	}
	for _, tc := range []struct {
		xs []float64
		q  float64
	}{{nil, 0.5}, {xs, -0.1}, {xs, 1.1}, {xs, math.NaN()}} {
		if got := Quantile(tc.xs, tc.q); !math.IsNaN(got) {
			t.Errorf("Quantile(%v, %v) = %v, want NaN", tc.xs, tc.q, got)
		}
	}
}
