package metric

import "math"

// bleuOrder is the highest n-gram order of BLEU-4, weighted uniformly.
const bleuOrder = 4

// bleuEpsilon is the count Chen & Cherry (2014) smoothing method 1 gives an n-gram order
// with no match, as NLTK's SmoothingFunction().method1 does by default.
const bleuEpsilon = 0.1

// BLEU is sentence-level BLEU-4 (Papineni et al. 2002) of candidate against one or more
// references, after Tokenize (lowercase words, punctuation dropped). See BLEUTokens for the
// exact definition.
func BLEU(candidate string, references []string) float64 {
	refs := make([][]string, len(references))
	for i, r := range references {
		refs[i] = Tokenize(r)
	}
	return BLEUTokens(Tokenize(candidate), refs)
}

// BLEUTokens is sentence-level BLEU-4 on already tokenized text, equal to NLTK's
// sentence_bleu(references, candidate, smoothing_function=SmoothingFunction().method1):
// modified (clipped) n-gram precisions for n = 1..4 with uniform weights, combined by their
// geometric mean; an order with no matching n-gram counts epsilon = 0.1 matches instead of 0
// (Chen & Cherry 2014, method 1), so that one missing 4-gram does not zero a sentence score;
// brevity penalty exp(1 − r/c) when the candidate length c is not longer than r, the length of
// the reference closest to c (the shorter one on a tie). A candidate with no unigram in common
// with any reference, an empty candidate, or no reference scores 0.
func BLEUTokens(candidate []string, references [][]string) float64 {
	if len(candidate) == 0 || len(references) == 0 {
		return 0
	}
	logSum := 0.0
	for n := 1; n <= bleuOrder; n++ {
		matched, total := clippedMatches(candidate, references, n)
		if n == 1 && matched == 0 {
			return 0
		}
		denom := float64(max(1, total)) // NLTK's guard for candidates shorter than n
		p := float64(matched) / denom
		if matched == 0 {
			p = bleuEpsilon / denom
		}
		logSum += math.Log(p) / bleuOrder
	}
	return brevityPenalty(len(candidate), closestRefLen(len(candidate), references)) * math.Exp(logSum)
}

// clippedMatches counts the candidate's n-grams that appear in some reference, each clipped
// to the most times it appears in any single reference, and the candidate's n-grams in all.
func clippedMatches(candidate []string, references [][]string, n int) (matched, total int) {
	counts, total := ngrams(candidate, n)
	maxRef := map[string]int{}
	for _, ref := range references {
		rc, _ := ngrams(ref, n)
		for g := range counts {
			maxRef[g] = max(maxRef[g], rc[g])
		}
	}
	for g, c := range counts {
		matched += min(c, maxRef[g])
	}
	return matched, total
}

// closestRefLen is the length of the reference closest in length to c; on a tie the shorter
// one, as in NLTK and mteval-v13a.
func closestRefLen(c int, references [][]string) int {
	best := len(references[0])
	for _, ref := range references[1:] {
		r := len(ref)
		d, bd := abs(r-c), abs(best-c)
		if d < bd || (d == bd && r < best) {
			best = r
		}
	}
	return best
}

// brevityPenalty punishes candidates shorter than their closest reference.
func brevityPenalty(c, r int) float64 {
	switch {
	case c > r:
		return 1
	case c == 0:
		return 0
	default:
		return math.Exp(1 - float64(r)/float64(c))
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
