package stats

import (
	"math"
	"math/rand/v2"
)

// binomialInversionMax is the mean n·min(p, 1−p) below which binomial draws by inversion,
// whose cost grows with the mean, and from which it uses BTPE, whose cost does not. 30 is
// the switch of Kachitvichyanukul & Schmeiser's BTPE paper (and of NumPy): BTPE's envelope
// is built for means at least that large.
const binomialInversionMax = 30

// binomial draws from Binomial(n, p), the number of successes in n independent trials of
// probability p, with the generator pcg. It is exact: every draw follows the binomial law
// itself (up to the rounding of its probabilities to float64), not a normal or Poisson
// approximation. Below a mean n·min(p, 1−p) of 30 it inverts the distribution function,
// walking up from 0 (binomialInversion); from 30 on it uses BTPE (binomialBTPE), an
// acceptance–rejection method whose acceptance test here is the exact probability ratio.
// n <= 0 or p <= 0 (or NaN) gives 0, p >= 1 gives n.
//
// gonum's distuv.Binomial is not used: in v0.17 its Rand allocates a rand.Rand on every call,
// and for n >= 25 with n·p < 1 (a rare grade among thousands of scores) it accepts with a
// Padé approximation of log(1+x) and a truncated Stirling series, which makes its law close
// to the binomial but not equal to it.
func binomial(pcg *rand.PCG, n int, p float64) int {
	switch {
	case n <= 0 || !(p > 0):
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		// Counting failures keeps the mean below n/2, where both methods are built to work.
		return n - binomial(pcg, n, 1-p)
	case float64(n)*p < binomialInversionMax:
		return binomialInversion(pcg, n, p)
	}
	return binomialBTPE(pcg, n, p)
}

// uniform returns a float64 uniform on [0, 1) with 53 random bits.
func uniform(pcg *rand.PCG) float64 {
	return float64(pcg.Uint64()>>11) * 0x1p-53
}

// binomialInversion draws from Binomial(n, p) for 0 < p <= 0.5 by inversion: it returns the
// first x at which the distribution function P(X <= x) exceeds a uniform u, computing each
// probability from the one before, f(x+1) = f(x)·(n−x)/(x+1)·p/(1−p). The expected number of
// steps is the mean plus one, under 31 where binomial calls it.
func binomialInversion(pcg *rand.PCG, n int, p float64) int {
	q := 1 - p
	s := p / q
	a := float64(n+1) * s
	f0 := math.Exp(float64(n) * math.Log1p(-p)) // f(0) = (1−p)^n, at least e^-42 here
	for {
		u := uniform(pcg)
		f := f0
		for x := 0; x <= n; x++ {
			if u < f {
				return x
			}
			u -= f
			f *= a/float64(x+1) - s
		}
		// The rounded probabilities sum to slightly less than 1 and u fell in the gap (a
		// chance of order 1e-15): draw u again, which leaves the law exact.
	}
}

// binomialBTPE draws from Binomial(n, p) for p <= 0.5 and n·p >= 30 with algorithm BTPE of
// V. Kachitvichyanukul and B. W. Schmeiser, "Binomial random variate generation",
// Communications of the ACM 31(2):216–222, 1988. A point is drawn under an envelope of the
// distribution (relative to its mode m) made of a triangle, two parallelograms and two
// exponential tails; points in the triangle, which lies under the distribution, are accepted
// at once (about three draws in four), the others when v <= f(y)/f(m), which binomialRatio
// computes exactly instead of the paper's squeeze and truncated Stirling series, which only
// save time (and whose leading constant reads 13680 in NumPy's copy where 166320/12 = 13860).
func binomialBTPE(pcg *rand.PCG, n int, p float64) int {
	nf := float64(n)
	q := 1 - p
	npq := nf * p * q
	fm := nf*p + p // (n+1)p
	m := math.Floor(fm)
	p1 := math.Floor(2.195*math.Sqrt(npq)-4.6*q) + 0.5 // half the triangle's base
	xm := m + 0.5
	xl, xr := xm-p1, xm+p1
	c := 0.134 + 20.5/(15.3+m)
	a := (fm - xl) / (fm - xl*p)
	lamL := a * (1 + a/2)
	a = (xr - fm) / (xr * q)
	lamR := a * (1 + a/2)
	p2 := p1 * (1 + 2*c)
	p3 := p2 + c/lamL
	p4 := p3 + c/lamR
	for {
		u := uniform(pcg) * p4
		v := uniform(pcg)
		var y float64
		switch {
		case u <= p1: // the triangle
			return int(math.Floor(xm - p1*v + u))
		case u <= p2: // the parallelograms
			x := xl + (u-p1)/c
			v = v*c + 1 - math.Abs(xm-x)/p1
			if v > 1 {
				continue
			}
			y = math.Floor(x)
		case u <= p3: // the left tail
			if v == 0 {
				continue
			}
			y = math.Floor(xl + math.Log(v)/lamL)
			if y < 0 {
				continue
			}
			v *= (u - p2) * lamL
		default: // the right tail
			if v == 0 {
				continue
			}
			y = math.Floor(xr - math.Log(v)/lamR)
			if y > nf {
				continue
			}
			v *= (u - p3) * lamR
		}
		if binomialAccept(v, nf, p, m, y) {
			return int(y)
		}
	}
}

// binomialAccept reports whether v <= f(y)/f(m) for the Binomial(n, p) probabilities f:
// by the product of the ratios of neighbouring probabilities when y is near m, and by
// log-gamma functions beyond, exact to rounding either way.
func binomialAccept(v, n, p, m, y float64) bool {
	q := 1 - p
	if math.Abs(y-m) <= 20 {
		s := p / q
		a := (n + 1) * s
		f := 1.0
		for i := m + 1; i <= y; i++ {
			f *= a/i - s
		}
		for i := y + 1; i <= m; i++ {
			f /= a/i - s
		}
		return v <= f
	}
	lm1, _ := math.Lgamma(m + 1)
	lm2, _ := math.Lgamma(n - m + 1)
	ly1, _ := math.Lgamma(y + 1)
	ly2, _ := math.Lgamma(n - y + 1)
	return math.Log(v) <= lm1+lm2-ly1-ly2+(y-m)*math.Log(p/q)
}
