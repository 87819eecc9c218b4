package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// seq returns 0, 1, ..., n-1 as float64s: a sample whose mean (n-1)/2 is known exactly.
func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	return xs
}

func TestBootstrapMeanReproducible(t *testing.T) {
	xs := seq(100)
	a := BootstrapMean(xs, 0.95, 2000, DefaultSeed)
	b := BootstrapMean(xs, 0.95, 2000, DefaultSeed)
	if a != b {
		t.Errorf("same seed gave different intervals: %v and %v", a, b)
	}
	if c := BootstrapMean(xs, 0.95, 2000, DefaultSeed+1); c == a {
		t.Errorf("a different seed gave the identical interval %v", c)
	}
	// 0 resamples means the documented default, not an empty or NaN interval.
	if d, e := BootstrapMean(xs, 0.95, 0, 7), BootstrapMean(xs, 0.95, DefaultResamples, 7); d != e {
		t.Errorf("resamples=0 gave %v, DefaultResamples gave %v", d, e)
	}
}

func TestBootstrapMeanInterval(t *testing.T) {
	// 0..99 has mean 49.5 and standard error 29.01/sqrt(100) ≈ 2.90, so the 95% percentile
	// interval is close to 49.5 ± 5.7.
	ci := BootstrapMean(seq(100), 0.95, DefaultResamples, DefaultSeed)
	if !(ci.Lo < 49.5 && 49.5 < ci.Hi) {
		t.Fatalf("interval %v does not contain the sample mean 49.5", ci)
	}
	if math.Abs(ci.Lo-43.8) > 1 || math.Abs(ci.Hi-55.2) > 1 {
		t.Errorf("interval %v, want about [43.8, 55.2]", ci)
	}
	// A constant sample has no uncertainty.
	if got := BootstrapMean([]float64{0.7, 0.7, 0.7}, 0.95, 500, 1); math.Abs(got.Lo-0.7) > 1e-12 || math.Abs(got.Hi-0.7) > 1e-12 {
		t.Errorf("constant sample: %v, want [0.7, 0.7]", got)
	}
}

func TestBootstrapMeanCoverage(t *testing.T) {
	// Draw many samples from a distribution whose mean is known (uniform on [0, 1), mean 0.5)
	// and check that the 95% interval covers it about 95% of the time.
	rng := rand.New(rand.NewPCG(42, 42))
	const trials, n = 300, 60
	covered := 0
	xs := make([]float64, n)
	for trial := range trials {
		for i := range xs {
			xs[i] = rng.Float64()
		}
		ci := BootstrapMean(xs, 0.95, 1000, uint64(trial))
		if ci.Lo <= 0.5 && 0.5 <= ci.Hi {
			covered++
		}
	}
	if rate := float64(covered) / trials; rate < 0.90 || rate > 0.99 {
		t.Errorf("95%% bootstrap interval covered the true mean in %.1f%% of %d samples", 100*rate, trials)
	}
}

func TestBootstrapMeanBound(t *testing.T) {
	xs := seq(50)
	// A one-sided 95% bound is the matching end of the two-sided 90% interval.
	two := BootstrapMean(xs, 0.90, 3000, 9)
	if lo := BootstrapMeanBound(xs, 0.95, 3000, 9, true); lo != two.Lo {
		t.Errorf("lower bound %v, want the two-sided 90%% lower end %v", lo, two.Lo)
	}
	if hi := BootstrapMeanBound(xs, 0.95, 3000, 9, false); hi != two.Hi {
		t.Errorf("upper bound %v, want the two-sided 90%% upper end %v", hi, two.Hi)
	}
	if lo := BootstrapMeanBound(xs, 0.95, 3000, 9, true); !(lo < 24.5) {
		t.Errorf("lower bound %v is not below the mean 24.5", lo)
	}
}

func TestBootstrapBadInput(t *testing.T) {
	for _, tc := range []struct {
		name       string
		xs         []float64
		confidence float64
	}{
		{"empty", nil, 0.95},
		{"confidence 0", seq(5), 0},
		{"confidence 1", seq(5), 1},
		{"confidence NaN", seq(5), math.NaN()},
	} {
		ci := BootstrapMean(tc.xs, tc.confidence, 100, 1)
		if !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) {
			t.Errorf("%s: BootstrapMean = %v, want NaN bounds", tc.name, ci)
		}
		if b := BootstrapMeanBound(tc.xs, tc.confidence, 100, 1, true); !math.IsNaN(b) {
			t.Errorf("%s: BootstrapMeanBound = %v, want NaN", tc.name, b)
		}
	}
}

func TestPairedBootstrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 200
	base := make([]float64, n)
	noise := make([]float64, n)
	better := make([]float64, n)
	for i := range base {
		base[i] = rng.Float64()
		noise[i] = base[i] + (rng.Float64()-0.5)*0.2        // same quality, different noise
		better[i] = base[i] + 0.05 + rng.NormFloat64()*0.05 // a real improvement of 0.05
	}
	for _, tc := range []struct {
		name        string
		a, b        []float64
		significant bool
	}{
		{"identical scores", base, base, false},
		{"noise only", base, noise, false},
		{"real improvement", base, better, true},
		{"real regression", better, base, true},
	} {
		diff, ci, p := PairedBootstrap(tc.a, tc.b, 0.95, DefaultResamples, DefaultSeed)
		var sum float64
		for i := range tc.a {
			sum += tc.b[i] - tc.a[i]
		}
		if want := sum / n; math.Abs(diff-want) > 1e-12 {
			t.Errorf("%s: diff = %v, want mean(b-a) = %v", tc.name, diff, want)
		}
		if !(ci.Lo <= diff && diff <= ci.Hi) {
			t.Errorf("%s: interval %v does not contain diff %v", tc.name, ci, diff)
		}
		if tc.significant != (p < 0.05) {
			t.Errorf("%s: p = %v, want significant=%v", tc.name, p, tc.significant)
		}
		if p < 0 || p > 1 {
			t.Errorf("%s: p = %v outside [0, 1]", tc.name, p)
		}
		// A significant two-sided result and an interval excluding zero go together.
		if excludesZero := ci.Lo > 0 || ci.Hi < 0; excludesZero != tc.significant {
			t.Errorf("%s: interval %v, want excluding zero=%v", tc.name, ci, tc.significant)
		}
	}
	if _, ci, p := PairedBootstrap(base, base, 0.95, 1000, 1); ci.Lo != 0 || ci.Hi != 0 || p != 1 {
		t.Errorf("identical scores: ci %v p %v, want [0, 0] and p = 1", ci, p)
	}
}

func TestPairedBootstrapBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
	}{
		{"lengths differ", seq(3), seq(4)},
		{"empty", nil, nil},
	} {
		diff, ci, p := PairedBootstrap(tc.a, tc.b, 0.95, 100, 1)
		if !math.IsNaN(diff) || !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) || !math.IsNaN(p) {
			t.Errorf("%s: got %v %v %v, want NaN everywhere", tc.name, diff, ci, p)
		}
	}
}

func TestResampleMeansAllocations(t *testing.T) {
	// Per-resample allocations would make 1,000 values × 10,000 resamples slow; only the
	// generator and the result slice may be allocated.
	xs := seq(1000)
	allocs := testing.AllocsPerRun(3, func() { resampleMeans(xs, 1000, 1) })
	if allocs > 3 {
		t.Errorf("resampleMeans allocated %v times per call, want at most 3", allocs)
	}
}

func BenchmarkBootstrapMean1000(b *testing.B) {
	xs := seq(1000)
	for b.Loop() {
		BootstrapMean(xs, 0.95, DefaultResamples, DefaultSeed)
	}
}

func TestResampleSumUniform(t *testing.T) {
	// With xs one-hot at j, resampleSum counts how often index j was drawn; over R resamples
	// of n draws each, every index should come up about R times.
	const resamples = 20000
	for _, n := range []int{1, 2, 3, 7, 10} {
		for j := range n {
			xs := make([]float64, n)
			xs[j] = 1
			pcg := rand.NewPCG(uint64(n), uint64(j))
			var count float64
			for range resamples {
				count += resampleSum(pcg, xs)
			}
			sd := math.Sqrt(resamples * (1 - 1/float64(n)))
			if math.Abs(count-resamples) > 5*sd+1e-9 {
				t.Errorf("n=%d: index %d drawn %v times, want %d ± %.0f", n, j, count, resamples, 5*sd)
			}
		}
	}
}

func TestBootstrapOfIdenticalValues(t *testing.T) {
	ones := []float64{1, 1, 1, 1, 1}
	if ci := BootstrapMean(ones, 0.95, DefaultResamples, DefaultSeed); ci.Lo != 1 || ci.Hi != 1 {
		t.Errorf("interval of identical values = %v, want [1, 1]", ci)
	}
	if b := BootstrapMeanBound(ones, 0.95, DefaultResamples, DefaultSeed, true); b != 1 {
		t.Errorf("lower bound = %v, want 1", b)
	}
	same := []float64{0.2, 0.4, 0.6}
	if diff, ci, p := PairedBootstrap(same, same, 0.95, DefaultResamples, DefaultSeed); diff != 0 || ci.Lo != 0 || ci.Hi != 0 || p != 1 {
		t.Errorf("no change: diff %v ci %v p %v, want 0, [0, 0], 1", diff, ci, p)
	}
	up := []float64{0.7, 0.9, 1.1}
	if diff, ci, p := PairedBootstrap(same, up, 0.95, DefaultResamples, DefaultSeed); math.Abs(diff-0.5) > 1e-12 || math.Abs(ci.Lo-0.5) > 1e-12 || p != 0 {
		t.Errorf("every pair up by 0.5: diff %v ci %v p %v, want 0.5, [0.5, 0.5], 0", diff, ci, p)
	}
}

func TestLargeSamplesUseTheNormalApproximation(t *testing.T) {
	// 40,000 pass/fail scores at 90%: the bootstrap would cost 4·10^8 draws; the normal
	// interval is p ± 1.96·√(p(1−p)/n) = 0.9 ± 0.00294.
	xs := make([]float64, 40000)
	for i := range xs {
		if i%10 != 0 {
			xs[i] = 1
		}
	}
	ci := BootstrapMean(xs, 0.95, DefaultResamples, DefaultSeed)
	if math.Abs(ci.Lo-0.89706) > 2e-5 || math.Abs(ci.Hi-0.90294) > 2e-5 {
		t.Errorf("interval = %v, want about [0.89706, 0.90294]", ci)
	}
	if b := BootstrapMeanBound(xs, 0.95, DefaultResamples, DefaultSeed, true); math.Abs(b-0.89753) > 2e-5 {
		t.Errorf("one-sided lower bound = %v, want about 0.89753", b)
	}
	ys := append([]float64(nil), xs...)
	for i := 0; i < 400; i++ { // 400 of the passes fail in B: a drop of 1 point
		ys[i*10+1] = 0
	}
	diff, _, p := PairedBootstrap(xs, ys, 0.95, DefaultResamples, DefaultSeed)
	if math.Abs(diff+0.01) > 1e-12 || p > 1e-6 {
		t.Errorf("paired: diff %v p %v; want -0.01 and a tiny p", diff, p)
	}
	if p := SignFlipTest(make([]float64, 30000), 0, 1); p != 1 {
		t.Errorf("no differences: p = %v", p)
	}
}

// pairedScores returns n paired scores: pass/fail (about 80% passing) or graded on
// 0, 0.25, …, 1, with about 5% of the cases scored anew in b, as a compare of two runs sees.
func pairedScores(n int, graded bool) (a, b []float64) {
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	score := func() float64 {
		if graded {
			return float64(rng.IntN(5)) / 4
		}
		if rng.IntN(5) == 0 {
			return 0
		}
		return 1
	}
	a, b = make([]float64, n), make([]float64, n)
	for i := range a {
		a[i] = score()
		b[i] = a[i]
		if rng.IntN(20) == 0 {
			b[i] = score()
		}
	}
	return a, b
}

func BenchmarkPairedBootstrap(b *testing.B) {
	for _, graded := range []bool{false, true} {
		for _, n := range []int{1000, 10000, 19000} {
			kind := "binary"
			if graded {
				kind = "graded"
			}
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				xs, ys := pairedScores(n, graded)
				for b.Loop() {
					PairedBootstrap(xs, ys, 0.95, DefaultResamples, DefaultSeed)
				}
			})
		}
	}
}

func BenchmarkBootstrapMeanFewValues(b *testing.B) {
	for _, graded := range []bool{false, true} {
		for _, n := range []int{1000, 10000, 19000} {
			kind := "binary"
			if graded {
				kind = "graded"
			}
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				xs, _ := pairedScores(n, graded)
				for b.Loop() {
					BootstrapMean(xs, 0.95, DefaultResamples, DefaultSeed)
				}
			})
		}
	}
}
