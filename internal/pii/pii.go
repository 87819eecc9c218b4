// Package pii finds personal data in free text the way Microsoft Presidio does: a pattern
// proposes a candidate with a base score, a checksum or structural check rejects or confirms
// it, and context words near it ("card", "iban", "ssn", "phone", ...) raise its score.
//
// It knows six types: e-mail addresses, phone numbers, payment card numbers, IBANs, IP
// addresses and US social security numbers. Each detector's rules are documented on the
// function that implements it. Findings never overlap: where two candidates share bytes, the
// one with the higher score (then the checksum-validated one, then the longer one) wins.
//
// The package is pure Go and holds no mutable state; a Scanner may be used concurrently.
package pii

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Type names a kind of personal data. Its value is what Replace writes between angle brackets.
type Type string

// The types of personal data the scanner knows.
const (
	Email      Type = "EMAIL"
	Phone      Type = "PHONE"
	CreditCard Type = "CREDIT_CARD"
	IBAN       Type = "IBAN"
	IPAddress  Type = "IP_ADDRESS"
	USSSN      Type = "US_SSN"
)

// AllTypes lists every Type in the order the scanner runs them.
func AllTypes() []Type {
	return []Type{Email, Phone, CreditCard, IBAN, IPAddress, USSSN}
}

// Finding is one piece of personal data found in a text.
type Finding struct {
	Type Type
	// Start and End are byte offsets into the scanned text: Text == text[Start:End].
	Start, End int
	Text       string
	// Score in [0, 1] is the detector's base score, raised when context words are nearby.
	Score float64
	// Validated reports that a checksum confirmed the finding (Luhn for cards, mod-97 for
	// IBANs). Other types have no checksum and are never Validated.
	Validated bool
}

// Scanner finds personal data. Its zero value scans for every type and reports every finding.
type Scanner struct {
	// Types restricts the scan to these types; empty means all.
	Types []Type
	// MinScore drops findings scoring below it, after context has been applied. Presidio's
	// default threshold is 0; guardrails usually want about 0.5, which drops SSN-shaped
	// numbers without a context word.
	MinScore float64
	// PhoneRegions are the countries (ISO 3166 codes, "US", "GB") whose numbering plans a
	// national number, one written without +country code, must fit; with none, its shape
	// decides. International numbers are always checked against their own country's plan.
	PhoneRegions []string
}

// Scan finds every kind of personal data in text with the default Scanner.
func Scan(text string) []Finding {
	return Scanner{}.Scan(text)
}

// Scan returns the findings in text in order of Start, without overlaps.
func (s Scanner) Scan(text string) []Finding {
	var all []Finding
	// Every type but e-mail starts at a run of digits: find the runs once.
	var runBuf [128]int32
	starts := digitRuns(text, runBuf[:0])
	for _, t := range AllTypes() {
		if len(s.Types) > 0 && !slices.Contains(s.Types, t) {
			continue
		}
		var found []Finding
		switch t {
		case Email:
			found = findEmails(text)
		case Phone:
			found = findPhones(text, starts, s.PhoneRegions)
		case CreditCard:
			found = findCards(text, starts)
		case IBAN:
			found = findIBANs(text, starts)
		case IPAddress:
			found = findIPs(text, starts)
		case USSSN:
			found = findSSNs(text, starts)
		}
		for _, f := range found {
			if f.Score >= s.MinScore {
				all = append(all, f)
			}
		}
	}
	return resolveOverlaps(all)
}

// digitRuns appends to buf the offset of the first digit of each run of ASCII digits in text.
func digitRuns(text string, buf []int32) []int32 {
	prev := false
	for i := 0; i < len(text); i++ {
		// Skip eight bytes at a time while they hold no digit (and no digit run is open).
		for !prev && i+8 <= len(text) && !hasDigit8(text[i:i+8]) {
			i += 8
		}
		if i >= len(text) {
			break
		}
		d := text[i]-'0' <= 9
		if d && !prev {
			buf = append(buf, int32(i))
		}
		prev = d
	}
	return buf
}

// hasDigit8 reports whether one of the 8 bytes of s is an ASCII digit, with the "has byte
// between" bit trick on a 64-bit word (bytes of 0x80 and above never count).
func hasDigit8(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones = 0x0101010101010101
	const m, n = '0' - 1, '9' + 1 // strictly between m and n
	return (ones*(127+n)-(x&(ones*127)))&^x&((x&(ones*127))+ones*(127-m))&(ones*128) != 0
}

// resolveOverlaps keeps, among findings that share bytes, the one a reader would trust most:
// higher score, then checksum-validated, then longer, then earlier.
func resolveOverlaps(all []Finding) []Finding {
	if len(all) < 2 {
		return all
	}
	slices.SortStableFunc(all, func(a, b Finding) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if a.Validated != b.Validated {
			if a.Validated {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.End-b.Start, a.End-a.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
	kept := make([]Finding, 0, len(all))
	if len(all) <= 32 {
		// Few findings (the usual case): compare each with those kept.
	few:
		for _, f := range all {
			for _, k := range kept {
				if f.Start < k.End && k.Start < f.End {
					continue few
				}
			}
			kept = append(kept, f)
		}
		slices.SortFunc(kept, func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
		return kept
	}
	// taken marks the bytes already covered, one bit per byte up to the furthest End.
	maxEnd := 0
	for _, f := range all {
		maxEnd = max(maxEnd, f.End)
	}
	taken := make([]uint64, maxEnd/64+1)
next:
	for _, f := range all {
		for i := f.Start; i < f.End; i++ {
			if taken[i/64]&(1<<(i%64)) != 0 {
				continue next
			}
		}
		for i := f.Start; i < f.End; i++ {
			taken[i/64] |= 1 << (i % 64)
		}
		kept = append(kept, f)
	}
	slices.SortFunc(kept, func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
	return kept
}

// Presidio's context enhancer (LemmaContextAwareEnhancer) defaults: a context word adds 0.35
// to the score and lifts it to at least 0.4.
const (
	contextBoost    = 0.35
	contextMinScore = 0.4
	// contextBefore and contextAfter are how many words either side of a candidate are
	// searched for context words. Presidio looks 5 words back; labels also follow a value
	// ("4111… (visa)"), hence a short look ahead.
	contextBefore = 5
	contextAfter  = 2
)

// withContext returns score raised as Presidio does when one of terms appears among the words
// around text[start:end]. A term may be several words ("social security"); a word matches a
// single-word term when equal to it or to its plural.
func withContext(text string, start, end int, score float64, terms termList) float64 {
	return boosted(score, hasContext(text, start, end, terms))
}

// boosted is score raised as withContext raises it when a context word is near.
func boosted(score float64, context bool) float64 {
	if context {
		return max(min(score+contextBoost, 1), contextMinScore)
	}
	return score
}

// termList is a list of context terms, each split into its lowercase words.
type termList [][]string

// terms builds a termList from terms of one or more words separated by single spaces.
func terms(ts ...string) termList {
	out := make(termList, len(ts))
	for i, t := range ts {
		out[i] = strings.Split(t, " ")
	}
	return out
}

func hasContext(text string, start, end int, terms termList) bool {
	// The words around the candidate, as spans of text, without allocating.
	var spans [contextBefore + contextAfter][2]int
	nb := wordSpansBefore(text, start, spans[:contextBefore])
	copy(spans[:], spans[contextBefore-nb:contextBefore])
	na := wordSpansAfter(text, end, spans[nb:nb+contextAfter])
	words := spans[:nb+na]
	for i, w := range words {
		c := text[w[0]] | 0x20 // terms are lowercase; most words differ at once
		for _, parts := range terms {
			if parts[0][0] != c || i+len(parts) > len(words) {
				continue
			}
			ok := true
			for j, p := range parts {
				w := text[words[i+j][0]:words[i+j][1]]
				ok = strings.EqualFold(w, p) || len(w) == len(p)+1 && (w[len(p)] == 's' || w[len(p)] == 'S') && strings.EqualFold(w[:len(p)], p)
				if !ok {
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// wordSpansBefore fills the end of out with the spans of up to len(out) words ending before
// text[end], in reading order, and returns how many it found.
func wordSpansBefore(text string, end int, out [][2]int) int {
	n := 0
	for n < len(out) && end > 0 {
		for end > 0 {
			r, size := lastRune(text, end)
			if isWordRune(r) {
				break
			}
			end -= size
		}
		start := end
		for start > 0 {
			r, size := lastRune(text, start)
			if !isWordRune(r) {
				break
			}
			start -= size
		}
		if start == end {
			break
		}
		n++
		out[len(out)-n] = [2]int{start, end}
		end = start
	}
	return n
}

// lastRune is utf8.DecodeLastRuneInString(text[:end]), quicker for ASCII.
func lastRune(text string, end int) (rune, int) {
	if c := text[end-1]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeLastRuneInString(text[:end])
}

// wordSpansAfter fills out with the spans of up to len(out) words starting at or after
// text[start] and returns how many it found.
func wordSpansAfter(text string, start int, out [][2]int) int {
	n := 0
	for n < len(out) && start < len(text) {
		for start < len(text) {
			r, size := utf8.DecodeRuneInString(text[start:])
			if isWordRune(r) {
				break
			}
			start += size
		}
		end := start
		for end < len(text) {
			r, size := utf8.DecodeRuneInString(text[end:])
			if !isWordRune(r) {
				break
			}
			end += size
		}
		if start == end {
			break
		}
		out[n] = [2]int{start, end}
		n++
		start = end
	}
	return n
}

// isWordRune reports whether r belongs to a word, for context words and for the boundaries
// of candidates: a number glued to letters ("A4111…", "v1.2.3.4") is an identifier.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// runeBefore and runeAfter return the rune adjacent to text[start:end], or -1 at an edge.
func runeBefore(text string, start int) rune {
	if start <= 0 {
		return -1
	}
	r, _ := utf8.DecodeLastRuneInString(text[:start])
	return r
}

func runeAfter(text string, end int) rune {
	if end >= len(text) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(text[end:])
	return r
}

// gluedNumber reports whether text[start:end] continues a number or identifier on either side:
// a word rune next to it, or a '.', ',' or '-' followed by a digit ("3.14159…", "1,234,567").
func gluedNumber(text string, start, end int) bool {
	return gluedBefore(text, start) || gluedAfter(text, end)
}

func gluedBefore(text string, start int) bool {
	b := runeBefore(text, start)
	return isWordRune(b) || (b == '.' || b == ',' || b == '-') && isDigit(runeBefore(text, start-1))
}

func gluedAfter(text string, end int) bool {
	a := runeAfter(text, end)
	return isWordRune(a) || (a == '.' || a == ',' || a == '-') && isDigit(runeAfter(text, end+1))
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }
