package guard

import (
	"context"
	"fmt"
	"strings"
)

// leakageDetector reports a system prompt leaking into an answer: a canary token (a random
// string planted in the system prompt, found verbatim), and a long verbatim overlap with the
// protected prompt, compared in lowercase with runs of white space made one space.
type leakageDetector struct {
	canaries   []string
	minOverlap int
	// prompt is the protected prompt normalised; grams indexes each window of it of
	// minOverlap/2 bytes (every position) by hash.
	prompt string
	grams  map[uint64][]int32
	// seen has a bit set for each hash of grams (mixed, masked): nearly every window of a text
	// is ruled out by one bit test instead of a map lookup.
	seen []uint64
	mask uint64 // len(seen)*64 - 1, a power of two less one
}

const rollBase = 1000003

func newLeakage(o *options) (Detector, error) {
	canaries, err := o.strs("canary")
	if err != nil {
		return nil, err
	}
	prompt, err := o.str("protected_prompt", "")
	if err != nil {
		return nil, err
	}
	minOverlap, err := o.int("min_overlap", 40, 8, 100000)
	if err != nil {
		return nil, err
	}
	for _, c := range canaries {
		if len(c) < 6 {
			return nil, o.errorf("canary", "%q is too short to be told apart from ordinary text: use a random token of 6 characters or more", c)
		}
	}
	if len(canaries) == 0 && prompt == "" {
		return nil, fmt.Errorf("guard: detector %q needs option canary (a token planted in the system prompt) or protected_prompt (the system prompt's text), or both", "leakage")
	}
	d := &leakageDetector{canaries: canaries, minOverlap: minOverlap}
	if prompt != "" {
		norm := foldSpace(prompt)
		d.prompt = string(norm)
		d.grams = map[uint64][]int32{}
		w := minOverlap / 2
		if len(norm) >= w {
			pow := rollPow(w)
			var h uint64
			for i := 0; i < len(norm); i++ {
				h = h*rollBase + uint64(norm[i])
				if i >= w {
					h -= uint64(norm[i-w]) * pow
				}
				if i >= w-1 {
					d.grams[h] = append(d.grams[h], int32(i-w+1))
				}
			}
		}
		// About 16 bits per window keeps false hits near 1 in 16.
		words := 64
		for words < len(d.grams)/4 {
			words *= 2
		}
		d.seen = make([]uint64, words)
		d.mask = uint64(words*64 - 1)
		for h := range d.grams {
			b := (h ^ h>>29) & d.mask
			d.seen[b/64] |= 1 << (b % 64)
		}
	}
	return d, nil
}

func rollPow(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= rollBase
	}
	return p
}

// foldSpace lowercases ASCII and makes each run of white space one space.
func foldSpace(s string) []byte {
	out := make([]byte, len(s))
	n := 0
	space := false
	for i := 0; i < len(s); i++ {
		c := foldTable[s[i]]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		out[n] = c
		n++
	}
	return out[:n]
}

// foldTable maps a byte to its ASCII lowercase, and white space to ' '.
var foldTable = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= 'A' && b <= 'Z':
			b += 'a' - 'A'
		case b == '\n' || b == '\t' || b == '\r':
			b = ' '
		}
		t[c] = b
	}
	return t
}()

// origOffset returns the byte of s that byte k of foldSpace(s) came from.
func origOffset(s string, k int) int {
	n, space := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		if n == k {
			return i
		}
		n++
	}
	return len(s)
}

func (d *leakageDetector) Name() string { return "leakage" }

func (d *leakageDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	for _, c := range d.canaries {
		for i := 0; ; {
			k := strings.Index(text[i:], c)
			if k < 0 {
				break
			}
			out = append(out, Finding{Detector: "leakage", Type: "canary", Start: i + k, End: i + k + len(c), Score: 1,
				Reason: "the canary token planted in the system prompt appears in the text"})
			i += k + len(c)
		}
	}
	if d.grams != nil && len(text) >= d.minOverlap {
		out = append(out, d.overlaps(text)...)
	}
	return out, nil
}

// overlaps finds maximal stretches of text at least minOverlap long (after normalising) that
// appear verbatim in the protected prompt. Any such stretch holds a whole window of w =
// minOverlap/2 bytes starting at a multiple of w, so only those windows are looked up (the
// prompt's windows are indexed at every position), and each hit is extended both ways.
func (d *leakageDetector) overlaps(text string) []Finding {
	norm := foldSpace(text)
	w := d.minOverlap / 2
	var out []Finding
	reported := 0 // the text up to here is inside a stretch already reported
	for p := 0; p+w <= len(norm); p += w {
		var h uint64
		for _, c := range norm[p : p+w] {
			h = h*rollBase + uint64(c)
		}
		if b := (h ^ h>>29) & d.mask; d.seen[b/64]&(1<<(b%64)) == 0 {
			continue
		}
		bestS, bestE := 0, 0
		for _, q32 := range d.grams[h] {
			q := int(q32)
			if string(norm[p:p+w]) != d.prompt[q:q+w] {
				continue
			}
			s, e := p, p+w
			for ps := q; s > 0 && ps > 0 && norm[s-1] == d.prompt[ps-1]; s, ps = s-1, ps-1 {
			}
			for pe := q + w; e < len(norm) && pe < len(d.prompt) && norm[e] == d.prompt[pe]; e, pe = e+1, pe+1 {
			}
			if e-s > bestE-bestS {
				bestS, bestE = s, e
			}
		}
		if bestE-bestS < d.minOverlap || bestS < reported {
			continue
		}
		best := bestE - bestS
		start, end := origOffset(text, bestS), origOffset(text, bestE-1)+1
		share := float64(best) / float64(len(d.prompt))
		out = append(out, Finding{Detector: "leakage", Type: "prompt_leak", Start: start, End: end,
			Score:  min(1, 0.7+share),
			Reason: fmt.Sprintf("repeats %d characters of the protected prompt verbatim (%.0f%% of it)", best, 100*min(1, share))})
		reported = bestE
	}
	return out
}
