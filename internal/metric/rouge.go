package metric

// Score is a precision / recall / F-measure triple, each in [0, 1].
type Score struct {
	Precision float64
	Recall    float64
	F1        float64
}

// RougeN is ROUGE-N (Lin 2004) of candidate against reference, after Tokenize: the overlap is
// the number of n-grams the two share, each counted at most as often as it occurs in either;
// precision divides it by the candidate's n-grams, recall by the reference's, and F1 is
// their harmonic mean. Texts shorter than n have no n-grams and score 0. n < 1 is taken as 1.
func RougeN(candidate, reference string, n int) Score {
	n = max(n, 1)
	cc, ct := ngrams(Tokenize(candidate), n)
	rc, rt := ngrams(Tokenize(reference), n)
	overlap := 0
	for g, c := range cc {
		overlap += min(c, rc[g])
	}
	return prf(overlap, ct, rt)
}

// RougeL is ROUGE-L (Lin 2004) of candidate against reference, after Tokenize: with L the
// length of their longest common subsequence of tokens, precision is L over the candidate's
// length, recall L over the reference's, and F1 their harmonic mean (beta = 1).
func RougeL(candidate, reference string) Score {
	c, r := Tokenize(candidate), Tokenize(reference)
	return prf(lcs(c, r), len(c), len(r))
}

// lcs is the length of the longest common subsequence of a and b, in O(len(b)) memory.
func lcs(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// prf turns a match count and the two totals into a Score; an empty side gives zeros rather
// than NaN.
func prf(match, candTotal, refTotal int) Score {
	var s Score
	if candTotal > 0 {
		s.Precision = float64(match) / float64(candTotal)
	}
	if refTotal > 0 {
		s.Recall = float64(match) / float64(refTotal)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}
