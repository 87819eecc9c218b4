package trace

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/pii"
)

// Body modes: what a trace record keeps of a body.
const (
	ModeFull      = "full"      // the whole body
	ModeTruncated = "truncated" // at most max bytes
	ModeOff       = "off"       // nothing
)

// Redacted replaces a secret in a recorded body.
const Redacted = "[REDACTED]"

// secretPatterns find secrets in a body. Each match's group 1, when the pattern has one, is
// kept (the field name or header), the rest replaced. need lists strings of which a match
// always contains one (in lower case when fold: the pattern ignores case), so that a body
// with none of them skips the pattern: most bodies hold no secret, and running every
// pattern on every body cost the gateway half its CPU.
var secretPatterns = []struct {
	re   *regexp.Regexp
	fold bool
	need []string
}{
	// JSON fields and query or form parameters that hold a secret, whatever the value.
	{regexp.MustCompile(`(?i)("(?:api[_-]?key|apikey|x-api-key|access[_-]?token|refresh[_-]?token|auth[_-]?token|secret|client[_-]?secret|password|passwd|authorization|token)"\s*:\s*")(?:[^"\\]|\\.)*`),
		true, []string{`key"`, `token"`, `secret"`, `password"`, `passwd"`, `authorization"`}},
	{regexp.MustCompile(`(?i)(\b(?:api[_-]?key|apikey|access[_-]?token|password|secret|token)=)[^&\s"']+`),
		true, []string{"key=", "token=", "password=", "secret="}},
	// Provider keys: Anthropic (sk-ant-...), OpenAI (sk-..., sk-proj-...), Plumb (plk_...).
	{regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{8,}`), false, []string{"sk-ant-"}},
	{regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{16,}`), false, []string{"sk-"}},
	{regexp.MustCompile(`\bplk_[A-Za-z0-9_-]{8,}`), false, []string{"plk_"}},
	// AWS access key ids, and secret access keys where they are named.
	{regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`), false, []string{"AKIA", "ASIA", "ABIA", "ACCA"}},
	{regexp.MustCompile(`(?i)(aws_?secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}`), true, []string{"aws"}},
	// Other well-known token shapes: GitHub, Slack, Google API keys, JWTs.
	{regexp.MustCompile(`\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}`), false, []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}},
	{regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`), false, []string{"xox"}},
	{regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`), false, []string{"AIza"}},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), false, []string{"eyJ"}},
}

// piiTypes are the personal data Body redacts when asked: what a body may carry about a
// person (IP addresses and SSN-shaped numbers without context are left: too many false
// positives in model output).
var piiScanner = pii.Scanner{Types: []pii.Type{pii.Email, pii.Phone, pii.CreditCard, pii.IBAN, pii.USSSN}, MinScore: 0.5}

// Body is what a trace record keeps of a request or response body: nothing (mode off),
// all of it (full) or at most max bytes (truncated, cut at a character boundary and ending
// with a note of how much was cut). Secrets (bearer tokens, API keys of OpenAI, Anthropic,
// Plumb and AWS, api_key-like fields, ...) are always replaced by [REDACTED]; with
// redactPII, e-mail addresses, phone numbers, card numbers (Luhn-checked), IBANs
// (checksummed) and SSNs are replaced by <EMAIL>, <PHONE>, ... Redaction runs on the whole
// body before it is cut, so that a secret straddling the cut is never half kept. An
// unknown mode records nothing.
func Body(raw []byte, mode string, max int, redactPII bool) string {
	if len(raw) == 0 || (mode != ModeFull && mode != ModeTruncated) {
		return ""
	}
	s := string(raw)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = RedactSecrets(s)
	if redactPII {
		s = pii.Anonymize(s, piiScanner.Scan(s), pii.Replace)
	}
	if mode == ModeTruncated && max >= 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s… [truncated: %d of %d bytes cut]", s[:cut], len(s)-cut, len(s))
	}
	return s
}

// authScheme is "Bearer TOKEN" or "Basic CREDENTIALS", in a header or a JSON field. The
// credential is redacted when it looks like one (a digit, or 20 characters and more), so
// that prose such as "the bearer of this letter" is left alone.
var authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})`)

// RedactSecrets replaces the secrets Body knows in s by [REDACTED].
func RedactSecrets(s string) string {
	// A pattern runs only where s holds one of the strings its matches need, found in one
	// pass over s (mayMatch). A replacement adds "[REDACTED]", which holds none of those
	// strings, and can only cut them out, so what s lacks before a replacement it lacks after.
	may := mayMatch(s)
	if may&(1<<authBit) != 0 {
		s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
			sub := authScheme.FindStringSubmatch(m)
			if len(sub[3]) < 20 && !strings.ContainsAny(sub[3], "0123456789") {
				return m
			}
			return sub[1] + sub[2] + Redacted
		})
	}
	for i, p := range secretPatterns {
		if may&(1<<i) == 0 {
			continue
		}
		if p.re.NumSubexp() == 0 {
			s = p.re.ReplaceAllLiteralString(s, Redacted)
		} else {
			s = p.re.ReplaceAllString(s, "${1}"+Redacted)
		}
	}
	return s
}

// authBit is authScheme's bit in mayMatch's set; secretPatterns' are their indexes.
const authBit = 63

// needle is a string of which a pattern's matches always contain one.
type needle struct {
	text string // in lower case when fold
	fold bool   // matched without regard to ASCII case
	bit  uint   // the pattern's bit
}

// needlesByFirst lists the needles by the byte they start with (both cases of a fold
// needle's first letter); needlePairs holds the two bytes every needle starts with (in
// every case of a fold needle's), so that the scan passes most bytes with one bit test.
var needlesByFirst, needlePairs = func() (t [128][]needle, pairs [256]uint64) {
	cases := func(c byte, fold bool) []byte {
		if up := c - ('a' - 'A'); fold && 'a' <= c && c <= 'z' {
			return []byte{c, up}
		}
		return []byte{c}
	}
	add := func(n needle) {
		for _, c0 := range cases(n.text[0], n.fold) {
			t[c0] = append(t[c0], n)
			for _, c1 := range cases(n.text[1], n.fold) {
				k := int(c0)<<7 | int(c1)
				pairs[k/64] |= 1 << (k % 64)
			}
		}
	}
	for _, w := range []string{"bearer", "basic"} {
		add(needle{text: w, fold: true, bit: authBit})
	}
	if len(secretPatterns) >= authBit {
		panic("trace: more secret patterns than mayMatch's set holds")
	}
	for i, p := range secretPatterns {
		for _, w := range p.need {
			add(needle{text: w, fold: p.fold, bit: uint(i)})
		}
	}
	return t, pairs
}()

// mayMatch is the set of patterns (bits: authBit and secretPatterns' indexes) whose needed
// strings s holds, in one pass. The case-blind patterns are matched on ASCII case alone,
// which Unicode case folding extends (the Kelvin sign matches k), so a string with other
// characters may match every case-blind pattern.
func mayMatch(s string) uint64 {
	var set uint64
	if len(s) == 0 {
		return set
	}
	ascii := true
	c1 := s[0]
	for i := 1; i < len(s); i++ {
		c0 := c1
		c1 = s[i]
		if c0|c1 >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if k := uint(c0)<<7 | uint(c1); needlePairs[k>>6&255]>>(k&63)&1 == 0 {
			continue
		}
		for _, n := range needlesByFirst[c0] {
			if set&(1<<n.bit) == 0 && hasNeedle(s[i-1:], n) {
				set |= 1 << n.bit
			}
		}
	}
	if !ascii || c1 >= utf8.RuneSelf {
		set |= foldSet
	}
	return set
}

// foldSet is the set of the case-blind patterns.
var foldSet = func() uint64 {
	set := uint64(1) << authBit
	for i, p := range secretPatterns {
		if p.fold {
			set |= 1 << i
		}
	}
	return set
}()

// hasNeedle reports whether s starts with n.
func hasNeedle(s string, n needle) bool {
	if len(s) < len(n.text) {
		return false
	}
	if !n.fold {
		return s[:len(n.text)] == n.text
	}
	for j := 0; j < len(n.text); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != n.text[j] {
			return false
		}
	}
	return true
}
