package eval

import (
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
