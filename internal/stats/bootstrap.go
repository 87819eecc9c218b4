package stats

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultResamples is the number of bootstrap resamples used when a caller passes 0 or less.
const DefaultResamples = 10000

// DefaultSeed is the seed reports use so that the same results give the same intervals.
const DefaultSeed = 1

// LargeSample is the sample size from which the bootstrap and the sign-flip test give way to
// their normal approximations. By then the sampling distribution of a mean is normal to well
// within the resampling noise (central limit theorem), and resampling would cost
// n × 10,000 draws — 10^9 for a 100,000-result run — for no better answer.
const LargeSample = 20000

// normalMean is the mean of xs and its standard error.
func normalMean(xs []float64) (mean, se float64) {
	mean = Mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	n := float64(len(xs))
	return mean, math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// pcgStream is the fixed second half of the PCG state; only the caller's seed varies, so a
// seed alone names a reproducible stream.
const pcgStream = 0x9e3779b97f4a7c15

// BootstrapMean returns the two-sided percentile bootstrap interval for the mean of xs at the
// given confidence, from resamples resamples drawn with a PCG generator seeded with seed
// (from LargeSample values on, the normal interval mean ± z·SE). A sample of few distinct
// values, such as pass/fail or graded scores, is resampled as counts of each value: the same
// distribution, far faster (see resampleMeans). An empty xs or a confidence outside (0, 1)
// gives NaN bounds.
func BootstrapMean(xs []float64, confidence float64, resamples int, seed uint64) Interval {
	if len(xs) == 0 || !(confidence > 0 && confidence < 1) {
		return Interval{math.NaN(), math.NaN()}
	}
	if len(xs) >= LargeSample {
		m, se := normalMean(xs)
		z := Z(confidence, 2)
		return Interval{m - z*se, m + z*se}
	}
	means := resampleMeans(xs, resamples, seed)
	alpha := 1 - confidence
	return Interval{sortedQuantile(means, alpha/2), sortedQuantile(means, 1-alpha/2)}
}

// BootstrapMeanBound returns the one-sided percentile bootstrap bound for the mean of xs: the
// (1 − confidence) quantile of the resampled means when lower is true, the confidence quantile
// otherwise. An empty xs or a confidence outside (0, 1) gives NaN.
func BootstrapMeanBound(xs []float64, confidence float64, resamples int, seed uint64, lower bool) float64 {
	if len(xs) == 0 || !(confidence > 0 && confidence < 1) {
		return math.NaN()
	}
	if len(xs) >= LargeSample {
		m, se := normalMean(xs)
		if lower {
			return m - Z(confidence, 1)*se
		}
		return m + Z(confidence, 1)*se
	}
	means := resampleMeans(xs, resamples, seed)
	if lower {
		return sortedQuantile(means, 1-confidence)
	}
	return sortedQuantile(means, confidence)
}

// PairedBootstrap compares paired scores a[i] and b[i] of the same cases. diff is the mean of
// b − a; ci is the two-sided percentile interval of the resampled mean difference (cases are
// resampled with replacement, keeping each pair together); p is the two-sided bootstrap
// p-value 2·min(share of resampled means <= 0, share >= 0), capped at 1. Slices of different
// or zero length, or a confidence outside (0, 1), give NaN everywhere.
func PairedBootstrap(a, b []float64, confidence float64, resamples int, seed uint64) (diff float64, ci Interval, p float64) {
	nan := math.NaN()
	if len(a) != len(b) || len(a) == 0 || !(confidence > 0 && confidence < 1) {
		return nan, Interval{nan, nan}, nan
	}
	d := make([]float64, len(a))
	for i := range a {
		d[i] = b[i] - a[i]
	}
	if len(d) >= LargeSample {
		m, se := normalMean(d)
		z := Z(confidence, 2)
		p = 1.0
		if se > 0 {
			p = math.Min(1, 2*distuv.UnitNormal.Survival(math.Abs(m)/se))
		} else if m != 0 {
			p = 0
		}
		return m, Interval{m - z*se, m + z*se}, p
	}
	means := resampleMeans(d, resamples, seed)
	alpha := 1 - confidence
	ci = Interval{sortedQuantile(means, alpha/2), sortedQuantile(means, 1-alpha/2)}

	var atOrBelow, atOrAbove int
	for _, mean := range means {
		if mean <= 0 {
			atOrBelow++
		}
		if mean >= 0 {
			atOrAbove++
		}
	}
	total := float64(len(means))
	p = math.Min(1, 2*math.Min(float64(atOrBelow)/total, float64(atOrAbove)/total))
	return Mean(d), ci, p
}

// maxMultinomialValues is the most distinct values a sample may take for resampleMeans to
// draw its resamples as counts of each value (multinomialSum) rather than value by value
// (resampleSum), and drawsPerValue the fewest values per distinct value with which it does.
//
// Scores take few values: pass/fail 2, their paired differences 3, a judge's grades on
// 0, 0.25, …, 1 take 5 and their differences 9, an 11-point scale 11 and 21. The counts cost
// about one binomial draw per distinct value, ~100 ns, and the values one index each, 3–5 ns
// (a 2-core AMD EPYC), so the counts are faster from about 30 values per distinct value on,
// and by a factor of roughly n/(25·K): ~10× for 1,000 pass/fail differences, ~200× for
// 19,000. At 64 distinct values they win only from 2,048 values, and by at most ~12× below
// LargeSample; a sample with more distinct values is close to continuous, where the gain
// shrinks further. The cap also bounds the counting, which compares each value with the
// distinct ones seen so far (a continuous sample gives up at the 65th), and keeps the counts
// in a 1 KB array on the stack.
const (
	maxMultinomialValues = 64
	drawsPerValue        = 32
)

// resampleMeans draws resamples bootstrap resamples of xs (non-empty) and returns their
// means, sorted. It allocates only the generator and the result, so 10,000 resamples of 1,000
// values stay fast.
//
// When xs takes few distinct values v_1 < … < v_K (see maxMultinomialValues) with counts
// m_1, …, m_K, each resample is drawn as how many times it takes each value instead of as n
// indices. The resampled mean has exactly the same distribution either way, not an
// approximation of it: a resample's mean depends only on those counts C_k (it is
// Σ C_k·v_k / n), and since each of the n independent uniform index draws lands on value k
// with probability m_k/n, (C_1, …, C_K) ~ Multinomial(n; m_1/n, …, m_K/n). That multinomial is
// drawn exactly as a chain of binomials: C_1 ~ Binomial(n, m_1/n); given C_1, …, C_{k−1}, the
// n − C_1 − … − C_{k−1} draws left each land on v_k with probability m_k / (m_k + … + m_K),
// independently, so C_k ~ Binomial(n − C_1 − … − C_{k−1}, m_k / (m_k + … + m_K)); the last
// value takes the draws left. That is at most K − 1 binomial draws per resample (each exact,
// see binomial) instead of n index draws: 10,000 resamples of 19,000 pass/fail differences
// take about 5 ms instead of about a second. The two ways use the generator differently,
// so a seed gives different (equally distributed) resamples in each; each is reproducible
// from the seed, and the counts do not depend on the order of xs.
func resampleMeans(xs []float64, resamples int, seed uint64) []float64 {
	if resamples <= 0 {
		resamples = DefaultResamples
	}
	if allEqual(xs) {
		// Every resample of identical values has the same mean (an eval where every sample
		// passed, say): the distribution is that one point, and drawing it 10,000 times
		// would only spend time. Shares and quantiles over one point are the same.
		return []float64{xs[0]}
	}
	pcg := rand.NewPCG(seed, pcgStream)
	means := make([]float64, resamples)
	var buf [maxMultinomialValues]valueCount
	if groups, ok := countValues(xs, buf[:min(len(buf), len(xs)/drawsPerValue)]); ok {
		multinomialMeans(pcg, groups, len(xs), means)
	} else {
		indexMeans(pcg, xs, means)
	}
	slices.Sort(means)
	return means
}

// indexMeans fills means with the means of resamples of xs drawn index by index.
func indexMeans(pcg *rand.PCG, xs []float64, means []float64) {
	for r := range means {
		means[r] = resampleSum(pcg, xs) / float64(len(xs))
	}
}

// multinomialMeans fills means with the means of resamples of n values whose distinct values
// and counts are groups, drawn as counts (see resampleMeans).
func multinomialMeans(pcg *rand.PCG, groups []valueCount, n int, means []float64) {
	for r := range means {
		means[r] = multinomialSum(pcg, groups, n) / float64(n)
	}
}

// valueCount is one distinct value of a sample and how many times it occurs.
type valueCount struct {
	x float64
	n int
}

// countValues returns the distinct values of xs with their counts, in increasing order, in
// buf's storage, and true; or false when xs has more than len(buf) distinct values or a NaN
// (which equals nothing, itself included).
func countValues(xs []float64, buf []valueCount) ([]valueCount, bool) {
	groups := buf[:0]
next:
	for _, x := range xs {
		for i := range groups {
			if groups[i].x == x {
				groups[i].n++
				continue next
			}
		}
		if len(groups) == len(buf) || math.IsNaN(x) {
			return nil, false
		}
		groups = buf[:len(groups)+1]
		groups[len(groups)-1] = valueCount{x, 1}
	}
	slices.SortFunc(groups, func(a, b valueCount) int { return cmp.Compare(a.x, b.x) })
	return groups, true
}

// multinomialSum returns the sum of one resample, drawn with replacement, of the n values
// whose distinct values and counts are groups (at least one): the count of each value is a
// binomial draw given the counts before it (see resampleMeans).
func multinomialSum(pcg *rand.PCG, groups []valueCount, n int) float64 {
	left, pool := n, n // draws not yet allotted; values of the sample not yet visited
	var sum float64
	for _, g := range groups[:len(groups)-1] {
		c := binomial(pcg, left, float64(g.n)/float64(pool))
		sum += float64(c) * g.x
		left -= c
		pool -= g.n
		if left == 0 {
			return sum
		}
	}
	return sum + float64(left)*groups[len(groups)-1].x
}

func allEqual(xs []float64) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// resampleSum returns the sum of len(xs) values drawn from xs uniformly with replacement.
//
// This is the inner loop of every bootstrap, so it draws two indices per generator call
// (Lemire's multiply-and-reject method on each 32-bit half of the PCG output) and calls the
// concrete generator rather than rand.Rand's Source interface: 1,000 values × 10,000
// resamples take about 40 ms, less than half the time with rand.Rand.Uint64N, and the draw
// stays exactly uniform.
func resampleSum(pcg *rand.PCG, xs []float64) float64 {
	n := uint64(len(xs))
	var sum float64
	if n > math.MaxUint32 {
		// Beyond the fast path's range; no eval has that many samples, but never panic.
		rng := rand.New(pcg)
		for range n {
			sum += xs[rng.Uint64N(n)]
		}
		return sum
	}
	// Products whose low half falls below 2³² mod n are rejected: keeping them would make
	// small indices slightly more likely.
	thresh := uint64(-uint32(n) % uint32(n))
	for drawn := uint64(0); drawn < n; {
		r := pcg.Uint64()
		for _, half := range [2]uint64{r & 0xffffffff, r >> 32} {
			m := half * n
			if m&0xffffffff < thresh || drawn == n {
				continue
			}
			sum += xs[m>>32]
			drawn++
		}
	}
	return sum
}
