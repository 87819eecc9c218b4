package guard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Languages the language detector can name. Scripts used by one language name it; Latin-script
// languages are told apart by their commonest short words.
var (
	scriptLanguages = []struct {
		table *unicode.RangeTable
		code  string
	}{
		{unicode.Hangul, "ko"}, {unicode.Hiragana, "ja"}, {unicode.Katakana, "ja"}, {unicode.Han, "zh"},
		{unicode.Cyrillic, "ru"}, {unicode.Arabic, "ar"}, {unicode.Hebrew, "he"}, {unicode.Greek, "el"},
		{unicode.Devanagari, "hi"}, {unicode.Thai, "th"},
	}
	stopWords = map[string][]string{
		"en": {"the", "and", "is", "are", "of", "to", "in", "that", "it", "you", "for", "with", "this", "was", "have", "not", "be", "on", "what", "can"},
		"fr": {"le", "la", "les", "et", "est", "des", "une", "un", "du", "que", "pour", "dans", "pas", "vous", "nous", "avec", "sur", "ce", "qui", "je"},
		"de": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "mit", "ich", "sie", "es", "auf", "für", "von", "sich", "dem", "wir"},
		"es": {"el", "la", "los", "las", "y", "es", "de", "que", "en", "un", "una", "por", "con", "para", "no", "se", "del", "al", "lo", "como"},
		"it": {"il", "la", "le", "e", "è", "di", "che", "un", "una", "per", "non", "sono", "con", "del", "della", "gli", "lo", "si", "ma", "anche"},
		"pt": {"o", "a", "os", "as", "e", "é", "de", "que", "em", "um", "uma", "para", "não", "com", "do", "da", "se", "por", "mais", "você"},
		"nl": {"de", "het", "een", "en", "is", "van", "niet", "dat", "die", "op", "te", "zijn", "met", "voor", "ik", "je", "er", "maar", "ook", "wat"},
	}
	latinLanguages = []string{"en", "fr", "de", "es", "it", "pt", "nl"}
)

// stopIndex maps a stop word to the Latin-script languages it belongs to, as a bit set in the
// order of latinLanguages.
var stopIndex = func() map[string]uint8 {
	m := map[string]uint8{}
	for i, lang := range latinLanguages {
		for _, w := range stopWords[lang] {
			m[w] |= 1 << i
		}
	}
	return m
}()

// stopFilter has bit len(w) of entry w[0] set for each stop word w: most words are ruled out
// without a map lookup.
var stopFilter = func() (t [256]uint8) {
	for w := range stopIndex {
		t[w[0]] |= 1 << len(w)
	}
	return t
}()

// LanguageNames lists the language codes the language detector can recognise.
func LanguageNames() []string {
	out := slices.Clone(latinLanguages)
	for _, s := range scriptLanguages {
		if !slices.Contains(out, s.code) {
			out = append(out, s.code)
		}
	}
	return out
}

// DetectLanguage guesses the ISO 639-1 code of text and how sure it is (0..1): the script
// most letters are written in, and for Latin script the language whose commonest words appear
// most often. It returns "" when the text is too short or too mixed to tell (fewer than five
// Latin words of which fewer than two are common words).
func DetectLanguage(text string) (string, float64) {
	counts := make([]int, len(scriptLanguages))
	latin, letters := 0, 0
	scripts := text
	if asciiText(text) {
		latin, letters, scripts = 1, 1, "" // Latin script only: go straight to the stop words
	}
	for _, r := range scripts {
		if r < utf8.RuneSelf {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				letters++
				latin++
			}
			continue
		}
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		if r < 0x250 {
			latin++
			continue
		}
		for i, s := range scriptLanguages {
			if unicode.Is(s.table, r) {
				counts[i]++
				break
			}
		}
	}
	if letters == 0 {
		return "", 0
	}
	best, bestN := -1, 0
	for i, n := range counts {
		// Japanese mixes kana with Han: any kana makes Han count as Japanese.
		if scriptLanguages[i].code == "zh" && (counts[1] > 0 || counts[2] > 0) {
			continue
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	if bestN > latin {
		n := bestN
		if scriptLanguages[best].code == "ja" {
			n = counts[1] + counts[2] + counts[3]
		}
		return scriptLanguages[best].code, min(1, float64(n)/float64(letters))
	}
	var hits [8]int
	words, total := 0, 0
	var buf [16]byte
	for i := 0; i < len(text); {
		// Inline fast path over ASCII; nextWord handles words with other runes.
		if byteClass[text[i]] == 0 {
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
		w := text[s:e]
		words++
		if words > 200 {
			break // enough to decide; long texts need not be read to the end
		}
		c := w[0]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if len(w) > 6 || stopFilter[c]&(1<<len(w)) == 0 { // no stop word is longer
			continue
		}
		bits := stopIndex[string(lowerKey(buf[:], w))]
		if bits == 0 {
			continue
		}
		total++
		for i := range latinLanguages {
			if bits&(1<<i) != 0 {
				hits[i]++
			}
		}
	}
	if words < 5 || total < 2 {
		return "", 0
	}
	bi, second := 0, 0
	for i := range latinLanguages {
		if hits[i] > hits[bi] {
			bi = i
		}
	}
	for i := range latinLanguages {
		if i != bi && hits[i] > second {
			second = hits[i]
		}
	}
	if hits[bi] == second {
		return "", 0
	}
	conf := float64(hits[bi]-second) / float64(hits[bi])
	return latinLanguages[bi], min(1, 0.5+conf/2)
}

// languageDetector reports a text written in a language not in its allowed list.
type languageDetector struct {
	allowed  []string
	minScore float64
}

func newLanguage(o *options) (Detector, error) {
	allowed, err := o.strs("allowed")
	if err != nil {
		return nil, err
	}
	if len(allowed) == 0 {
		return nil, o.errorf("allowed", "required: the languages the text may be in, as ISO 639-1 codes (%s)", strings.Join(LanguageNames(), ", "))
	}
	for _, a := range allowed {
		if !slices.Contains(LanguageNames(), a) {
			return nil, o.errorf("allowed", "%q is not a language the detector knows: use %s", a, strings.Join(LanguageNames(), ", "))
		}
	}
	minScore, err := o.float("min_score", 0.6, 0, 1)
	if err != nil {
		return nil, err
	}
	return &languageDetector{allowed: allowed, minScore: minScore}, nil
}

func (d *languageDetector) Name() string { return "language" }

func (d *languageDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	lang, score := DetectLanguage(text)
	if lang == "" || score < d.minScore || slices.Contains(d.allowed, lang) {
		return nil, nil
	}
	return []Finding{{Detector: "language", Type: "language", Start: 0, End: len(text), Score: score,
		Reason: fmt.Sprintf("written in %s, not in the allowed %s", lang, strings.Join(d.allowed, ", "))}}, nil
}
