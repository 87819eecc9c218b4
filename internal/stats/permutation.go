package stats

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// maxExactFlips is the most non-zero differences SignFlipTest enumerates exactly (2^16
// assignments); beyond it the test samples random assignments.
const maxExactFlips = 16

// SignFlipTest is the paired permutation (sign-flip) test of whether the differences d have
// mean zero: under that hypothesis each difference is as likely to have either sign, so the
// p-value is the share of sign assignments whose sum is at least as far from zero as the
// observed one. Zero differences carry no information and are left out. Up to 16 non-zero
// differences the test is exact; beyond, it draws resamples random assignments (seeded, so
// that a report is reproducible) and returns (hits + 1) / (resamples + 1), which never
// claims a p-value of exactly 0; from LargeSample differences on, the normal approximation. Unlike a percentile bootstrap it stays valid on a handful of
// pairs: two pairs can never reach p < 0.5.
func SignFlipTest(d []float64, resamples int, seed uint64) float64 {
	var nz []float64
	for _, x := range d {
		if x != 0 && !math.IsNaN(x) {
			nz = append(nz, math.Abs(x))
		}
	}
	if len(nz) == 0 {
		return 1
	}
	observed := 0.0
	for _, x := range d {
		if !math.IsNaN(x) {
			observed += x
		}
	}
	observed = math.Abs(observed)
	tol := 1e-9 * (1 + observed)
	if len(nz) <= maxExactFlips {
		hits := 0
		total := 1 << len(nz)
		for mask := 0; mask < total; mask++ {
			sum := 0.0
			for i, x := range nz {
				if mask&(1<<i) != 0 {
					sum -= x
				} else {
					sum += x
				}
			}
			if math.Abs(sum) >= observed-tol {
				hits++
			}
		}
		return float64(hits) / float64(total)
	}
	if len(nz) >= LargeSample {
		// Under "no change" the signed sum has mean 0 and variance Σd², and is normal to
		// well within the sampling noise at this size.
		var ss float64
		for _, x := range nz {
			ss += x * x
		}
		return math.Min(1, 2*distuv.UnitNormal.Survival(observed/math.Sqrt(ss)))
	}
	if resamples <= 0 {
		resamples = DefaultResamples
	}
	rng := rand.New(rand.NewPCG(seed, pcgStream))
	hits := 0
	for range resamples {
		sum := 0.0
		for _, x := range nz {
			if rng.Uint64()&1 == 1 {
				sum -= x
			} else {
				sum += x
			}
		}
		if math.Abs(sum) >= observed-tol {
			hits++
		}
	}
	return float64(hits+1) / float64(resamples+1)
}
