package guard

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// leakageDetector reports a system prompt leaking into an answer: a canary token (a random
// string planted in the system prompt), and long stretches of the protected prompt.
//
// Both are compared on a skeleton of each text: the normalised text (normalize: lowercase,
// look-alike letters folded, invisible characters dropped) with everything but letters and
// digits removed, so that case, white space, punctuation and markdown put around or inside a
// leak do not hide it. A leak is also looked for in what the text hides: base64 and hex runs
// decoded, and the text in ROT13 and reversed (option decodings picks some); for the last two
// the prompt's own ROT13 and reversed skeletons are indexed, so the text is read once. A
// prompt leaked in pieces (a line at a time, with comments between) is reported when its
// pieces, each at least three quarters of min_overlap, together cover twice min_overlap.
type leakageDetector struct {
	raw        []string    // the canaries as given, found verbatim
	canaries   [][3][]byte // their skeletons in each variant, for the disguised forms
	minOverlap int
	decodings  map[string]bool
	// prompts are the protected prompt's skeleton in each variant (plain, rot13, reversed;
	// nil when not looked for); poff is where each byte of the plain one came from in the
	// prompt as written, so that lengths count the prompt's own characters.
	prompts [3][]byte
	poff    []int32
	w       int // window length in skeleton bytes
	// grams indexes each window of each variant (every position) by hash, as
	// variant<<28 | position.
	grams map[uint64][]int32
	// seen has a bit set for each hash of grams (mixed, masked): nearly every window of a text
	// is ruled out by one bit test instead of a map lookup.
	seen []uint64
	mask uint64 // len(seen)*64 - 1, a power of two less one
}

// Variants of a skeleton, and the decodings that name them.
const (
	variantPlain = iota
	variantROT13
	variantReversed
)

var variantNames = [3]string{"", "rot13", "reversed"}

const rollBase = 1000003

// leakDecodings are the disguises the leakage detector sees through.
var leakDecodings = []string{"base64", "hex", "rot13", "reversed"}

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
	decs, err := o.strs("decodings")
	if err != nil {
		return nil, err
	}
	if _, set := o.m["decodings"]; !set {
		decs = leakDecodings
	}
	for _, c := range canaries {
		if len(c) < 6 {
			return nil, o.errorf("canary", "%q is too short to be told apart from ordinary text: use a random token of 6 characters or more", c)
		}
	}
	if len(canaries) == 0 && prompt == "" {
		return nil, fmt.Errorf("guard: detector %q needs option canary (a token planted in the system prompt) or protected_prompt (the system prompt's text), or both", "leakage")
	}
	d := &leakageDetector{raw: canaries, minOverlap: minOverlap, decodings: map[string]bool{}}
	for _, name := range decs {
		if !slices.Contains(leakDecodings, name) {
			return nil, o.errorf("decodings", "unknown decoding %q: use %s", name, strings.Join(leakDecodings, ", "))
		}
		d.decodings[name] = true
	}
	for _, c := range canaries {
		// A canary whose skeleton is short could turn up by chance once punctuation is gone.
		if sk := leakSkeleton(c); len(sk) >= 6 {
			d.canaries = append(d.canaries, d.variants(sk))
		}
	}
	if prompt != "" {
		d.indexPrompt(prompt)
	}
	return d, nil
}

// variants is a skeleton in each variant the detector looks for (nil for the others).
func (d *leakageDetector) variants(sk []byte) [3][]byte {
	var v [3][]byte
	v[variantPlain] = sk
	if d.decodings["rot13"] {
		v[variantROT13] = slices.Clone(sk)
		rot13Bytes(v[variantROT13])
	}
	if d.decodings["reversed"] {
		v[variantReversed] = slices.Clone(sk)
		slices.Reverse(v[variantReversed])
	}
	return v
}

func (d *leakageDetector) indexPrompt(prompt string) {
	sk := leakSkeleton(prompt)
	d.poff = skeletonOffsets(prompt)
	d.prompts = d.variants(sk)
	// Windows of a fifth of min_overlap: every piece of three quarters of it (about 0.6 ×
	// min_overlap skeleton bytes) holds a whole window starting at a multiple of w.
	d.w = max(4, d.minOverlap/5)
	d.grams = map[uint64][]int32{}
	pow := rollPow(d.w)
	for v, p := range d.prompts {
		var h uint64
		for i := 0; i < len(p); i++ {
			h = h*rollBase + uint64(p[i])
			if i >= d.w {
				h -= uint64(p[i-d.w]) * pow
			}
			if i >= d.w-1 {
				d.grams[h] = append(d.grams[h], int32(v<<28|(i-d.w+1)))
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

func rollPow(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= rollBase
	}
	return p
}

// skelTable maps a byte of ASCII text to its lowercase letter or digit, others to 0.
var skelTable = func() (t [256]byte) {
	for c := 0; c < 128; c++ {
		if b := lowerTable[c]; isAlnum(b) {
			t[c] = b
		}
	}
	return t
}()

// skelKeep is 1 for the bytes skelTable keeps.
var skelKeep = func() (t [256]uint8) {
	for c := 1; c < 256; c++ {
		t[c] = 1
	}
	return t
}()

// leakSkeleton is the letters and digits of a text, normalised (see leakageDetector).
func leakSkeleton(text string) []byte {
	if asciiText(text) {
		// Branch-free: every byte is written, and kept (n advances) when it is one.
		sk := make([]byte, len(text)+1)
		n := 0
		for i := 0; i < len(text); i++ {
			c := skelTable[text[i]]
			sk[n] = c
			n += int(skelKeep[c])
		}
		return sk[:n]
	}
	n := normalize(text)
	sk := make([]byte, 0, len(n.norm))
	for _, c := range n.norm {
		if isAlnum(c) {
			sk = append(sk, c)
		}
	}
	return sk
}

// skeletonOffsets is, for each byte of leakSkeleton(text), the byte of text it came from.
// It is computed only when a finding needs a span.
func skeletonOffsets(text string) []int32 {
	n := normalize(text)
	off := make([]int32, 0, len(n.norm))
	for k, c := range n.norm {
		if isAlnum(c) {
			off = append(off, int32(n.at(k)))
		}
	}
	return off
}

func (d *leakageDetector) Name() string { return "leakage" }

func (d *leakageDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	plainCanary := false
	for _, c := range d.raw {
		for i := 0; ; {
			k := strings.Index(text[i:], c)
			if k < 0 {
				break
			}
			plainCanary = true
			out = append(out, Finding{Detector: "leakage", Type: "canary", Start: i + k, End: i + k + len(c), Score: 1,
				Reason: "the canary token planted in the system prompt appears in the text"})
			i += k + len(c)
		}
	}
	if plainCanary && d.grams == nil || len(text) < 6 {
		return out, nil
	}
	views := []leakView{{sk: leakSkeleton(text), text: text}}
	encodedRuns(text, d.decodings["base64"], d.decodings["hex"], func(s, e int, plain []byte, dec string) {
		views = append(views, leakView{dec: dec, sk: leakSkeleton(string(plain)), span: [2]int{s, e}})
	})
	for i := range views {
		v := &views[i]
		if !plainCanary {
			out = append(out, d.canaryIn(v)...)
		}
		if d.grams != nil && len(v.sk) >= d.w {
			out = append(out, d.overlaps(v)...)
		}
	}
	sortFindings(out)
	return out, nil
}

// leakView is a text's skeleton: the text as sent, or an encoded run of it decoded.
type leakView struct {
	dec  string // the run's decoding; "" for the text as sent
	sk   []byte
	text string  // the text as sent, for its offsets; "" for a decoded run
	off  []int32 // skeletonOffsets(text), made when first needed
	span [2]int  // the encoded run a decoded view came from
}

// textSpan is the text's byte span of skeleton bytes [s, e).
func (v *leakView) textSpan(s, e int) (int, int) {
	if v.text == "" {
		return v.span[0], v.span[1]
	}
	if v.off == nil {
		v.off = skeletonOffsets(v.text)
	}
	last := int(v.off[e-1])
	_, size := utf8.DecodeRuneInString(v.text[last:])
	return int(v.off[s]), last + max(size, 1)
}

// decoding names what revealed a variant's match in this view.
func (v *leakView) decoding(variant int) string {
	switch {
	case v.dec == "":
		return variantNames[variant]
	case variant == variantPlain:
		return v.dec
	}
	return v.dec + "+" + variantNames[variant]
}

func reason(what, dec string) string {
	if dec == "" {
		return what
	}
	return what + " (revealed by " + dec + " decoding)"
}

// canaryIn finds the canaries' skeletons in a view: a canary spelled out with spaces or
// punctuation, or disguised.
func (d *leakageDetector) canaryIn(v *leakView) []Finding {
	var out []Finding
	for _, c := range d.canaries {
		for variant, form := range c {
			if form == nil {
				continue
			}
			if k := bytes.Index(v.sk, form); k >= 0 {
				s, e := v.textSpan(k, k+len(form))
				dec := v.decoding(variant)
				out = append(out, Finding{Detector: "leakage", Type: "canary", Start: s, End: e, Score: 1, Decoding: dec,
					Reason: reason("the canary token planted in the system prompt appears in the text", dec)})
				break
			}
		}
	}
	return out
}

// stretch is a stretch of a view found in a variant of the protected prompt: view bytes
// [s, e), and the plain prompt skeleton's bytes [ps, pe) it repeats.
type stretch struct{ variant, s, e, ps, pe int }

// chars is the stretch's length in the prompt's own characters, first to last.
func (d *leakageDetector) chars(st stretch) int {
	return int(d.poff[st.pe-1]) - int(d.poff[st.ps]) + 1
}

// overlaps finds maximal stretches of a view that appear in a variant of the protected
// prompt. Only the windows starting at multiples of w are looked up (the prompt's windows
// are indexed at every position), and each hit is extended both ways. A stretch of
// min_overlap characters of the prompt is reported; so are pieces of at least three
// quarters of it that together cover twice min_overlap of the prompt.
func (d *leakageDetector) overlaps(v *leakView) []Finding {
	sk, w := v.sk, d.w
	var found []stretch
	reported := 0 // the view up to here is inside a stretch already found
	for p := 0; p+w <= len(sk); p += w {
		var h uint64
		for _, c := range sk[p : p+w] {
			h = h*rollBase + uint64(c)
		}
		if b := (h ^ h>>29) & d.mask; d.seen[b/64]&(1<<(b%64)) == 0 {
			continue
		}
		var best stretch
		for _, g := range d.grams[h] {
			variant, q := int(g>>28), int(g&(1<<28-1))
			pr := d.prompts[variant]
			if string(sk[p:p+w]) != string(pr[q:q+w]) {
				continue
			}
			s, e, ps, pe := p, p+w, q, q+w
			for s > 0 && ps > 0 && sk[s-1] == pr[ps-1] {
				s, ps = s-1, ps-1
			}
			for e < len(sk) && pe < len(pr) && sk[e] == pr[pe] {
				e, pe = e+1, pe+1
			}
			if e-s > best.e-best.s {
				if variant == variantReversed { // back to the plain prompt's positions
					ps, pe = len(pr)-pe, len(pr)-ps
				}
				best = stretch{variant, s, e, ps, pe}
			}
		}
		if best.e == 0 || best.s < reported || d.chars(best)*4 < d.minOverlap*3 {
			continue
		}
		found = append(found, best)
		reported = best.e
	}
	var out []Finding
	var pieces [3][]stretch
	for _, st := range found {
		n := d.chars(st)
		if n < d.minOverlap {
			pieces[st.variant] = append(pieces[st.variant], st)
			continue
		}
		s, e := v.textSpan(st.s, st.e)
		dec := v.decoding(st.variant)
		share := float64(n) / float64(d.promptChars())
		out = append(out, Finding{Detector: "leakage", Type: "prompt_leak", Start: s, End: e, Decoding: dec,
			Score:  min(1, 0.7+share),
			Reason: reason(fmt.Sprintf("repeats %d characters of the protected prompt (%.0f%% of it)", n, 100*min(1, share)), dec)})
	}
	if len(out) > 0 {
		return out
	}
	for variant, ps := range pieces {
		if len(ps) < 2 {
			continue
		}
		if n := d.covered(ps); n >= 2*d.minOverlap {
			s, _ := v.textSpan(ps[0].s, ps[0].e)
			_, e := v.textSpan(ps[len(ps)-1].s, ps[len(ps)-1].e)
			dec := v.decoding(variant)
			share := float64(n) / float64(d.promptChars())
			out = append(out, Finding{Detector: "leakage", Type: "prompt_leak", Start: s, End: e, Decoding: dec,
				Score:  min(1, 0.6+share),
				Reason: reason(fmt.Sprintf("repeats %d characters of the protected prompt in %d pieces (%.0f%% of it)", n, len(ps), 100*min(1, share)), dec)})
		}
	}
	return out
}

// covered is how many characters of the prompt the pieces cover, each counted once.
func (d *leakageDetector) covered(pieces []stretch) int {
	ps := slices.Clone(pieces)
	slices.SortFunc(ps, func(a, b stretch) int { return a.ps - b.ps })
	n, end := 0, 0 // end: the prompt skeleton covered so far
	for _, st := range ps {
		if st.pe <= end {
			continue
		}
		st.ps = max(st.ps, end)
		n += d.chars(st)
		end = st.pe
	}
	return n
}

// promptChars is the protected prompt's length from its first letter or digit to its last.
func (d *leakageDetector) promptChars() int {
	if len(d.poff) == 0 {
		return 1
	}
	return d.chars(stretch{ps: 0, pe: len(d.poff)})
}
