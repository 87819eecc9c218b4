package eval

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/plumbhq/plumb/internal/report"
)

// BenchmarkComparePaired is the pairing and the tests of two 100,000-sample runs of the same
// suite with graded scores and about 4% of the outcomes changed, as in bench/server.
func BenchmarkComparePaired(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	sa, sb := make([]report.PairSample, 100000), make([]report.PairSample, 100000)
	for i := range sa {
		k := rng.Uint64()
		sa[i] = report.PairSample{Key: k, LabelKey: k, Test: i / 8, Score: float64(2+rng.IntN(2)) / 3}
		sa[i].Passed = sa[i].Score == 1
		sb[i] = sa[i]
		if rng.IntN(25) == 0 {
			sb[i].Score = float64(rng.IntN(4)) / 3
			sb[i].Passed = sb[i].Score == 1
		}
	}
	head := &report.Report{}
	b.ResetTimer()
	for range b.N {
		comparePaired(head, head, sa, sb, 0.05)
	}
}

// BenchmarkComparePairedBelowLargeSample compares runs of 1,000 to 19,000 samples, below
// stats.LargeSample, where the score difference's interval is a paired bootstrap rather than
// the normal approximation: pass/fail scores (0 or 1, about 80% passing) and graded ones
// (0, 0.25, …, 1), with about 5% of the samples scored differently in B.
func BenchmarkComparePairedBelowLargeSample(b *testing.B) {
	for _, graded := range []bool{false, true} {
		for _, n := range []int{1000, 10000, 19000} {
			kind := "binary"
			if graded {
				kind = "graded"
			}
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
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
				sa, sb := make([]report.PairSample, n), make([]report.PairSample, n)
				for i := range sa {
					k := rng.Uint64()
					sa[i] = report.PairSample{Key: k, LabelKey: k, Test: i, Score: score()}
					sa[i].Passed = sa[i].Score >= 0.5
					sb[i] = sa[i]
					if rng.IntN(20) == 0 {
						sb[i].Score = score()
						sb[i].Passed = sb[i].Score >= 0.5
					}
				}
				head := &report.Report{}
				for b.Loop() {
					comparePaired(head, head, sa, sb, 0.05)
				}
			})
		}
	}
}
