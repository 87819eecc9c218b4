package pii

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// KnownRegion reports whether libphonenumber has a numbering plan for the country code r
// ("US", "GB").
func KnownRegion(r string) bool {
	return phonenumbers.GetCountryCodeForRegion(r) != 0
}

// validPhone reports whether libphonenumber's numbering plans hold the number s: an
// international one (+CC...) in its own country, a national one in one of regions. With no
// regions a national number is judged by its shape alone: which country's plan it should
// fit is the caller's to say.
func validPhone(s string, plus bool, regions []string) bool {
	if !plus && len(regions) == 0 {
		return true
	}
	// libphonenumber's checks are regular expressions, some 10 µs a number: the answers
	// are kept, as the same numbers come back (a support line in every answer).
	key := s
	if !plus {
		key = strings.Join(regions, ",") + "|" + s
	}
	phoneMemo.Lock()
	v, ok := phoneMemo.m[key]
	phoneMemo.Unlock()
	if ok {
		return v
	}
	v = checkPhone(s, plus, regions)
	phoneMemo.Lock()
	if len(phoneMemo.m) >= phoneMemoMax {
		clear(phoneMemo.m)
	}
	phoneMemo.m[key] = v
	phoneMemo.Unlock()
	return v
}

// phoneMemo keeps validPhone's answers, up to phoneMemoMax numbers.
var phoneMemo = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

const phoneMemoMax = 4096

func checkPhone(s string, plus bool, regions []string) bool {
	if plus {
		n := international(s)
		if n == nil {
			return false
		}
		// The country's main region first (GB for +44): checking every region that shares
		// the code (+1 has 25) is several times slower.
		main := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
		return phonenumbers.IsValidNumberForRegion(n, main) || phonenumbers.IsValidNumber(n)
	}
	for _, r := range regions {
		n, err := phonenumbers.Parse(s, strings.ToUpper(r))
		if err == nil && phonenumbers.IsValidNumberForRegion(n, strings.ToUpper(r)) {
			return true
		}
	}
	return false
}

// international reads a number written +CC... (digits and separators, as findPhones gives
// it) as libphonenumber's Parse would, without its costly regular expressions; nil when
// no country has the code.
func international(s string) *phonenumbers.PhoneNumber {
	var digits []byte
	for i := 0; i < len(s); i++ {
		if isDigit(rune(s[i])) {
			digits = append(digits, s[i])
		}
	}
	for l := 1; l <= 3 && l < len(digits); l++ {
		cc, _ := strconv.Atoi(string(digits[:l]))
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue // country codes are prefix-free: at most one length fits
		}
		national := digits[l:]
		nn, err := strconv.ParseUint(string(national), 10, 64)
		if err != nil {
			return nil
		}
		n := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(nn)}
		// Leading zeros are part of some countries' numbers (Italy's 06...): keep them.
		if zeros := len(national) - len(strings.TrimLeft(string(national), "0")); zeros > 0 && nn != 0 {
			n.ItalianLeadingZero = proto.Bool(true)
			if zeros > 1 {
				n.NumberOfLeadingZeros = proto.Int32(int32(zeros))
			}
		}
		return n
	}
	return nil
}

// findPhones reports phone numbers: a candidate by shape, then checked against
// libphonenumber's numbering plans (validPhone). A candidate is a run that
// starts with '+', '(' or a digit and continues with digit groups joined by single spaces,
// dashes or dots, with at most one parenthesised group (an area code) among the first two.
// The whole run is judged; a part of it is never reported, so long numbers do not hide
// phones inside them.
//
//   - International (E.164): '+', a country code not starting with 0, 8 to 15 digits in all.
//     Base score 0.5.
//   - National: 9 to 15 digits in at least two groups (or an area code in parentheses),
//     groups of 2 digits or more except a leading trunk digit ("1-800-555-0199"), the first
//     group at most 5 digits, dots not mixed with other separators. Base score 0.4.
//   - Plain national digits (10 or 11, no separator) only next to a phone context word.
//
// What it refuses, and why:
//   - runs glued to letters, to '#', or continuing with ".d", "-d", ":d", "/d" on either side:
//     identifiers, UUIDs, decimals, times ("12:30"), dates ("2024/05/01");
//   - 8 digits or fewer without '+': dates (2024-05-01, 01.05.2024) and short codes;
//   - ISO or day-first dates at the start of the run ("2024-05-01 12...");
//   - three or more groups of exactly four digits: card numbers and IBAN parts;
//   - groups of 3, 2 and 4 digits: the shape of a US SSN;
//   - four dot-separated groups of at most three digits: IPv4-shaped numbers;
//   - numbers preceded by "order", "invoice", "ref", "id", ... unless a phone word is also near.
func findPhones(text string, starts []int32, regions []string) []Finding {
	var out []Finding
	next := 0
	for _, p := range starts {
		// A phone starts at a run of digits, or at the '+' or '(' before it ("+44", "(415)",
		// "+1 (415)" is reached from its "1").
		i := int(p)
		if i > 0 && (text[i-1] == '+' || text[i-1] == '(') {
			i--
		}
		if i < next {
			continue
		}
		// A phone has eight digits at least: skip shorter runs (dates, times, prices) before
		// parsing them.
		j, n := i, 0
		for j < len(text) && j-i < 32 {
			d := text[j]
			if isDigit(rune(d)) {
				n++
			} else if d != ' ' && d != '-' && d != '.' && d != '(' && d != ')' && d != '+' {
				break
			}
			j++
		}
		if n < 8 {
			continue
		}
		end, f, ok := phoneAt(text, i)
		plus := text[i] == '+'
		if ok && validPhone(f.Text, plus, regions) {
			if !plus && len(regions) > 0 {
				// A national number that fits a plan the caller named is no longer just
				// phone-shaped: it clears the default threshold without a phone word.
				f.Score = max(f.Score, phoneInPlanScore)
			}
			out = append(out, f)
		}
		next = max(next, end)
	}
	return out
}

// phoneAt parses the run at text[start:] and returns its end and, if it is a phone, the
// finding.
func phoneAt(text string, start int) (int, Finding, bool) {
	i := start
	plus := text[i] == '+'
	if plus {
		i++
	}
	// Fixed buffers keep the usual number (a few groups) off the heap.
	var groupBuf [16]numberGroup
	var sepBuf [16]byte
	groups, seps := groupBuf[:0], sepBuf[:0]
	paren := false
	for i < len(text) {
		g := numberGroup{start: i}
		switch {
		case text[i] == '(' && !paren && len(groups) <= 1:
			j := i + 1
			for j < len(text) && isDigit(rune(text[j])) {
				j++
			}
			if j == i+1 || j-i-1 > 5 || j >= len(text) || text[j] != ')' {
				return i + 1, Finding{}, false
			}
			paren = true
			g.end = j + 1
			i = j + 1
		case isDigit(rune(text[i])):
			j := i
			for j < len(text) && isDigit(rune(text[j])) {
				j++
			}
			g.end = j
			i = j
		default:
			if len(groups) == 0 {
				return i + 1, Finding{}, false
			}
		}
		if g.end == 0 {
			break
		}
		groups = append(groups, g)
		if i+1 < len(text) && (text[i] == ' ' || text[i] == '-' || text[i] == '.') &&
			(isDigit(rune(text[i+1])) || text[i+1] == '(' && !paren) {
			seps = append(seps, text[i])
			i++
			continue
		}
		break
	}
	if len(groups) == 0 {
		return i, Finding{}, false
	}
	end := groups[len(groups)-1].end
	if !phoneShape(text, start, end, plus, groups, seps, paren) {
		return end, Finding{}, false
	}
	plain := !plus && !paren && len(groups) == 1
	phoneWord := hasContext(text, start, end, phoneContext)
	if !phoneWord && hasContext(text, start, end, phoneAntiContext) {
		return end, Finding{}, false
	}
	score := phoneScore
	switch {
	case plus:
		score = phoneE164Score
	case plain:
		if !phoneWord {
			return end, Finding{}, false
		}
	}
	return end, Finding{Type: Phone, Start: start, End: end, Text: text[start:end],
		Score: boosted(score, phoneWord)}, true
}

func phoneShape(text string, start, end int, plus bool, groups []numberGroup, seps []byte, paren bool) bool {
	if b := runeBefore(text, start); isWordRune(b) || b == '#' || b == '+' ||
		(b == '.' || b == '-' || b == ':' || b == '/' || b == ',') && isWordRune(runeBefore(text, start-1)) {
		return false
	}
	if a := runeAfter(text, end); isWordRune(a) ||
		(a == '.' || a == '-' || a == ':' || a == '/' || a == ',') && isDigit(runeAfter(text, end+1)) {
		return false
	}
	digits := 0
	var sizeBuf [16]int
	sizes := sizeBuf[:0]
	for range groups {
		sizes = append(sizes, 0)
	}
	for k, g := range groups {
		n := g.end - g.start
		if text[g.start] == '(' {
			n -= 2
		}
		sizes[k] = n
		digits += n
	}
	if plus {
		return digits >= 8 && digits <= 15 && text[start+1] != '0'
	}
	if len(groups) == 1 && !paren {
		return digits == 10 || digits == 11
	}
	if digits < 9 || digits > 15 || sizes[0] > 5 {
		return false
	}
	for k, n := range sizes {
		if n < 2 && k != 0 {
			return false
		}
	}
	hasDot, hasOther := false, false
	for _, c := range seps {
		if c == '.' {
			hasDot = true
		} else {
			hasOther = true
		}
	}
	if hasDot && (hasOther || paren) {
		return false
	}
	if hasDot && len(sizes) == 4 && sizes[0] <= 3 && sizes[1] <= 3 && sizes[2] <= 3 && sizes[3] <= 3 {
		return false
	}
	if len(sizes) >= 3 && !paren {
		d := func(k int) int { // the value of group k
			v := 0
			for _, c := range text[groups[k].start:groups[k].end] {
				v = v*10 + int(c-'0')
			}
			return v
		}
		if sizes[0] == 4 && sizes[1] == 2 && sizes[2] == 2 && d(0) >= 1900 && d(0) <= 2099 && d(1) >= 1 && d(1) <= 12 {
			return false
		}
		if sizes[0] <= 2 && sizes[1] <= 2 && sizes[2] == 4 && d(1) >= 1 && d(1) <= 12 && d(2) >= 1900 && d(2) <= 2099 {
			return false
		}
		if len(sizes) == 3 && sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 4 {
			return false // NNN-NN-NNNN is a US SSN's shape, no country's phone plan
		}
		fours := true
		for _, n := range sizes[:len(sizes)-1] {
			fours = fours && n == 4
		}
		if fours {
			return false
		}
	}
	return true
}
