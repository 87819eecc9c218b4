package guard

import (
	"context"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
)

// secretPrefix is a credential format recognised by its fixed prefix: the prefix, then a body
// of allowed bytes between min and max long (max 0: no limit).
type secretPrefix struct {
	prefix   string
	typ      string
	what     string
	body     func(c byte) bool
	min, max int
}

func isAlnum(c byte) bool       { return byteClass[c] == 1 }
func isUpperDigit(c byte) bool  { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
func isTokenByte(c byte) bool   { return tokenByte[c] }
func isEntropyByte(c byte) bool { return entropyByte[c] }

// tokenByte marks the bytes of API keys (letters, digits, '_' and '-'); entropyByte adds
// base64's '+' and '/' for the tokens the entropy check reads.
var tokenByte, entropyByte = func() (t, e [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = byteClass[b] == 1 || b == '_' || b == '-'
		e[c] = t[c] || b == '+' || b == '/'
	}
	return t, e
}()

// secretPrefixes are tried in order at each occurrence of their prefix; a longer prefix that
// shares a start with a shorter one ("sk-ant-", "sk-") comes first.
var secretPrefixes = []secretPrefix{
	{"sk-ant-", "anthropic_api_key", "Anthropic API key", isTokenByte, 32, 0},
	{"sk-", "openai_api_key", "OpenAI API key", isTokenByte, 20, 0},
	{"sk_live_", "stripe_secret_key", "Stripe live secret key", isAlnum, 16, 0},
	{"rk_live_", "stripe_secret_key", "Stripe live restricted key", isAlnum, 16, 0},
	{"AKIA", "aws_access_key_id", "AWS access key id", isUpperDigit, 16, 16},
	{"ASIA", "aws_access_key_id", "AWS temporary access key id", isUpperDigit, 16, 16},
	{"ghp_", "github_token", "GitHub personal access token", isAlnum, 36, 36},
	{"gho_", "github_token", "GitHub OAuth token", isAlnum, 36, 36},
	{"ghu_", "github_token", "GitHub user-to-server token", isAlnum, 36, 36},
	{"ghs_", "github_token", "GitHub server-to-server token", isAlnum, 36, 36},
	{"ghr_", "github_token", "GitHub refresh token", isAlnum, 36, 36},
	{"github_pat_", "github_token", "GitHub fine-grained token", isTokenByte, 22, 0},
	{"glpat-", "gitlab_token", "GitLab personal access token", isTokenByte, 20, 0},
	{"xoxb-", "slack_token", "Slack bot token", isTokenByte, 10, 0},
	{"xoxp-", "slack_token", "Slack user token", isTokenByte, 10, 0},
	{"xoxa-", "slack_token", "Slack app token", isTokenByte, 10, 0},
	{"xoxr-", "slack_token", "Slack refresh token", isTokenByte, 10, 0},
	{"xoxs-", "slack_token", "Slack session token", isTokenByte, 10, 0},
	{"AIza", "google_api_key", "Google API key", isTokenByte, 35, 35},
	{"plk_", "plumb_api_key", "Plumb API key", isAlnum, 32, 32},
}

// prefixFirst indexes secretPrefixes by their first byte, in their order.
var prefixFirst = func() (t [256][]*secretPrefix) {
	for i := range secretPrefixes {
		p := &secretPrefixes[i]
		t[p.prefix[0]] = append(t[p.prefix[0]], p)
	}
	return t
}()

// startByte marks the first bytes of the prefixes and of a JWT.
var startByte = func() (t [256]bool) {
	for _, p := range secretPrefixes {
		t[p.prefix[0]] = true
	}
	t['e'] = true
	return t
}()

// secretContext are words that, just before a long random-looking token, say it is a secret.
var secretContext = map[string]bool{
	"key": true, "keys": true, "secret": true, "secrets": true, "token": true, "tokens": true,
	"password": true, "passwd": true, "pwd": true, "apikey": true, "api_key": true, "bearer": true,
	"credential": true, "credentials": true, "auth": true, "authorization": true, "access_key": true,
	"secret_key": true, "client_secret": true, "private_key": true, "passphrase": true,
}

// secretsDetector reports credentials: known prefixes, PEM private keys, JWTs, and (with
// entropy on) long high-entropy tokens right after a word such as key, secret or token.
type secretsDetector struct {
	entropy    bool
	minEntropy float64
	minLength  int
}

func newSecrets(o *options) (Detector, error) {
	entropy, err := o.boolean("entropy", true)
	if err != nil {
		return nil, err
	}
	minEntropy, err := o.float("min_entropy", 3.5, 0, 8)
	if err != nil {
		return nil, err
	}
	minLength, err := o.int("min_length", 20, 8, 1024)
	if err != nil {
		return nil, err
	}
	return &secretsDetector{entropy: entropy, minEntropy: minEntropy, minLength: minLength}, nil
}

func (d *secretsDetector) Name() string { return "secrets" }

func (d *secretsDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	covered := func(s, e int) bool {
		for _, f := range out {
			if s < f.End && e > f.Start {
				return true
			}
		}
		return false
	}
	// One pass: at each token start whose first byte begins some prefix (or a JWT's "eyJ"),
	// try them.
	for s := 0; s < len(text); s++ {
		if !startByte[text[s]] || s > 0 && isTokenByte(text[s-1]) {
			continue
		}
		if strings.HasPrefix(text[s:], "eyJ") {
			if e, ok := jwtAt(text, s); ok {
				out = append(out, Finding{Detector: "secrets", Type: "jwt", Start: s, End: e, Score: 0.9,
					Reason: "JSON Web Token (" + strconv.Itoa(e-s) + " characters)"})
				s = e - 1
			}
			continue
		}
		for _, p := range prefixFirst[text[s]] {
			if !strings.HasPrefix(text[s:], p.prefix) {
				continue
			}
			e := s + len(p.prefix)
			for e < len(text) && p.body(text[e]) {
				e++
			}
			n := e - s - len(p.prefix)
			if n < p.min || p.max > 0 && n > p.max || e < len(text) && isTokenByte(text[e]) {
				continue
			}
			out = append(out, Finding{Detector: "secrets", Type: p.typ, Start: s, End: e, Score: 0.95,
				Reason: p.what + " (" + p.prefix + "…, " + strconv.Itoa(e-s) + " characters)"})
			s = e - 1
			break
		}
	}
	out = appendPEM(out, text)
	if d.entropy {
		out = d.appendEntropy(out, text, covered)
	}
	sortFindings(out)
	return out, nil
}

// appendPEM reports "-----BEGIN … PRIVATE KEY-----" blocks up to their END line (or the
// header alone when the block is cut off).
func appendPEM(out []Finding, text string) []Finding {
	for i := 0; ; {
		k := strings.Index(text[i:], "-----BEGIN ")
		if k < 0 {
			return out
		}
		s := i + k
		hdrEnd := strings.Index(text[s+11:], "-----")
		if hdrEnd < 0 || hdrEnd > 40 {
			i = s + 11
			continue
		}
		label := text[s+11 : s+11+hdrEnd]
		e := s + 11 + hdrEnd + 5
		i = e
		if !strings.HasSuffix(label, "PRIVATE KEY") {
			continue
		}
		if end := strings.Index(text[e:], "-----END "+label+"-----"); end >= 0 {
			e += end + len("-----END "+label+"-----")
			i = e
		}
		out = append(out, Finding{Detector: "secrets", Type: "private_key", Start: s, End: e, Score: 1,
			Reason: "PEM " + strings.ToLower(label) + " block"})
	}
}

// jwtAt reports a JSON Web Token starting at text[s] (which starts "eyJ"): three base64url
// parts joined by dots, the first decoding to a JSON header. It returns the token's end.
func jwtAt(text string, s int) (int, bool) {
	e, dots := s, 0
	partLen := 0
	for e < len(text) && (isTokenByte(text[e]) || text[e] == '.') {
		if text[e] == '.' {
			if partLen < 2 {
				return 0, false
			}
			dots++
			partLen = 0
		} else {
			partLen++
		}
		e++
	}
	if dots != 2 || partLen < 2 {
		return 0, false
	}
	hdr := text[s : s+strings.IndexByte(text[s:], '.')]
	raw, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil || !strings.Contains(string(raw), `"alg"`) && !strings.Contains(string(raw), `"typ"`) {
		return 0, false
	}
	return e, true
}

// appendEntropy reports tokens of at least minLength letters, digits and +/_- whose Shannon
// entropy is at least minEntropy bits per character, that mix letters and digits, within
// three words after a secret context word ("key", "token", "password", ...).
func (d *secretsDetector) appendEntropy(out []Finding, text string, covered func(s, e int) bool) []Finding {
	// '=' is left out: it joins a name to its value ("client_secret=…") more often than it
	// pads base64.
	isTok := isEntropyByte
	for i := 0; i < len(text); {
		if !isTok(text[i]) {
			i++
			continue
		}
		s := i
		for i < len(text) && isTok(text[i]) {
			i++
		}
		e := i
		if e-s < d.minLength || covered(s, e) {
			continue
		}
		tok := text[s:e]
		letters, digits := 0, 0
		for j := 0; j < len(tok); j++ {
			switch c := tok[j]; {
			case c >= '0' && c <= '9':
				digits++
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				letters++
			}
		}
		if letters == 0 || digits == 0 || shannon(tok) < d.minEntropy || !secretNearby(text, s) {
			continue
		}
		out = append(out, Finding{Detector: "secrets", Type: "high_entropy_token", Start: s, End: e, Score: 0.7,
			Reason: "random-looking token of " + strconv.Itoa(e-s) + " characters after a word such as key, secret or token"})
	}
	return out
}

// secretNearby reports a secret context word among the three words before text[s:], where a
// word is a run of letters, digits and '_' ("API_KEY=" gives "api_key").
func secretNearby(text string, s int) bool {
	words := 0
	for i := s; i > 0 && words < 3 && s-i < 80; {
		for i > 0 && !isTokenByte(text[i-1]) {
			i--
		}
		e := i
		for i > 0 && (isAlnum(text[i-1]) || text[i-1] == '_') {
			i--
		}
		if e == i {
			return false
		}
		words++
		w := text[i:e]
		if len(w) <= 32 {
			var buf [32]byte
			lw := lowerInto(buf[:0], w)
			if secretContext[string(lw)] {
				return true
			}
			// API_KEY, OPENAI_API_KEY, client-secret: the last part counts too.
			if j := strings.LastIndexAny(string(lw), "_-"); j >= 0 && secretContext[string(lw[j+1:])] {
				return true
			}
		}
	}
	return false
}

func lowerInto(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// shannon is the Shannon entropy of s in bits per byte.
func shannon(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
