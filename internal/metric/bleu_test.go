package metric

import (
	"math"
	"strings"
	"testing"
)

// The sentences of NLTK's nltk/translate/bleu_score.py docstrings (whitespace tokens, case
// kept), with the values those docstrings print.
var (
	nltkHyp1 = strings.Fields("It is a guide to action which ensures that the military always obeys the commands of the party")
	nltkHyp2 = strings.Fields("It is to insure the troops forever hearing the activity guidebook that party direct")
	nltkRef1 = strings.Fields("It is a guide to action that ensures that the military will forever heed Party commands")
	nltkRef2 = strings.Fields("It is the guiding principle which guarantees the military forces always being under the command of the Party")
	nltkRef3 = strings.Fields("It is the practical guide for the army always to heed the directions of the party")
	nltkRefs = [][]string{nltkRef1, nltkRef2, nltkRef3}
)

// within reports whether got printed with NLTK's doctest ELLIPSIS would show prefix, i.e.
// got lies in [prefix, prefix + one unit of its last digit).
func within(got float64, prefix string, unit float64) bool {
	var lo float64
	for i, c := range strings.TrimPrefix(prefix, "0.") {
		lo += float64(c-'0') * math.Pow(10, -float64(i+1))
	}
	return got >= lo-1e-12 && got < lo+unit
}

func TestBLEUTokensNLTKDocstrings(t *testing.T) {
	// sentence_bleu([reference1, reference2, reference3], hypothesis1) = 0.5045666840058485:
	// every order has a match, so smoothing method 1 changes nothing.
	if got := BLEUTokens(nltkHyp1, nltkRefs); math.Abs(got-0.5045666840058485) > 1e-12 {
		t.Errorf("hypothesis1 vs three references = %.16f, want 0.5045666840058485", got)
	}
	for _, tc := range []struct {
		name   string
		hyp    []string
		refs   [][]string
		prefix string // as NLTK's doctest prints it with ELLIPSIS
		unit   float64
	}{
		// No 3- or 4-gram match: unsmoothed BLEU is 0, method 1 gives 0.0370...
		{"hypothesis2 method1", nltkHyp2, nltkRefs, "0.0370", 1e-4},
		// SmoothingFunction's docstring: hypothesis1 vs reference1 alone, method1 → 0.4118...
		{"hypothesis1 vs reference1", nltkHyp1, [][]string{nltkRef1}, "0.4118", 1e-4},
	} {
		if got := BLEUTokens(tc.hyp, tc.refs); !within(got, tc.prefix, tc.unit) {
			t.Errorf("%s = %.6f, want %s...", tc.name, got, tc.prefix)
		}
	}
	// corpus_bleu's docstring: the mean of the two sentence scores is 0.6223...
	hyp := strings.Fields("he read the book because he was interested in world history")
	ref := strings.Fields("he was interested in world history because he read the book")
	mean := (BLEUTokens(nltkHyp1, nltkRefs) + BLEUTokens(hyp, [][]string{ref})) / 2
	if !within(mean, "0.6223", 1e-4) {
		t.Errorf("mean of the two sentence scores = %.6f, want 0.6223...", mean)
	}
}

func TestModifiedPrecisionNLTK(t *testing.T) {
	for _, tc := range []struct {
		name string
		hyp  []string
		refs [][]string
		n    int
		want float64 // NLTK docstring value, exact fraction
	}{
		{"the the the", strings.Fields("the the the the the the the"),
			[][]string{strings.Fields("the cat is on the mat"), strings.Fields("there is a cat on the mat")}, 1, 2.0 / 7},
		{"of the, n=1", strings.Fields("of the"), nltkRefs, 1, 1},
		{"of the, n=2", strings.Fields("of the"), nltkRefs, 2, 1},
		{"hypothesis1 n=1", nltkHyp1, nltkRefs, 1, 17.0 / 18}, // 0.9444...
		{"hypothesis2 n=1", nltkHyp2, nltkRefs, 1, 8.0 / 14},  // 0.5714...
		{"hypothesis1 n=2", nltkHyp1, nltkRefs, 2, 0.5882352941176471},
		{"hypothesis2 n=2", nltkHyp2, nltkRefs, 2, 1.0 / 13}, // 0.07692...
	} {
		m, total := clippedMatches(tc.hyp, tc.refs, tc.n)
		if got := float64(m) / float64(max(1, total)); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: modified precision = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBrevityPenaltyNLTK(t *testing.T) {
	as := func(n ...int) [][]string {
		var refs [][]string
		for _, k := range n {
			refs = append(refs, make([]string, k))
		}
		return refs
	}
	for _, tc := range []struct {
		refs [][]string
		hyp  int
		want float64
	}{
		{as(12, 15, 17), 12, 1},
		{as(28, 28), 12, 0.2635971381157267},
		{as(13, 2), 12, math.Exp(1 - 13.0/12)}, // 0.9200...
		{as(13, 11), 12, 1},                    // tie: the shorter reference wins
		{as(11, 13), 12, 1},                    // and order does not matter
		{as(11, 8), 7, math.Exp(1 - 8.0/7)},    // mteval-v13a: 0.8668...
		{as(11, 8, 6, 7), 7, 1},
	} {
		got := brevityPenalty(tc.hyp, closestRefLen(tc.hyp, tc.refs))
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("refs %d, hyp %d: BP = %v, want %v", len(tc.refs), tc.hyp, got, tc.want)
		}
	}
	if got := brevityPenalty(12, closestRefLen(12, as(13, 2))); !within(got, "0.9200", 1e-4) {
		t.Errorf("BP = %v, want 0.9200...", got)
	}
	if got := brevityPenalty(7, closestRefLen(7, as(11, 8))); !within(got, "0.8668", 1e-4) {
		t.Errorf("BP = %v, want 0.8668...", got)
	}
}

func TestBLEUStrings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cand string
		refs []string
		want float64
	}{
		{"identical", "The cat sat on the mat.", []string{"The cat sat on the mat."}, 1},
		{"case and punctuation ignored", "THE CAT, SAT ON THE MAT!", []string{"the cat sat on the mat"}, 1},
		{"best of several references", "the cat sat on the mat", []string{"a dog ran", "the cat sat on the mat"}, 1},
		{"no word in common", "completely different words here", []string{"the cat sat on the mat"}, 0},
		{"empty candidate", "", []string{"the cat sat on the mat"}, 0},
		{"no reference", "the cat sat on the mat", nil, 0},
	} {
		if got := BLEU(tc.cand, tc.refs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: BLEU = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Tokenize lowercases, but for NLTK's hypothesis1 vector that adds no clipped match
	// ("party" already matches reference3), so BLEU on the joined strings gives the published
	// value too.
	ref := []string{strings.Join(nltkRef1, " "), strings.Join(nltkRef2, " "), strings.Join(nltkRef3, " ")}
	if got := BLEU(strings.Join(nltkHyp1, " "), ref); math.Abs(got-0.5045666840058485) > 1e-12 {
		t.Errorf("BLEU on strings = %.16f, want 0.5045666840058485", got)
	}
	// A near paraphrase scores between the extremes, and a partial one lower still.
	near := BLEU("the cat sat on a mat", []string{"the cat sat on the mat"})
	far := BLEU("a cat was on some mat", []string{"the cat sat on the mat"})
	if !(0 < far && far < near && near < 1) {
		t.Errorf("want 0 < far (%v) < near (%v) < 1", far, near)
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"Hello, World!", "hello world"},
		{"Don't stop", "don t stop"},
		{"  v2.1 costs $30  ", "v2 1 costs 30"},
		{"Café au lait", "café au lait"},
		{"", ""},
		{"...", ""},
	} {
		if got := strings.Join(Tokenize(tc.in), " "); got != tc.want {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
