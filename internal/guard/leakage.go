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
	// prompt is the protected prompt normalised; grams indexes each minOverlap-long window of
	// it by hash.
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
		if len(norm) >= minOverlap {
			pow := rollPow(minOverlap)
			var h uint64
			for i := 0; i < len(norm); i++ {
				h = h*rollBase + uint64(norm[i])
				if i >= minOverlap {
					h -= uint64(norm[i-minOverlap]) * pow
				}
				if i >= minOverlap-1 {
					d.grams[h] = append(d.grams[h], int32(i-minOverlap+1))
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
// appear verbatim in the protected prompt.
func (d *leakageDetector) overlaps(text string) []Finding {
	norm := foldSpace(text)
	n := d.minOverlap
	if len(norm) < n {
		return nil
	}
	var out []Finding
	pow := rollPow(n)
	var h uint64
	skip := 0 // windows starting before skip are inside a stretch already reported
	for i := 0; i < len(norm); i++ {
		h = h*rollBase + uint64(norm[i])
		if i >= n {
			h -= uint64(norm[i-n]) * pow
		}
		s := i - n + 1
		if s < skip {
			continue
		}
		if b := (h ^ h>>29) & d.mask; d.seen[b/64]&(1<<(b%64)) == 0 {
			continue
		}
		best, bestEnd := 0, 0
		for _, p := range d.grams[h] {
			if string(norm[s:i+1]) != d.prompt[p:int(p)+n] {
				continue
			}
			e, pe := i+1, int(p)+n
			for e < len(norm) && pe < len(d.prompt) && norm[e] == d.prompt[pe] {
				e++
				pe++
			}
			if e-s > best {
				best, bestEnd = e-s, e
			}
		}
		if best == 0 {
			continue
		}
		start, end := origOffset(text, s), origOffset(text, bestEnd-1)+1
		share := float64(best) / float64(len(d.prompt))
		out = append(out, Finding{Detector: "leakage", Type: "prompt_leak", Start: start, End: end,
			Score:  min(1, 0.7+share),
			Reason: fmt.Sprintf("repeats %d characters of the protected prompt verbatim (%.0f%% of it)", best, 100*min(1, share))})
		skip = bestEnd
	}
	return out
}
