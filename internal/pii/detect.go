package pii

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Context words per type. A word matches its plural too; see withContext.
var (
	emailContext = terms("email", "e-mail", "mail", "contact")
	phoneContext = terms("phone", "tel", "telephone", "mobile", "cell", "call", "fax", "contact", "whatsapp", "sms")
	// phoneAntiContext marks numbers that are identifiers, not phones ("order 555-123-4567").
	phoneAntiContext = terms("order", "invoice", "ref", "reference", "id", "tracking", "sku", "serial", "account", "po", "ticket")
	cardContext      = terms("card", "credit", "debit", "visa", "mastercard", "amex", "discover", "cc", "payment", "pan")
	ibanContext      = terms("iban", "bank", "account", "transfer", "wire", "sepa")
	ipContext        = terms("ip", "ipv4", "ipv6", "address", "host", "server")
	// ipAntiContext marks dotted quads that are version, build or section numbers ("version
	// 10.4.12.3", "section 4.2.1.3").
	ipAntiContext = terms("version", "build", "release", "v", "ver", "firmware", "patch", "section", "chapter", "figure", "table", "clause", "paragraph", "step", "rule")
	ssnContext    = terms("ssn", "social security", "social security number", "social sec")
)

// Base scores, before context. Presidio sets a checksum-validated card or IBAN to 1.0; here a
// checksum gives a high base instead, so that a nearby "card" or "iban" still tells a 16-digit
// number that happens to pass Luhn (one in ten do) from a card a person typed.
const (
	emailScore     = 0.8
	cardScore      = 0.8
	ibanScore      = 0.9
	ipScore        = 0.6
	phoneE164Score = 0.5
	phoneScore     = 0.4
	// phoneInPlanScore is a national number valid in one of the Scanner's PhoneRegions.
	phoneInPlanScore = 0.6
	ssnDashScore     = 0.5
	ssnSpaceScore    = 0.3
	// ssnPlainScore is below any threshold alone, and above 0.5 once a context word is near
	// ("SSN 536221234"), so a guardrail at 0.5 sees labelled plain SSNs.
	ssnPlainScore = 0.2
)

// findEmails reports local@domain where the local part is letters, digits and ._%+-
// (Unicode letters allowed), not starting or ending with a dot and without "..", and the
// domain is two or more labels of letters, digits and '-' (no label starting or ending with
// '-') whose last label is a real top-level domain (see tldList). A dot after the address
// ends the sentence, not the domain.
func findEmails(text string) []Finding {
	var out []Finding
	tlds := knownTLDs()
	for at := strings.IndexByte(text, '@'); at >= 0; {
		start := at
		for start > 0 {
			r, size := utf8.DecodeLastRuneInString(text[:start])
			if !isWordRune(r) && !strings.ContainsRune(".%+-", r) {
				break
			}
			start -= size
		}
		end := at + 1
		for end < len(text) {
			r, size := utf8.DecodeRuneInString(text[end:])
			if !isWordRune(r) && r != '.' && r != '-' || r == '_' {
				break
			}
			end += size
		}
		for end > at+1 && (text[end-1] == '.' || text[end-1] == '-') {
			end--
		}
		local, domain := text[start:at], text[at+1:end]
		// user@host after "://" is a URL's user info ("https://token@github.com"), not an address.
		if validLocal(local) && !strings.HasSuffix(text[:start], "://") && validDomain(domain, tlds) {
			out = append(out, Finding{Type: Email, Start: start, End: end, Text: text[start:end],
				Score: withContext(text, start, end, emailScore, emailContext)})
		}
		next := strings.IndexByte(text[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return out
}

func validLocal(s string) bool {
	return s != "" && len(s) <= 64 && s[0] != '.' && s[len(s)-1] != '.' && !strings.Contains(s, "..")
}

func validDomain(s string, tlds tldSet) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	last := ""
	for rest := s; ; {
		l, after, more := strings.Cut(rest, ".")
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		if !more {
			last = l
			break
		}
		rest = after
	}
	return tlds.has(last)
}

// dottedQuad returns the end of the four dot-separated groups of one to three digits at
// text[s:] (as the pattern [0-9]{1,3}(\.[0-9]{1,3}){3} would match them), or -1.
func dottedQuad(text string, s int) int {
	i := s
	for g := 0; g < 4; g++ {
		if g > 0 {
			if i+1 >= len(text) || text[i] != '.' || !isDigit(rune(text[i+1])) {
				return -1
			}
			i++
		}
		n := 0
		for i < len(text) && n < 3 && text[i] >= '0' && text[i] <= '9' {
			i++
			n++
		}
		if n == 0 {
			return -1
		}
	}
	return i
}

var (
	ipv6Pattern = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}`)
)

// findIPs reports IPv4 and IPv6 addresses that net/netip parses (so 999.1.1.1 and 01.2.3.4
// are not addresses), not after "version", "build", "section" and the like (unless an IP word is near too), standing alone: not glued to letters or digits, not part of a longer
// dotted number ("1.2.3.4.5", a version) and, for IPv6, not next to another ':'. The bare
// unspecified address "::" is not reported.
func findIPs(text string, starts []int32) []Finding {
	var out []Finding
	for _, s32 := range starts {
		s := int(s32)
		e := dottedQuad(text, s)
		if e < 0 {
			continue
		}
		if gluedNumber(text, s, e) {
			continue
		}
		if a, err := netip.ParseAddr(text[s:e]); err != nil || !a.Is4() {
			continue
		}
		if hasContext(text, s, e, ipAntiContext) && !hasContext(text, s, e, ipContext) {
			continue
		}
		out = append(out, ipFinding(text, s, e))
	}
	if !strings.Contains(text, ":") {
		return out
	}
	for _, m := range ipv6Candidates(text) {
		s, e := m[0], m[1]
		if b := runeBefore(text, s); isWordRune(b) || b == ':' || b == '.' {
			continue
		}
		if a := runeAfter(text, e); isWordRune(a) || a == ':' {
			continue
		}
		a, err := netip.ParseAddr(text[s:e])
		if err != nil || !a.Is6() || a.IsUnspecified() && text[s:e] == "::" {
			continue
		}
		out = append(out, ipFinding(text, s, e))
	}
	return out
}

// ipv6Candidates is ipv6Pattern.FindAllStringIndex(text, -1), run only on the stretches of
// hex digits, ':' and '.' that hold a ':' (the pattern's whole alphabet, so no match crosses
// a stretch's ends): most text has none, and the pattern no longer walks all of it.
func ipv6Candidates(text string) [][]int {
	var out [][]int
	isV6 := func(c byte) bool {
		return c == ':' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], ':')
		if j < 0 {
			break
		}
		l, r := i+j, i+j+1
		for l > i && isV6(text[l-1]) {
			l--
		}
		for r < len(text) && isV6(text[r]) {
			r++
		}
		if strings.Count(text[l:r], ":") < 2 {
			i = r // an IPv6 address has two colons at least ("::1"); times and URLs have one
			continue
		}
		for _, m := range ipv6Pattern.FindAllStringIndex(text[l:r], -1) {
			out = append(out, []int{l + m[0], l + m[1]})
		}
		i = r
	}
	return out
}

func ipFinding(text string, s, e int) Finding {
	return Finding{Type: IPAddress, Start: s, End: e, Text: text[s:e],
		Score: withContext(text, s, e, ipScore, ipContext)}
}

// numberGroup is a run of ASCII digits inside a separated number.
type numberGroup struct{ start, end int }

// digitGroups returns the digit groups of the number starting at text[i]: digits, then
// repeatedly one separator from seps followed by more digits. It returns the groups and the
// separators between them.
func digitGroups(text string, i int, seps string) ([]numberGroup, []byte) {
	var groups []numberGroup
	var between []byte
	for {
		j := i
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		groups = append(groups, numberGroup{i, j})
		if j+1 < len(text) && strings.IndexByte(seps, text[j]) >= 0 && text[j+1] >= '0' && text[j+1] <= '9' {
			between = append(between, text[j])
			i = j + 1
			continue
		}
		return groups, between
	}
}

// findCards reports payment card numbers: 13 to 19 digits, written plain or in groups of 3 to
// 6 digits separated consistently by single spaces or dashes ("4111 1111 1111 1111",
// "3782-822463-10005"), whose prefix and length belong to an issuer (see cardIssuer) and
// whose Luhn checksum holds. Within a longer space-separated run of numbers the longest
// window of groups that qualifies is taken; a plain run of more than 19 digits is never a
// card. Numbers glued to letters or to a decimal point are identifiers, not cards.
func findCards(text string, starts []int32) []Finding {
	var out []Finding
	next := 0 // runs starting before next are inside a run already read
	for _, i32 := range starts {
		i := int(i32)
		if i < next {
			continue
		}
		// Most digit runs (dates, prices, times) are far too short: skip them before grouping.
		j, n := i, 0
		for j < len(text) && (isDigit(rune(text[j])) || (text[j] == ' ' || text[j] == '-') && j+1 < len(text) && isDigit(rune(text[j+1]))) {
			if text[j] != ' ' && text[j] != '-' {
				n++
			}
			j++
		}
		if n < 13 {
			next = j
			continue
		}
		groups, seps := digitGroups(text, i, " -")
		runEnd := groups[len(groups)-1].end
		out = append(out, cardsInRun(text, groups, seps, gluedBefore(text, i), gluedAfter(text, runEnd))...)
		next = runEnd
	}
	return out
}

// cardsInRun finds cards among windows of consecutive groups of one run; a window touching a
// glued end of the run is part of an identifier and skipped.
func cardsInRun(text string, groups []numberGroup, seps []byte, gluedStart, gluedEnd bool) []Finding {
	var out []Finding
	for a := 0; a < len(groups); a++ {
		if a == 0 && gluedStart {
			continue
		}
		for b := len(groups) - 1; b >= a; b-- {
			if b == len(groups)-1 && gluedEnd {
				continue
			}
			s, e := groups[a].start, groups[b].end
			n := 0
			for _, g := range groups[a : b+1] {
				n += g.end - g.start
			}
			if n < 13 || n > 19 || !cardWindowShape(groups[a:b+1], seps[a:b]) {
				continue
			}
			digits := onlyDigits(text[s:e])
			if len(digits) < 13 || len(digits) > 19 || !cardIssuer(digits) || !luhn(digits) {
				continue
			}
			out = append(out, Finding{Type: CreditCard, Start: s, End: e, Text: text[s:e],
				Score: withContext(text, s, e, cardScore, cardContext), Validated: true})
			a = b
			break
		}
	}
	return out
}

// cardWindowShape: one plain group, or groups of 3-6 digits (the first of at least 4) joined
// by one kind of separator.
func cardWindowShape(groups []numberGroup, seps []byte) bool {
	if len(groups) == 1 {
		return true
	}
	for i, g := range groups {
		n := g.end - g.start
		if n < 3 || n > 6 || i == 0 && n < 4 {
			return false
		}
	}
	for _, c := range seps {
		if c != seps[0] {
			return false
		}
	}
	return true
}

func onlyDigits(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// cardIssuer reports whether digits starts with an issuer identification prefix and has a
// length that issuer uses: Visa 4 (13, 16, 19); Mastercard 51-55 and 2221-2720 (16); American
// Express 34, 37 (15); Discover 6011, 644-649, 65 (16-19); Diners Club 300-305, 3095, 36, 38,
// 39 (14-19); JCB 3528-3589 (16-19); UnionPay 62 (16-19); Maestro 5018, 5020, 5038, 5893,
// 6304, 6759, 6761-6763 (13-19); Mir 2200-2204 (16-19).
func cardIssuer(d string) bool {
	n := len(d)
	p := func(k int) int { // the first k digits as a number
		v := 0
		for i := 0; i < k; i++ {
			v = v*10 + int(d[i]-'0')
		}
		return v
	}
	in := func(v, lo, hi int) bool { return v >= lo && v <= hi }
	switch {
	case d[0] == '4':
		return n == 13 || n == 16 || n == 19
	case in(p(2), 51, 55), in(p(4), 2221, 2720):
		return n == 16
	case p(2) == 34, p(2) == 37:
		return n == 15
	case p(4) == 6011, in(p(3), 644, 649), p(2) == 65, p(2) == 62,
		in(p(4), 3528, 3589), in(p(4), 2200, 2204):
		return n >= 16
	case in(p(3), 300, 305), p(4) == 3095, p(2) == 36, p(2) == 38, p(2) == 39:
		return n >= 14
	}
	switch p(4) {
	case 5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763:
		return true
	}
	return false
}

// luhn reports whether the Luhn (mod 10) checksum of a string of digits holds.
func luhn(d string) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// ibanLengths is the length of an IBAN for each country that issues them (ECBS / SWIFT IBAN
// registry): every SEPA country plus others in common use.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
	"EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
	"GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
	"KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
	"MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24,
	"SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "XK": 20,
}

var ibanPattern = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)`)

// ibanMatches finds what an unanchored ibanPattern would (leftmost, non-overlapping), trying
// the anchored pattern only where two capitals and two digits start (two capitals before a
// run of digits), on a window as long as its longest match (4 + 7 groups of " XXXX" + " XXX").
func ibanMatches(text string, starts []int32) [][]int {
	var out [][]int
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	next := 0
	for _, p := range starts {
		s := int(p) - 2
		if s < next || s+4 > len(text) || !upper(text[s]) || !upper(text[s+1]) || !digit(text[s+2]) || !digit(text[s+3]) {
			continue
		}
		m := ibanPattern.FindStringIndex(text[s:min(len(text), s+43)])
		if m == nil {
			continue
		}
		out = append(out, []int{s, s + m[1]})
		next = s + m[1]
	}
	return out
}

// findIBANs reports IBANs: a country code from ibanLengths, two check digits and the BBAN,
// uppercase, written compact or in groups of four separated by single spaces, exactly as long
// as its country requires, standing alone (no letter or digit glued to either end), whose
// mod-97 check (ISO 13616: move the first four characters to the end, letters to 10..35,
// the number mod 97 must be 1) holds. A candidate failing the check is not reported.
func findIBANs(text string, starts []int32) []Finding {
	var out []Finding
	for _, m := range ibanMatches(text, starts) {
		s := m[0]
		if isWordRune(runeBefore(text, s)) {
			continue
		}
		want, ok := ibanLengths[text[s:s+2]]
		if !ok {
			continue
		}
		// Cut the match at the country's length: the pattern may have taken a following
		// word of four capitals as one more group.
		e, n := s, 0
		for e < m[1] && n < want {
			if text[e] != ' ' {
				n++
			}
			e++
		}
		if n < want || isWordRune(runeAfter(text, e)) {
			continue
		}
		compact := strings.ReplaceAll(text[s:e], " ", "")
		if !ibanChecksum(compact) {
			continue
		}
		out = append(out, Finding{Type: IBAN, Start: s, End: e, Text: text[s:e],
			Score: withContext(text, s, e, ibanScore, ibanContext), Validated: true})
	}
	return out
}

// ibanChecksum reports whether the ISO 13616 mod-97 check of a compact IBAN holds.
func ibanChecksum(iban string) bool {
	rearranged := iban[4:] + iban[:4]
	rem := 0
	for i := 0; i < len(rearranged); i++ {
		c := rearranged[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// findSSNs reports US social security numbers: NNN-NN-NNNN (base 0.5), NNN NN NNNN or
// NNN.NN.NNNN (0.3), and nine plain digits only when a context word ("ssn", "social
// security") is near (0.2, raised by the context to 0.55). There is no checksum; the Social
// Security Administration never issues area 000, 666 or 900-999, group 00 or serial 0000,
// nor numbers of one repeated digit, and it voided 078-05-1120 and 219-09-9999 after they
// were printed in advertising: those are rejected. Without a context word a score stays at
// most 0.5, so a guardrail with MinScore above that only sees labelled numbers.
func findSSNs(text string, starts []int32) []Finding {
	var out []Finding
	for _, m := range ssnMatches(text, starts) {
		s, e := m[0], m[1]
		sep1, sep2 := text[m[4]:m[5]], text[m[8]:m[9]]
		if sep1 != sep2 || gluedNumber(text, s, e) {
			continue
		}
		area, group, serial := text[m[2]:m[3]], text[m[6]:m[7]], text[m[10]:m[11]]
		if !validSSN(area, group, serial) {
			continue
		}
		score := ssnDashScore
		switch sep1 {
		case "":
			if !hasContext(text, s, e, ssnContext) {
				continue
			}
			score = ssnPlainScore
		case " ", ".":
			score = ssnSpaceScore
		}
		out = append(out, Finding{Type: USSSN, Start: s, End: e, Text: text[s:e],
			Score: withContext(text, s, e, score, ssnContext)})
	}
	return out
}

// ssnMatches finds, at the start of each run of digits, what the pattern
// ([0-9]{3})([- .]?)([0-9]{2})([- .]?)([0-9]{4}) would match there, as submatch indexes
// (a match starting inside a run is glued to a digit, which findSSNs rejects anyway).
func ssnMatches(text string, starts []int32) [][]int {
	var out [][]int
	digitsAt := func(i, n int) bool {
		if i+n > len(text) {
			return false
		}
		for k := i; k < i+n; k++ {
			if text[k] < '0' || text[k] > '9' {
				return false
			}
		}
		return true
	}
	sepAt := func(i int) int {
		if i < len(text) && (text[i] == '-' || text[i] == ' ' || text[i] == '.') {
			return 1
		}
		return 0
	}
	next := 0
	for _, s32 := range starts {
		s := int(s32)
		if s < next || !digitsAt(s, 3) {
			continue
		}
		// A separator is optional: try with it first, as the pattern's greedy ? does.
		var m []int
		for _, s1 := range []int{sepAt(s + 3), 0} {
			g := s + 3 + s1
			if !digitsAt(g, 2) {
				continue
			}
			for _, s2 := range []int{sepAt(g + 2), 0} {
				se := g + 2 + s2
				if digitsAt(se, 4) {
					m = []int{s, se + 4, s, s + 3, s + 3, g, g, g + 2, g + 2, se, se, se + 4}
					break
				}
			}
			if m != nil {
				break
			}
		}
		if m == nil {
			continue
		}
		out = append(out, m)
		next = m[1]
	}
	return out
}

func validSSN(area, group, serial string) bool {
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	all := area + group + serial
	if strings.Count(all, all[:1]) == len(all) {
		return false
	}
	return all != "078051120" && all != "219099999"
}
