package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// gofSignificance is the significance of each chi-square goodness-of-fit test below: a
// correct sampler fails one with probability 1e-4, so all 26 of them together with
// probability about 0.3% for a random seed. The seeds are fixed, so a run is deterministic;
// the level says how unlucky a fixed seed would have to be for a correct sampler to fail.
const gofSignificance = 1e-4

// chiSquareGOF tests counts (how often each of 0, 1, … was drawn, total draws in all) against
// the probabilities probs of the same outcomes. Neighbouring outcomes are pooled until each
// cell expects at least 5 draws, as the chi-square approximation needs. It returns the
// p-value, or an error when an outcome of probability 0 was drawn.
func chiSquareGOF(counts []int, probs []float64, total int) (p float64, df int, err error) {
	var stat, expCell float64
	var obsCell, cells int
	lastExp, lastObs := 0.0, 0
	for k, pk := range probs {
		o := 0
		if k < len(counts) {
			o = counts[k]
		}
		if pk == 0 && o > 0 {
			return 0, 0, fmt.Errorf("outcome %d drawn %d times, has probability 0", k, o)
		}
		expCell += pk * float64(total)
		obsCell += o
		if expCell >= 5 {
			stat += (float64(obsCell) - expCell) * (float64(obsCell) - expCell) / expCell
			lastExp, lastObs = expCell, obsCell
			cells++
			expCell, obsCell = 0, 0
		}
	}
	for k := len(probs); k < len(counts); k++ {
		if counts[k] > 0 {
			return 0, 0, fmt.Errorf("outcome %d drawn %d times, has probability 0", k, counts[k])
		}
	}
	if expCell > 0 || obsCell > 0 {
		// The leftover tail joins the last full cell.
		stat -= (float64(lastObs) - lastExp) * (float64(lastObs) - lastExp) / lastExp
		e, o := lastExp+expCell, float64(lastObs+obsCell)
		stat += (o - e) * (o - e) / e
	}
	df = cells - 1
	if df < 1 {
		return 1, df, nil
	}
	return distuv.ChiSquared{K: float64(df)}.Survival(stat), df, nil
}

func TestBinomialMatchesExactDistribution(t *testing.T) {
	const draws = 200000
	for i, tc := range []struct {
		n int
		p float64
	}{
		{1, 0.3}, {5, 0.5}, {20, 0.1}, {24, 0.93}, // inversion, small n
		{100, 0.2}, {1000, 0.029}, // inversion up to a mean of 29
		{60, 0.5}, {1000, 0.03}, // BTPE from a mean of 30
		{200, 0.35}, {5000, 0.7}, // BTPE, and counting failures above p = 0.5
		{19000, 0.5}, {19000, 0.95}, // BTPE on the largest bootstrapped samples
		{19000, 1.0 / 19000}, {19000, 1 - 3.0/19000}, // a rare value among many
	} {
		probs := make([]float64, tc.n+1)
		for k := range probs {
			probs[k] = distuv.Binomial{N: float64(tc.n), P: tc.p}.Prob(float64(k))
		}
		pcg := rand.NewPCG(uint64(i), 11)
		counts := make([]int, tc.n+1)
		for range draws {
			x := binomial(pcg, tc.n, tc.p)
			if x < 0 || x > tc.n {
				t.Fatalf("Binomial(%d, %v): drew %d", tc.n, tc.p, x)
			}
			counts[x]++
		}
		p, df, err := chiSquareGOF(counts, probs, draws)
		t.Logf("Binomial(%d, %v): chi-square p = %.3g (%d df)", tc.n, tc.p, p, df)
		if err != nil {
			t.Errorf("Binomial(%d, %v): %v", tc.n, tc.p, err)
		} else if p < gofSignificance {
			t.Errorf("Binomial(%d, %v): %d draws differ from the binomial law: chi-square p = %.2g (%d df)", tc.n, tc.p, draws, p, df)
		}
	}
	for _, tc := range []struct {
		n    int
		p    float64
		want int
	}{{0, 0.5, 0}, {10, 0, 0}, {10, math.NaN(), 0}, {10, 1, 10}, {-3, 0.5, 0}} {
		if got := binomial(rand.NewPCG(1, 1), tc.n, tc.p); got != tc.want {
			t.Errorf("binomial(%d, %v) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

// TestChiSquareGOFHasPower shows that the goodness-of-fit test above can fail: a rounded
// normal approximation of Binomial(100, 0.2), which is what an inexact sampler would give,
// is rejected with the same number of draws.
func TestChiSquareGOFHasPower(t *testing.T) {
	const n, prob, draws = 100, 0.2, 200000
	probs := make([]float64, n+1)
	for k := range probs {
		probs[k] = distuv.Binomial{N: n, P: prob}.Prob(float64(k))
	}
	rng := rand.New(rand.NewPCG(3, 3))
	counts := make([]int, n+1)
	sd := math.Sqrt(n * prob * (1 - prob))
	for range draws {
		x := int(math.Round(n*prob + sd*rng.NormFloat64()))
		counts[min(max(x, 0), n)]++
	}
	if p, _, err := chiSquareGOF(counts, probs, draws); err != nil || p >= gofSignificance {
		t.Errorf("a rounded normal passed as Binomial(%d, %v): p = %v, err %v", n, prob, p, err)
	}
}

// sumDistribution is the exact distribution of the sum of n draws with replacement from a
// sample whose values are the integers v with counts m: probs[s] is the probability that the
// sum is lo + s.
func sumDistribution(v, m []int, n int) (probs []float64, lo int) {
	vmin, vmax, total := slices.Min(v), slices.Max(v), 0
	for _, c := range m {
		total += c
	}
	probs = []float64{1}
	for range n {
		next := make([]float64, len(probs)+vmax-vmin)
		for s, ps := range probs {
			if ps == 0 {
				continue
			}
			for k := range v {
				next[s+v[k]-vmin] += ps * float64(m[k]) / float64(total)
			}
		}
		probs = next
	}
	return probs, n * vmin
}

// quantileBand returns the q−δ and q+δ quantiles of the distribution probs (of lo, lo+1, …).
// The empirical distribution function of R draws has standard error at most
// √(q(1−q)/R) at the q quantile, so with δ four of those the sample q quantile of R draws
// falls between the two except with probability about 6e-5.
func quantileBand(probs []float64, lo int, q float64, draws int) (below, above int) {
	delta := 4 * math.Sqrt(q*(1-q)/float64(draws))
	quantile := func(level float64) int {
		var cdf float64
		for s, ps := range probs {
			cdf += ps
			if cdf >= level-1e-12 {
				return lo + s
			}
		}
		return lo + len(probs) - 1
	}
	return quantile(math.Max(q-delta, 0)), quantile(math.Min(q+delta, 1))
}

// checkResampledSums checks resampled means of n values, whose values are integers v divided
// by scale, against the exact distribution of their sum: a chi-square goodness of fit of
// the sums, and the quantiles that percentile intervals read within Monte Carlo error.
func checkResampledSums(t *testing.T, what string, means []float64, v, m []int, scale float64) {
	t.Helper()
	n := 0
	for _, c := range m {
		n += c
	}
	probs, lo := sumDistribution(v, m, n)
	counts := make([]int, len(probs))
	for _, mean := range means {
		s := int(math.Round(mean*float64(n)*scale)) - lo
		if s < 0 || s >= len(counts) || math.Abs(mean*float64(n)*scale-float64(s+lo)) > 1e-6 {
			t.Fatalf("%s: resampled mean %v is not a possible mean", what, mean)
		}
		counts[s]++
	}
	p, df, err := chiSquareGOF(counts, probs, len(means))
	t.Logf("%s: chi-square p = %.3g (%d df)", what, p, df)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	} else if p < gofSignificance {
		t.Errorf("%s: %d resampled means differ from the exact bootstrap distribution: chi-square p = %.2g (%d df)", what, len(means), p, df)
	}
	sorted := slices.Sorted(slices.Values(means))
	for _, q := range []float64{0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975} {
		got := sortedQuantile(sorted, q) * float64(n) * scale
		below, above := quantileBand(probs, lo, q, len(means))
		if got < float64(below)-1e-6 || got > float64(above)+1e-6 {
			t.Errorf("%s: the %v quantile of the resampled sums is %v, the exact one within Monte Carlo error is in [%d, %d]", what, q, got, below, above)
		}
	}
}

// sample lays out the values v/scale with counts m, shuffled.
func sample(v, m []int, scale float64, seed uint64) []float64 {
	var xs []float64
	for k := range v {
		for range m[k] {
			xs = append(xs, float64(v[k])/scale)
		}
	}
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	return xs
}

// TestCountsAndIndicesResampleAlike checks that drawing counts (the multinomial path) and
// drawing indices give the same distribution of the resampled mean: both against the exact
// bootstrap distribution, computed by convolving the sample's distribution n times.
func TestCountsAndIndicesResampleAlike(t *testing.T) {
	const resamples = 20000
	for i, tc := range []struct {
		name  string
		v, m  []int // values (times scale) and their counts
		scale float64
	}{
		{"pass/fail, 12 of 40 passing", []int{0, 1}, []int{28, 12}, 1},
		{"paired pass/fail differences", []int{-1, 0, 1}, []int{7, 45, 8}, 1},
		{"grades 0, 0.25, …, 1", []int{0, 1, 2, 3, 4}, []int{5, 10, 15, 12, 8}, 4},
		{"differences of grades", []int{-4, -3, -2, -1, 0, 1, 2, 3, 4}, []int{1, 2, 4, 9, 50, 10, 6, 3, 5}, 4},
		{"one rare value", []int{0, 1, 2}, []int{1, 60, 3}, 2},
		{"five values", []int{0, 1}, []int{2, 3}, 1},
	} {
		xs := sample(tc.v, tc.m, tc.scale, uint64(i))
		var buf [maxMultinomialValues]valueCount
		groups, ok := countValues(xs, buf[:])
		if !ok || len(groups) != len(tc.v) {
			t.Fatalf("%s: counted %v", tc.name, groups)
		}
		counted := make([]float64, resamples)
		multinomialMeans(rand.NewPCG(uint64(i), 1), groups, len(xs), counted)
		checkResampledSums(t, tc.name+", counts", counted, tc.v, tc.m, tc.scale)

		indexed := make([]float64, resamples)
		indexMeans(rand.NewPCG(uint64(i), 2), xs, indexed)
		checkResampledSums(t, tc.name+", indices", indexed, tc.v, tc.m, tc.scale)
	}
}

// TestResampledSumsCheckHasPower shows that checkResampledSums can fail: the resampled means
// of 12 passes in 40 are told apart from the bootstrap distribution of 13 in 40.
func TestResampledSumsCheckHasPower(t *testing.T) {
	xs := sample([]int{0, 1}, []int{28, 12}, 1, 1)
	var buf [maxMultinomialValues]valueCount
	groups, _ := countValues(xs, buf[:])
	means := make([]float64, 20000)
	multinomialMeans(rand.NewPCG(1, 1), groups, len(xs), means)
	probs, lo := sumDistribution([]int{0, 1}, []int{27, 13}, 40)
	counts := make([]int, len(probs))
	for _, mean := range means {
		counts[int(math.Round(mean*40))-lo]++
	}
	if p, _, err := chiSquareGOF(counts, probs, len(means)); err != nil || p >= gofSignificance {
		t.Errorf("12 passes of 40 resampled as if 13: p = %v, err %v", p, err)
	}
}

// TestBootstrapOfThreeValuesMatchesEnumeration checks resampled means of three values against
// the 27 equally likely resamples, enumerated by hand: {0, 1, 1} gives mean 0 with
// probability 1/27, 1/3 with 6/27, 2/3 with 12/27 and 1 with 8/27 (the number of ones is
// Binomial(3, 2/3)). Both ways of drawing must find each mean's share within four standard
// errors of 10,000 resamples, and BootstrapMean's 90% interval must be the 5% and 95%
// quantiles of the enumeration within Monte Carlo error.
func TestBootstrapOfThreeValuesMatchesEnumeration(t *testing.T) {
	const resamples = 10000
	for i, xs := range [][]float64{{0, 1, 1}, {0, 0.5, 2}, {-1, 0, 1}, {0.25, 0.75, 0.25}} {
		exact := map[float64]float64{} // resample sum (exact in float64 here) -> probability
		for _, a := range xs {
			for _, b := range xs {
				for _, c := range xs {
					exact[a+b+c] += 1.0 / 27
				}
			}
		}
		sums := slices.Sorted(func(yield func(float64) bool) {
			for s := range exact {
				if !yield(s) {
					return
				}
			}
		})
		if i == 0 {
			want := map[float64]float64{0: 1.0 / 27, 1: 6.0 / 27, 2: 12.0 / 27, 3: 8.0 / 27}
			for s, p := range want {
				if math.Abs(exact[s]-p) > 1e-12 {
					t.Fatalf("enumeration of {0, 1, 1}: P(sum %v) = %v, want %v", s, exact[s], p)
				}
			}
		}
		// quantile is the q quantile of the exact distribution of the mean.
		quantile := func(q float64) float64 {
			var cdf float64
			for _, s := range sums {
				cdf += exact[s]
				if cdf >= q-1e-12 {
					return s / 3
				}
			}
			return sums[len(sums)-1] / 3
		}
		var buf [maxMultinomialValues]valueCount
		groups, _ := countValues(xs, buf[:])
		for _, way := range []string{"counts", "indices"} {
			means := make([]float64, resamples)
			if way == "counts" {
				multinomialMeans(rand.NewPCG(uint64(i), 5), groups, 3, means)
			} else {
				indexMeans(rand.NewPCG(uint64(i), 6), xs, means)
			}
			got := map[float64]int{}
			for _, m := range means {
				got[math.Round(m*3*1e9)/1e9]++
			}
			for s, p := range exact {
				se := math.Sqrt(p * (1 - p) / resamples)
				if share := float64(got[math.Round(s*1e9)/1e9]) / resamples; math.Abs(share-p) > 4*se {
					t.Errorf("%v by %s: mean %.4g drawn in %.4f of resamples, exactly %.4f (standard error %.4f)", xs, way, s/3, share, p, se)
				}
			}
		}
		ci := BootstrapMean(xs, 0.90, resamples, DefaultSeed)
		d := 4 * math.Sqrt(0.05*0.95/resamples)
		if ci.Lo < quantile(0.05-d)-1e-9 || ci.Lo > quantile(0.05+d)+1e-9 || ci.Hi < quantile(0.95-d)-1e-9 || ci.Hi > quantile(0.95+d)+1e-9 {
			t.Errorf("%v: 90%% interval %v, want the 5%% quantile in [%v, %v] and the 95%% in [%v, %v]", xs, ci,
				quantile(0.05-d), quantile(0.05+d), quantile(0.95-d), quantile(0.95+d))
		}
	}
}

// TestBinomialAcceptIsExact checks BTPE's acceptance test against the binomial probabilities
// themselves: v is accepted up to f(y)/f(m) and not beyond, near the mode (where it is a
// product of ratios) and far from it (log-gamma functions).
func TestBinomialAcceptIsExact(t *testing.T) {
	for _, tc := range []struct{ n, p float64 }{{60, 0.5}, {1000, 0.03}, {19000, 0.5}, {19000, 0.05}} {
		b := distuv.Binomial{N: tc.n, P: tc.p}
		m := math.Floor((tc.n + 1) * tc.p)
		for _, d := range []float64{-60, -21, -20, -7, -1, 0, 1, 3, 20, 21, 45, 200} {
			y := m + d
			if y < 0 || y > tc.n {
				continue
			}
			ratio := math.Exp(b.LogProb(y) - b.LogProb(m))
			if ratio < 1e-300 {
				continue
			}
			if !binomialAccept(ratio*(1-1e-9), tc.n, tc.p, m, y) || binomialAccept(ratio*(1+1e-9), tc.n, tc.p, m, y) {
				t.Errorf("Binomial(%v, %v): acceptance at y = %v does not switch at f(y)/f(m) = %.10g", tc.n, tc.p, y, ratio)
			}
		}
	}
}

func TestCountValues(t *testing.T) {
	var buf [maxMultinomialValues]valueCount
	groups, ok := countValues([]float64{1, 0, 0.5, 1, 0, 1}, buf[:])
	if want := []valueCount{{0, 2}, {0.5, 1}, {1, 3}}; !ok || !slices.Equal(groups, want) {
		t.Errorf("countValues = %v, %v; want %v in increasing order", groups, ok, want)
	}
	if _, ok := countValues(seq(maxMultinomialValues+1), buf[:]); ok {
		t.Errorf("%d distinct values were counted; the most is %d", maxMultinomialValues+1, maxMultinomialValues)
	}
	if _, ok := countValues(seq(maxMultinomialValues), buf[:]); !ok {
		t.Errorf("%d distinct values were not counted", maxMultinomialValues)
	}
	if _, ok := countValues([]float64{0, math.NaN(), 1}, buf[:]); ok {
		t.Error("a NaN was counted as a value")
	}
}

// TestBootstrapOfFewValues checks what a user of the counts path notices: the interval of a
// pass rate agrees with the Wilson interval (both are good at n = 2,000), the same scores in
// another order give the same interval, and the seed still matters.
func TestBootstrapOfFewValues(t *testing.T) {
	a, b := pairedScores(2000, false)
	k := 0
	for _, x := range a {
		k += int(x)
	}
	ci := BootstrapMean(a, 0.95, DefaultResamples, DefaultSeed)
	w := Wilson(k, len(a), 0.95)
	t.Logf("bootstrap %v, Wilson %v", ci, w)
	// The bootstrap's ends are multiples of 1/2,000 and carry a Monte Carlo error of about
	// 0.00025 (10,000 resamples); Wilson's centre sits z²/n·(0.5 − p̂) ≈ −0.0006 from p̂.
	// 0.002 allows for all three.
	if math.Abs(ci.Lo-w.Lo) > 0.002 || math.Abs(ci.Hi-w.Hi) > 0.002 {
		t.Errorf("bootstrap interval %v of %d/%d passing, Wilson %v", ci, k, len(a), w)
	}
	shuffled := slices.Clone(a)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := BootstrapMean(shuffled, 0.95, DefaultResamples, DefaultSeed); got != ci {
		t.Errorf("the same scores in another order gave %v, in the first %v", got, ci)
	}
	if got := BootstrapMean(a, 0.95, DefaultResamples, DefaultSeed+1); got == ci {
		t.Errorf("another seed gave the identical interval %v", got)
	}
	d1, ci1, p1 := PairedBootstrap(a, b, 0.95, DefaultResamples, DefaultSeed)
	d2, ci2, p2 := PairedBootstrap(a, b, 0.95, DefaultResamples, DefaultSeed)
	if d1 != d2 || ci1 != ci2 || p1 != p2 {
		t.Errorf("the same seed gave %v %v %v and %v %v %v", d1, ci1, p1, d2, ci2, p2)
	}
	allocs := testing.AllocsPerRun(3, func() { resampleMeans(a, 1000, 1) })
	if allocs > 3 {
		t.Errorf("resampleMeans of pass/fail scores allocated %v times per call, want at most 3", allocs)
	}
}
