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
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
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
	// A pattern runs only where s holds one of the strings its matches need. The case-blind
	// patterns are checked on s in lower case, which is exact for ASCII alone (Unicode case
	// folding matches more, e.g. the Kelvin sign for k), so a body with other characters runs
	// them all. A replacement adds "[REDACTED]", which holds none of those strings, and can
	// only cut them out, so what s lacks before a replacement it lacks after.
	ascii := isASCII(s)
	lower := ""
	if ascii {
		lower = strings.ToLower(s)
	}
	may := func(fold bool, need []string) bool {
		if fold && !ascii {
			return true
		}
		in := s
		if fold {
			in = lower
		}
		for _, n := range need {
			if strings.Contains(in, n) {
				return true
			}
		}
		return false
	}
	if may(true, []string{"bearer", "basic"}) {
		s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
			sub := authScheme.FindStringSubmatch(m)
			if len(sub[3]) < 20 && !strings.ContainsAny(sub[3], "0123456789") {
				return m
			}
			return sub[1] + sub[2] + Redacted
		})
	}
	for _, p := range secretPatterns {
		if !may(p.fold, p.need) {
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
