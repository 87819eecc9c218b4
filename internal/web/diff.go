package web

import (
	"strings"
	"unicode"
)

// span is a piece of an output in a side-by-side view: Changed marks words that the other
// side does not have.
type span struct {
	Text    string
	Changed bool
}

// sides is a pair of outputs split into spans, for the two columns of a comparison.
type sides struct {
	A, B []span
}

// maxDiffWords bounds the word diff's quadratic table: longer outputs are compared by
// their common start and end only, which still marks the changed middle.
const maxDiffWords = 1500

// diffWords marks the words that differ between a and b: a longest common subsequence over
// words (whitespace kept with the word before it), so a reader sees what changed without
// reading both outputs whole.
func diffWords(a, b string) sides {
	wa, wb := words(a), words(b)
	// Common start and end first: cheap, and often most of the text.
	pre := 0
	for pre < len(wa) && pre < len(wb) && wa[pre] == wb[pre] {
		pre++
	}
	suf := 0
	for suf < len(wa)-pre && suf < len(wb)-pre && wa[len(wa)-1-suf] == wb[len(wb)-1-suf] {
		suf++
	}
	ma, mb := wa[pre:len(wa)-suf], wb[pre:len(wb)-suf]
	var inA, inB []bool // whether each middle word is shared
	if len(ma)*len(mb) <= maxDiffWords*maxDiffWords/4 && len(ma) <= maxDiffWords && len(mb) <= maxDiffWords {
		inA, inB = lcs(ma, mb)
	} else {
		inA, inB = make([]bool, len(ma)), make([]bool, len(mb))
	}
	var s sides
	s.A = spans(wa[:pre], nil, false, s.A)
	s.A = spans(ma, inA, true, s.A)
	s.A = spans(wa[len(wa)-suf:], nil, false, s.A)
	s.B = spans(wb[:pre], nil, false, s.B)
	s.B = spans(mb, inB, true, s.B)
	s.B = spans(wb[len(wb)-suf:], nil, false, s.B)
	return s
}

// spans appends words to out, merging neighbours of the same kind. shared[i] false marks
// word i changed when mark is set. Each span's text is built once (not word by word), so
// long outputs cost linear time.
func spans(ws []string, shared []bool, mark bool, out []span) []span {
	var b strings.Builder
	cur := false
	flush := func() {
		if b.Len() == 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Changed == cur {
			out[n-1].Text += b.String()
		} else {
			out = append(out, span{Text: b.String(), Changed: cur})
		}
		b.Reset()
	}
	for i, w := range ws {
		changed := mark && !shared[i]
		if changed != cur {
			flush()
			cur = changed
		}
		b.WriteString(w)
	}
	flush()
	return out
}

// elide shortens the unchanged spans longer than keep·3 characters to their first and
// last keep characters around a "[…]" marker, so that a page of changes shows what changed
// without printing long outputs twice; the case page has them whole.
func elide(ss []span, keep int) []span {
	out := make([]span, len(ss))
	for i, s := range ss {
		r := []rune(s.Text)
		if s.Changed || len(r) <= 3*keep {
			out[i] = s
			continue
		}
		head, tail := string(r[:keep]), string(r[len(r)-keep:])
		switch {
		case i == 0:
			head = "" // nothing before: keep only the end that leads to the change
		case i == len(ss)-1:
			tail = "" // nothing after: keep only the start that follows the change
		}
		out[i] = span{Text: head + " […] " + tail}
	}
	return out
}

// words splits s into words, each with the whitespace that follows it.
func words(s string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if inSpace && !space {
			out = append(out, s[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// lcs marks the words of a and b that belong to a longest common subsequence (compared
// without their trailing whitespace).
func lcs(a, b []string) (inA, inB []bool) {
	n, m := len(a), len(b)
	inA, inB = make([]bool, n), make([]bool, m)
	if n == 0 || m == 0 {
		return inA, inB
	}
	ta, tb := make([]string, n), make([]string, m)
	for i, w := range a {
		ta[i] = strings.TrimRightFunc(w, unicode.IsSpace)
	}
	for j, w := range b {
		tb[j] = strings.TrimRightFunc(w, unicode.IsSpace)
	}
	// t[i][j] is the LCS length of a[i:] and b[j:], in one flat slice.
	t := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return t[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if ta[i] == tb[j] {
				t[i*(m+1)+j] = at(i+1, j+1) + 1
			} else {
				t[i*(m+1)+j] = max(at(i+1, j), at(i, j+1))
			}
		}
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case ta[i] == tb[j]:
			inA[i], inB[j] = true, true
			i++
			j++
		case at(i+1, j) >= at(i, j+1):
			i++
		default:
			j++
		}
	}
	return inA, inB
}
