package guard

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordList matches phrases of whole words, case-insensitively: each phrase is split into
// words (runs of letters and digits), and the text's words are compared in sequence, so
// "ass" never matches inside "class" and "social security" matches "Social  Security".
type wordList struct {
	// first indexes phrases by their first word; each entry is the phrase's words and a label.
	first map[string][]phrase
}

type phrase struct {
	words []string
	label string
}

func newWordList() *wordList { return &wordList{first: map[string][]phrase{}} }

// add adds phrase under label; it reports false when the phrase has no word.
func (l *wordList) add(p, label string) bool {
	var words []string
	for _, w := range splitWords(p) {
		words = append(words, strings.ToLower(p[w[0]:w[1]]))
	}
	if len(words) == 0 {
		return false
	}
	l.first[words[0]] = append(l.first[words[0]], phrase{words: words, label: label})
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// splitWords returns the byte spans of the words of s.
func splitWords(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !isWordRune(r) {
			i += size
			continue
		}
		st := i
		for i < len(s) {
			r, size = rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[i:])
			}
			if !isWordRune(r) {
				break
			}
			i += size
		}
		out = append(out, [2]int{st, i})
	}
	return out
}

// lowerWord lowercases w into buf when it is ASCII, and with strings.ToLower otherwise.
func lowerWord(buf []byte, w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] >= utf8.RuneSelf {
			return strings.ToLower(w)
		}
	}
	if len(w) > cap(buf) {
		return strings.ToLower(w)
	}
	return string(lowerInto(buf[:0], w))
}

// match calls found for each phrase in text, with its span and label.
func (l *wordList) match(text string, found func(s, e int, label string)) {
	if len(l.first) == 0 {
		return
	}
	spans := splitWords(text)
	var buf [64]byte
	var buf2 [64]byte
	for i, sp := range spans {
		cands := l.first[lowerWord(buf[:], text[sp[0]:sp[1]])]
	next:
		for _, p := range cands {
			if i+len(p.words) > len(spans) {
				continue
			}
			for k := 1; k < len(p.words); k++ {
				w := spans[i+k]
				if lowerWord(buf2[:], text[w[0]:w[1]]) != p.words[k] {
					continue next
				}
			}
			found(sp[0], spans[i+len(p.words)-1][1], p.label)
			break
		}
	}
}

// compilePatterns compiles regular expressions (RE2 syntax: linear time, no backtracking),
// case-insensitive unless the pattern says otherwise.
func compilePatterns(o *options, key string, ps []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for i, p := range ps {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, o.errorf(key, "item %d %q is not a valid regular expression (RE2 syntax): %v", i+1, p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// bannedWordsDetector reports words and phrases from a list, and matches of patterns.
type bannedWordsDetector struct {
	words    *wordList
	patterns []*regexp.Regexp
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
	for i, re := range d.patterns {
		for _, m := range re.FindAllStringIndex(text, -1) {
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
	patterns map[string][]*regexp.Regexp
	names    []string
}

func newDeniedTopics(o *options) (Detector, error) {
	v, ok := o.get("topics")
	if !ok {
		return nil, o.errorf("topics", "required: a map of topic name to its words, e.g. topics: {medical_advice: [diagnosis, dosage, \"prescription drugs\"]}, or to {words: [...], patterns: [...]}")
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, o.errorf("topics", "want a map of topic name to a list of words, got %T", v)
	}
	d := &deniedTopicsDetector{words: newWordList(), patterns: map[string][]*regexp.Regexp{}}
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
	for _, name := range d.names {
		for _, re := range d.patterns[name] {
			for _, m := range re.FindAllStringIndex(text, -1) {
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
