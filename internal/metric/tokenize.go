package metric

import (
	"strings"
	"unicode"
)

// Tokenize splits s into lowercase word tokens: maximal runs of letters and digits. Everything
// else (spaces, punctuation, symbols) separates tokens, so "Don't!" gives ["don", "t"]. BLEU
// and ROUGE on strings use it, which makes them insensitive to case and punctuation.
func Tokenize(s string) []string {
	var toks []string
	start := -1
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			toks = append(toks, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		toks = append(toks, strings.ToLower(s[start:]))
	}
	return toks
}

// ngrams counts the n-grams of toks, keyed by the tokens joined with a separator that
// Tokenize never produces.
func ngrams(toks []string, n int) (counts map[string]int, total int) {
	counts = map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		counts[strings.Join(toks[i:i+n], "\x00")]++
		total++
	}
	return counts, total
}
