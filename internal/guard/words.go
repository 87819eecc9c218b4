package guard

import (
	"context"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordList matches phrases of whole words, case-insensitively: each phrase is split into
// words (runs of letters and digits), and the text's words are compared in sequence, so
// "ass" never matches inside "class" and "social security" matches "Social  Security".
type wordList struct {
	// first indexes phrases by their first word.
	first map[string][]phrase
	// filter has bit min(len(w), 31) of entry w[0] set for each first word w, so most words
	// of a text are ruled out without a map lookup.
	filter [256]uint32
}

type phrase struct {
	words []string
	label string
}

func newWordList() *wordList { return &wordList{first: map[string][]phrase{}} }

// add adds phrase under label; it reports false when the phrase has no word.
func (l *wordList) add(p, label string) bool {
	var words []string
	for s, e := nextWord(p, 0); s < e; s, e = nextWord(p, e) {
		words = append(words, strings.ToLower(p[s:e]))
	}
	if len(words) == 0 {
		return false
	}
	w := words[0]
	l.first[w] = append(l.first[w], phrase{words: words, label: label})
	l.filter[w[0]] |= 1 << min(len(w), 31)
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// byteClass is 1 for ASCII letters and digits, 2 for bytes of non-ASCII runes, 0 otherwise.
var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			t[c] = 1
		case c >= utf8.RuneSelf:
			t[c] = 2
		}
	}
	return t
}()

// wordByte classifies an ASCII byte: a letter or digit.
func wordByte(c byte) bool { return byteClass[c] == 1 }

// nextWord returns the span of the first word of s at or after i; s == e when there is none.
func nextWord(s string, i int) (int, int) {
	for i < len(s) && byteClass[s[i]] == 0 {
		i++
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if wordByte(c) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			break
		}
		i += size
	}
	st := i
	for i < len(s) && byteClass[s[i]] == 1 {
		i++
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !wordByte(c) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		i += size
	}
	return st, i
}

// lowerKey lowercases w into buf when it is ASCII and fits, or with strings.ToLower; the
// result is meant for a map index m[string(key)], which does not allocate.
func lowerKey(buf []byte, w string) []byte {
	if len(w) > cap(buf) {
		return []byte(strings.ToLower(w))
	}
	for i := 0; i < len(w); i++ {
		if w[i] >= utf8.RuneSelf {
			return []byte(strings.ToLower(w))
		}
	}
	return lowerInto(buf[:0], w)
}

// match calls found for each phrase in text, with its span and label.
func (l *wordList) match(text string, found func(s, e int, label string)) {
	if len(l.first) == 0 {
		return
	}
	var buf [64]byte
	for i := 0; i < len(text); {
		// Inline fast path over ASCII; nextWord handles words with other runes.
		if cl := byteClass[text[i]]; cl == 0 {
			i++
			continue
		}
		s, e := i, i
		for e < len(text) && byteClass[text[e]] == 1 {
			e++
		}
		if e < len(text) && text[e] >= utf8.RuneSelf || e == s {
			s, e = nextWord(text, s)
			if s == e {
				break
			}
		}
		i = e
		c := text[s]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c < utf8.RuneSelf && l.filter[c]&(1<<min(e-s, 31)) == 0 {
			continue
		}
		cands := l.first[string(lowerKey(buf[:], text[s:e]))]
	next:
		for _, p := range cands {
			end := e
			for k := 1; k < len(p.words); k++ {
				ws, we := nextWord(text, end)
				if ws == we || !strings.EqualFold(text[ws:we], p.words[k]) {
					continue next
				}
				end = we
			}
			found(s, end, p.label)
			break
		}
	}
}

// pattern is a compiled regular expression and, when every match must contain one, a
// lowercase literal checked first: most texts hold none and skip the regular expression.
type pattern struct {
	re      *regexp.Regexp
	literal string
}

// requiredLiteral returns a lowercase literal every match of the case-insensitive pattern p
// contains (the longest literal of a top-level concatenation), or "".
func requiredLiteral(p string) string {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	lit := func(r *syntax.Regexp) string {
		if r.Op != syntax.OpLiteral {
			return ""
		}
		return strings.ToLower(string(r.Rune))
	}
	best := lit(re)
	if re.Op == syntax.OpConcat {
		for _, sub := range re.Sub {
			if l := lit(sub); len(l) > len(best) {
				best = l
			}
		}
	}
	if !isASCII(best) {
		return "" // case folding outside ASCII may change lengths; always run the expression
	}
	return best
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// findAll returns the spans of the pattern's matches in text; ascii says text is all ASCII
// (outside ASCII, (?i)k also matches the Kelvin sign and (?i)s the long s, so a literal with
// those letters is no proof of absence).
func (p pattern) findAll(text string, ascii bool) [][]int {
	if p.literal != "" && (ascii || !strings.ContainsAny(p.literal, "ks")) && !containsFold(text, p.literal) {
		return nil
	}
	return p.re.FindAllStringIndex(text, -1)
}

// containsFold reports whether text contains lit (lowercase ASCII) in any ASCII case, by
// byte scans for its first letter in either case.
func containsFold(text, lit string) bool {
	c := lit[0]
	for _, first := range []byte{c, c &^ 0x20} {
		if first == c&^0x20 && (c < 'a' || c > 'z') {
			break // not a letter: one case only
		}
		for i := 0; ; {
			k := strings.IndexByte(text[i:], first)
			if k < 0 || i+k+len(lit) > len(text) {
				break
			}
			if strings.EqualFold(text[i+k:i+k+len(lit)], lit) {
				return true
			}
			i += k + 1
		}
	}
	return false
}

// asciiText reports whether s is all ASCII, eight bytes at a time.
func asciiText(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if (s[i]|s[i+1]|s[i+2]|s[i+3]|s[i+4]|s[i+5]|s[i+6]|s[i+7])&0x80 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// compilePatterns compiles regular expressions (RE2 syntax: linear time, no backtracking),
// case-insensitive unless the pattern says otherwise.
func compilePatterns(o *options, key string, ps []string) ([]pattern, error) {
	var out []pattern
	for i, p := range ps {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, o.errorf(key, "item %d %q is not a valid regular expression (RE2 syntax): %v", i+1, p, err)
		}
		out = append(out, pattern{re: re, literal: requiredLiteral("(?i)" + p)})
	}
	return out, nil
}

// bannedWordsDetector reports words and phrases from a list, and matches of patterns.
type bannedWordsDetector struct {
	words    *wordList
	patterns []pattern
}

func newBannedWords(o *options) (Detector, error) {
	words, err := o.strs("words")
	if err != nil {
		return nil, err
	}
	ps, err := o.strs("patterns")
	if err != nil {
		return nil, err
	}
	d := &bannedWordsDetector{words: newWordList()}
	for i, w := range words {
		if !d.words.add(w, "") {
			return nil, o.errorf("words", "item %d %q has no letter or digit: use patterns for symbols", i+1, w)
		}
	}
	if d.patterns, err = compilePatterns(o, "patterns", ps); err != nil {
		return nil, err
	}
	if len(words) == 0 && len(ps) == 0 {
		return nil, fmt.Errorf("guard: detector %q needs option words (a list of words or phrases) or patterns (regular expressions)", "banned_words")
	}
	return d, nil
}

func (d *bannedWordsDetector) Name() string { return "banned_words" }

func (d *bannedWordsDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	d.words.match(text, func(s, e int, _ string) {
		out = append(out, Finding{Detector: "banned_words", Type: "banned_word", Start: s, End: e, Score: 1,
			Reason: "a banned word or phrase from the list"})
	})
	ascii := len(d.patterns) > 0 && asciiText(text)
	for i, p := range d.patterns {
		for _, m := range p.findAll(text, ascii) {
			if m[0] == m[1] {
				continue
			}
			out = append(out, Finding{Detector: "banned_words", Type: "banned_pattern", Start: m[0], End: m[1], Score: 1,
				Reason: fmt.Sprintf("matches banned pattern %d", i+1)})
		}
	}
	sortFindings(out)
	return out, nil
}

// deniedTopicsDetector reports topics a policy keeps out of the conversation; each topic is
// a name with words, phrases and patterns that signal it.
type deniedTopicsDetector struct {
	words    *wordList
	patterns map[string][]pattern
	names    []string
}

func newDeniedTopics(o *options) (Detector, error) {
	v, ok := o.get("topics")
	if !ok {
		return nil, o.errorf("topics", "required: a map of topic name to its words, e.g. topics: {medical_advice: [diagnosis, dosage, \"prescription drugs\"]}, or to {words: [...], patterns: [...]}")
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, o.errorf("topics", "want a map of topic name to a list of words, not %s", describe(v))
	}
	d := &deniedTopicsDetector{words: newWordList(), patterns: map[string][]pattern{}}
	for name, t := range m {
		d.names = append(d.names, name)
		sub := &options{detector: "denied_topics", m: map[string]any{"words": t}}
		if tm, isTM := t.(map[string]any); isTM {
			sub = &options{detector: "denied_topics", m: tm}
		}
		key := "topics." + name
		words, err := sub.strs("words")
		if err != nil {
			return nil, o.errorf(key, "want a list of words or {words: [...], patterns: [...]}: %v", err)
		}
		ps, err := sub.strs("patterns")
		if err != nil {
			return nil, o.errorf(key, "%v", err)
		}
		if err := sub.unknown(); err != nil {
			return nil, o.errorf(key, "a topic takes words and patterns: %v", err)
		}
		if len(words) == 0 && len(ps) == 0 {
			return nil, o.errorf(key, "the topic has no words and no patterns")
		}
		for i, w := range words {
			if !d.words.add(w, name) {
				return nil, o.errorf(key, "word %d %q has no letter or digit: use patterns for symbols", i+1, w)
			}
		}
		res, err := compilePatterns(o, key, ps)
		if err != nil {
			return nil, err
		}
		d.patterns[name] = res
	}
	slices.Sort(d.names)
	return d, nil
}

func (d *deniedTopicsDetector) Name() string { return "denied_topics" }

func (d *deniedTopicsDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	var out []Finding
	d.words.match(text, func(s, e int, label string) {
		out = append(out, Finding{Detector: "denied_topics", Type: "denied_topic", Start: s, End: e, Score: 0.9,
			Reason: "touches the denied topic " + label})
	})
	ascii := asciiText(text)
	for _, name := range d.names {
		for _, p := range d.patterns[name] {
			for _, m := range p.findAll(text, ascii) {
				if m[0] < m[1] {
					out = append(out, Finding{Detector: "denied_topics", Type: "denied_topic", Start: m[0], End: m[1], Score: 0.9,
						Reason: "touches the denied topic " + name})
				}
			}
		}
	}
	sortFindings(out)
	return out, nil
}
