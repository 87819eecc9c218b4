// Package stats holds the statistics that turn eval samples into decisions: Wilson score
// intervals for rates, McNemar's exact test for paired pass/fail outcomes, sample quantiles
// and percentile bootstraps for mean scores and paired score differences.
//
// Every function is pure and never panics on bad input; where an answer does not exist (an
// empty sample, a confidence outside (0, 1)) it returns NaN, or the widest possible interval
// where the contract says so, so that callers can report "n/a" rather than crash.
package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a closed interval [Lo, Hi], typically a confidence interval.
type Interval struct{ Lo, Hi float64 }

// Z returns the standard normal quantile for a confidence level: the two-sided critical value
// (0.95 -> 1.959964) when sides is 2 and the one-sided one (0.95 -> 1.644854) when sides is 1.
// It returns NaN for a confidence outside (0, 1) or sides other than 1 or 2.
func Z(confidence float64, sides int) float64 {
	if !(confidence > 0 && confidence < 1) {
		return math.NaN()
	}
	switch sides {
	case 1:
		return distuv.UnitNormal.Quantile(confidence)
	case 2:
		return distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
	}
	return math.NaN()
}

// Wilson returns the two-sided Wilson score interval for k successes out of n at the given
// confidence. With no samples nothing is known, so it returns [0, 1].
func Wilson(k, n int, confidence float64) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	lo, hi := wilson(k, n, Z(confidence, 2))
	return Interval{lo, hi}
}

// WilsonLower returns the one-sided lower Wilson bound (z = Z(confidence, 1)), the value a
// "rate >= min with confidence c" gate must clear. With no samples it returns 0.
func WilsonLower(k, n int, confidence float64) float64 {
	if n <= 0 {
		return 0
	}
	lo, _ := wilson(k, n, Z(confidence, 1))
	return lo
}

// WilsonUpper returns the one-sided upper Wilson bound (z = Z(confidence, 1)), the value a
// "rate <= max with confidence c" gate must stay under. With no samples it returns 1.
func WilsonUpper(k, n int, confidence float64) float64 {
	if n <= 0 {
		return 1
	}
	_, hi := wilson(k, n, Z(confidence, 1))
	return hi
}

// wilson computes the Wilson score interval at critical value z for n > 0.
func wilson(k, n int, z float64) (lo, hi float64) {
	k = min(max(k, 0), n)
	lo, hi = wilsonP(float64(k)/float64(n), n, z)
	// At k = 0 and k = n the bounds are exactly 0 and 1; the formula only gets there up to
	// rounding, and a report showing "-1e-17" or a gate missing 1.0 by an ulp is wrong.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// wilsonP is the Wilson score interval for an observed proportion p over n > 0 trials.
func wilsonP(p float64, n int, z float64) (lo, hi float64) {
	nf := float64(n)
	z2 := z * z
	denom := 1 + z2/nf
	centre := (p + z2/(2*nf)) / denom
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	return math.Max(centre-half, 0), math.Min(centre+half, 1)
}

// WilsonMean is the two-sided Wilson interval around the mean m of n values in [0, 1]. Of
// all variables in [0, 1] with mean m, a pass/fail one has the largest variance, m(1−m), so
// this interval is at least as wide as the mean's true uncertainty warrants: a conservative
// companion to the bootstrap, which is too narrow on few samples (a single sample gives a
// zero-width bootstrap interval). With no values it is [0, 1].
func WilsonMean(m float64, n int, confidence float64) Interval {
	if n <= 0 || math.IsNaN(m) {
		return Interval{0, 1}
	}
	lo, hi := wilsonP(min(max(m, 0), 1), n, Z(confidence, 2))
	return Interval{lo, hi}
}

// WilsonMeanBound is WilsonMean's one-sided bound at confidence: lower when lower is true.
func WilsonMeanBound(m float64, n int, confidence float64, lower bool) float64 {
	if n <= 0 || math.IsNaN(m) {
		if lower {
			return 0
		}
		return 1
	}
	lo, hi := wilsonP(min(max(m, 0), 1), n, Z(confidence, 1))
	if lower {
		return lo
	}
	return hi
}

// BinomCDF returns P(X <= k) for X ~ Binomial(n, p). It returns NaN for n < 0 or p outside
// [0, 1].
func BinomCDF(k, n int, p float64) float64 {
	if n < 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	return distuv.Binomial{N: float64(n), P: p}.CDF(float64(k))
}

// McNemarExact returns the two-sided p-value of McNemar's exact test for paired pass/fail
// outcomes, where b counts cases that went pass -> fail and c cases that went fail -> pass:
// p = min(1, 2·BinomCDF(min(b, c); b+c, 0.5)). With no discordant pairs there is no evidence
// of a change, so it returns 1. Negative counts give NaN.
func McNemarExact(b, c int) float64 {
	if b < 0 || c < 0 {
		return math.NaN()
	}
	if b+c == 0 {
		return 1
	}
	return math.Min(1, 2*BinomCDF(min(b, c), b+c, 0.5))
}

// Mean returns the arithmetic mean of xs, or NaN when xs is empty.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Quantile returns the q-th sample quantile of xs by linear interpolation between order
// statistics (Hyndman & Fan type 7, the default of R and numpy). It does not modify xs. It
// returns NaN when xs is empty or q is outside [0, 1].
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	return sortedQuantile(sorted, q)
}

// sortedQuantile is Quantile for an already sorted, non-empty slice and q in [0, 1].
func sortedQuantile(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q
	i := int(math.Floor(h))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}
