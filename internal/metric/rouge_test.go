package metric

import (
	"math"
	"testing"
)

func TestRouge(t *testing.T) {
	const ref = "the cat sat on the mat"
	for _, tc := range []struct {
		name string
		got  Score
		want Score
	}{
		// Hand-computed with Lin (2004)'s definitions.
		// Unigrams: cand {the:2, cat, was, found, under, bed} (7), ref {the:2, cat, sat, on, mat} (6);
		// overlap the:2 + cat = 3 → P 3/7, R 3/6.
		{"rouge-1", RougeN("the cat was found under the bed", ref, 1),
			Score{3.0 / 7, 3.0 / 6, 2 * (3.0 / 7) * (3.0 / 6) / (3.0/7 + 3.0/6)}},
		// Bigrams: cand {the cat, cat was, was found, found under, under the, the bed} (6),
		// ref 5 bigrams; overlap "the cat" = 1 → P 1/6, R 1/5.
		{"rouge-2", RougeN("the cat was found under the bed", ref, 2),
			Score{1.0 / 6, 1.0 / 5, 2 * (1.0 / 6) * (1.0 / 5) / (1.0/6 + 1.0/5)}},
		// Clipping: "the" occurs 4 times in the candidate but twice in the reference.
		{"rouge-1 clipped", RougeN("the the the the", ref, 1), Score{2.0 / 4, 2.0 / 6, 2 * 0.5 * (2.0 / 6) / (0.5 + 2.0/6)}},
		{"identical", RougeN(ref, "The cat sat on the mat.", 2), Score{1, 1, 1}},
		{"nothing shared", RougeN("dogs bark", ref, 1), Score{}},
		{"shorter than n", RougeN("cat", ref, 2), Score{0, 0, 0}},
		{"n < 1 is unigrams", RougeN("the cat", ref, 0), RougeN("the cat", ref, 1)},
		// LCS of "police killed the gunman" and "police kill the gunman" (Lin 2004, §3.1):
		// "police the gunman" = 3 of 4 tokens each.
		{"rouge-l Lin example", RougeL("police kill the gunman", "police killed the gunman"), Score{0.75, 0.75, 0.75}},
		// Lin's second candidate "the gunman kill police": LCS "the gunman" = 2 → 0.5.
		{"rouge-l word order", RougeL("the gunman kill police", "police killed the gunman"), Score{0.5, 0.5, 0.5}},
		// LCS of "the cat was found under the bed" and ref: "the cat ... the" = 3 → P 3/7, R 3/6.
		{"rouge-l gaps", RougeL("the cat was found under the bed", ref),
			Score{3.0 / 7, 3.0 / 6, 2 * (3.0 / 7) * (3.0 / 6) / (3.0/7 + 3.0/6)}},
		{"rouge-l empty", RougeL("", ref), Score{}},
	} {
		if !close3(tc.got, tc.want) {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

func close3(a, b Score) bool {
	const eps = 1e-12
	return math.Abs(a.Precision-b.Precision) < eps && math.Abs(a.Recall-b.Recall) < eps && math.Abs(a.F1-b.F1) < eps
}

func TestCosine(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"same direction", []float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{"orthogonal", []float64{1, 0}, []float64{0, 1}, 0},
		{"opposite", []float64{1, 1}, []float64{-1, -1}, -1},
		{"45 degrees", []float64{1, 0}, []float64{1, 1}, 1 / math.Sqrt2},
		{"zero vector", []float64{0, 0}, []float64{1, 1}, 0},
		{"length mismatch", []float64{1, 2}, []float64{1, 2, 3}, 0},
		{"empty", nil, nil, 0},
	} {
		if got := Cosine(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Cosine = %v, want %v", tc.name, got, tc.want)
		}
	}
}
