package metric

import "math"

// Cosine is the cosine similarity of a and b, in [−1, 1]. Vectors of different lengths, empty
// vectors and zero vectors have no defined angle and give 0; callers that must tell these
// apart from orthogonal vectors check the lengths first.
func Cosine(a, b []float64) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 {
		return 0
	}
	// Rounding can push the quotient of parallel vectors a hair past ±1.
	return max(-1, min(1, dot/(math.Sqrt(na)*math.Sqrt(nb))))
}
