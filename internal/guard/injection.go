package guard

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"unicode/utf8"
)

// phraseRule is a phrase a prompt injection or jailbreak uses: words from each step in order,
// with at most gap other words between consecutive steps.
type phraseRule struct {
	typ   string
	what  string
	score float64
	gap   int
	steps []string // each "a|b|c"
	lang  string   // "" for English; see langRules
	gaps  []int    // the gap before each step after the first, when they differ; else gap
}

// injectionRules are English phrases of instruction overrides, system prompt extraction and
// role-play jailbreaks (the wrappers red teams and published jailbreak templates use).
var injectionRules = []phraseRule{
	{"prompt_injection", "tells the model to ignore its earlier instructions", 0.9, 3, []string{
		"ignore|disregard|forget|skip|override|bypass|neglect|drop|abandon|discard",
		"previous|prior|above|earlier|preceding|initial|original|system|all|any|every|those|these|existing|developer",
		"instructions|instruction|prompt|prompts|rules|directions|guidelines|guidance|constraints|directives|programming|context|messages|commands|policies"}, "", nil},
	{"prompt_injection", "tells the model to ignore its instructions", 0.7, 1, []string{
		"ignore|disregard|forget|override|bypass",
		"instructions|prompt|rules|guidelines|directives|programming"}, "", nil},
	{"prompt_injection", "announces new instructions that replace the old", 0.7, 2, []string{
		"new|updated|real|actual|revised|override",
		"instructions|instruction|rules|directives|system",
		"follow|override|supersede|supersedes|replace|replaces|obey"}, "", nil},
	{"prompt_extraction", "asks for the system prompt", 0.85, 4, []string{
		"reveal|show|print|output|repeat|display|tell|leak|dump|expose|give|write|share|recite|spell",
		"system|initial|hidden|secret|original|developer|confidential|internal",
		"prompt|prompts|instructions|message|rules|guidelines"}, "", nil},
	{"prompt_extraction", "asks for the text above the conversation", 0.8, 3, []string{
		"repeat|print|output|recite|copy",
		"words|text|everything|instructions|all",
		"above|before|verbatim"}, "", nil},
	{"jailbreak", "declares the model unrestricted", 0.85, 3, []string{
		"you",
		"are|re",
		"now|dan|unrestricted|unfiltered|jailbroken|evil|uncensored|free",
		"dan|unrestricted|unfiltered|jailbroken|evil|uncensored|free|liberated|amoral"}, "", nil},
	{"jailbreak", "uses the Do Anything Now jailbreak", 0.9, 0, []string{"do", "anything", "now"}, "", nil},
	{"prompt_injection", "asks the model to decode a message and obey it", 0.8, 3, []string{
		"decode|decipher|unscramble|deobfuscate",
		"and|then",
		"follow|obey|execute|do|carry|perform|run"}, "", nil},
	{"prompt_injection", "points the model at hidden instructions", 0.8, 2, []string{
		"follow|obey|execute|read|apply",
		"instructions|instruction|commands|directives|orders",
		"hidden|embedded|encoded|invisible|concealed|smuggled"}, "", nil},
	{"jailbreak", "declares the model's rules suspended", 0.85, 1, []string{
		"your|assistant|assistants|model|ai|chatbot|bot|system",
		"rules|guidelines|safeguards|filters|instructions|programming|safety|restrictions",
		"are|is|have|has|been|now",
		"suspended|disabled|deactivated|void|removed|revoked|waived|overridden|lifted|off"}, "", nil},
	{"jailbreak", "switches on a jailbreak mode", 0.85, 0, []string{
		"developer|dan|god|jailbreak|jailbroken|unrestricted|unfiltered|evil|opposite",
		"mode"}, "", nil},
	{"jailbreak", "asks for role-play without restrictions", 0.85, 6, []string{
		"pretend|act|roleplay|role|imagine|behave|simulate|become|play",
		"without|no|zero|free|ignoring",
		"restrictions|restriction|rules|filters|filter|limits|limitations|guidelines|censorship|boundaries|ethics|morals|morality|policies|safeguards"}, "", nil},
	{"jailbreak", "says the model is no longer bound by its rules", 0.8, 1, []string{
		"longer",
		"bound|restricted|limited|constrained|obligated|required"}, "", nil},
	{"jailbreak", "asks to switch off safety", 0.85, 2, []string{
		"bypass|disable|override|circumvent|deactivate|evade|remove|turn",
		"safety|content|moderation|ethical|security|openai|anthropic",
		"filters|filter|guidelines|policies|policy|protocols|restrictions|measures|guardrails|settings"}, "", nil},
	{"jailbreak", "asks the model to stay in a role", 0.6, 0, []string{"stay|remain", "in", "character"}, "", nil},
}

// chatMarkers are chat-template tokens that have no business in a user's text: they try to
// open a new system or assistant turn.
var chatMarkers = []string{"<|im_start|>", "<|im_end|>", "<|system|>", "<|assistant|>", "[/inst]", "<<sys>>",
	"<|endoftext|>", "<|eot_id|>", "<|start_header_id|>"}

// metaWords, shortly before a phrase, mark text about injections rather than one: "such as",
// "for example", "an attack like".
var metaWords = map[string]bool{
	"example": true, "examples": true, "such": true, "like": true, "phrase": true, "phrases": true,
	"eg": true, "detect": true, "detects": true, "detecting": true, "detection": true, "detector": true,
	"attack": true, "attacks": true, "attackers": true, "attacker": true, "called": true, "known": true,
	"injection": true, "injections": true, "jailbreaks": true, "classifier": true, "block": true,
	"blocks": true, "blocking": true, "recognize": true, "flag": true, "flags": true, "filter": true,
	"say": true, "says": true, "saying": true, "wrote": true, "typed": true, "contain": true, "contains": true,
	"containing": true, "pattern": true, "patterns": true, "string": true, "strings": true, "test": true,
	// The same in the languages of langRules.
	"exemple": true, "ejemplo": true, "beispiel": true, "esempio": true, "exemplo": true,
	"attaque": true, "attaques": true, "ataque": true, "ataques": true, "angriff": true, "angriffe": true,
	"attacco": true, "attacchi": true, "inyeccion": true, "injektion": true,
	"iniezione": true, "injecao": true,
}

// ruleSet is the rules compiled for fast matching: the first step's words index the rules.
type ruleSet struct {
	rules []compiledRule
	first map[string][]int
	// filter has bit filterKey(w) set for each first word w, so most words are ruled out
	// without a map lookup.
	filter [filterBits / 64]uint64
}

const filterBits = 8192

// filterKey mixes a word's first two bytes, last byte and length into a bit index.
func filterKey(w []byte) uint {
	k := uint(w[0])*131 + uint(w[len(w)-1])*31 + uint(len(w))*977
	if len(w) > 1 {
		k += uint(w[1]) * 7919
	}
	return k % filterBits
}

// has reports whether a word of filter key k could be a first word of one of the rules.
func (rs *ruleSet) has(k uint) bool {
	return rs.filter[k/64]&(1<<(k%64)) != 0
}

type compiledRule struct {
	phraseRule
	steps []map[string]bool
}

func compileRules(rules []phraseRule, fold func(string) string) *ruleSet {
	rs := &ruleSet{first: map[string][]int{}}
	for i, r := range rules {
		cr := compiledRule{phraseRule: r}
		for k, step := range r.steps {
			set := map[string]bool{}
			for _, w := range strings.Split(step, "|") {
				set[fold(w)] = true
				if k == 0 {
					f := fold(w)
					rs.first[f] = append(rs.first[f], i)
					k := filterKey([]byte(f))
					rs.filter[k/64] |= 1 << (k % 64)
				}
			}
			cr.steps = append(cr.steps, set)
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs
}

func identity(s string) string { return s }

// leetFold maps leetspeak and the letters it imitates to one form: a 4 @ → a, e 3 → e,
// i l 1 ! | → i, o 0 → o, s 5 $ → s, t 7 → t, b 8 → b, g 9 → g. A word and its leetspeak
// spelling fold alike ("1gn0r3" and "ignore").
func leetFold(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = leetByte(c)
	}
	return string(b)
}

func leetByte(c byte) byte { return leetTable[c] }

// leetTable is leetByteSlow for every byte, so that folding a text is a table lookup per byte.
var leetTable = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = leetByteSlow(byte(c))
	}
	return t
}()

func leetByteSlow(c byte) byte {
	switch c {
	case '4', '@':
		return 'a'
	case '3':
		return 'e'
	case 'l', '1', '!', '|':
		return 'i'
	case '0':
		return 'o'
	case '5', '$':
		return 's'
	case '7':
		return 't'
	case '8':
		return 'b'
	case '9':
		return 'g'
	}
	return c
}

// The compiled rules never change after start-up.
var (
	allRules   = append(append([]phraseRule(nil), injectionRules...), langRules...)
	plainRules = compileRules(allRules, identity)
	rot13Rules = compileRules(allRules, rot13)
	leetRules  = compileRules(allRules, leetFold)
)

// injectionDetector reports prompt injections and jailbreaks by phrase rules over the text
// and over what decodings reveal (see Finding.Decoding).
type injectionDetector struct {
	minScore  float64
	decodings map[string]bool
}

// allDecodings are the decodings the injection detector applies; option decodings picks some.
var allDecodings = []string{"base64", "hex", "rot13", "leetspeak", "unicode_tags", "homoglyphs"}

func newInjection(o *options) (Detector, error) {
	minScore, err := o.float("min_score", 0.5, 0, 1)
	if err != nil {
		return nil, err
	}
	decs, err := o.strs("decodings")
	if err != nil {
		return nil, err
	}
	if _, set := o.m["decodings"]; !set {
		decs = allDecodings
	}
	d := &injectionDetector{minScore: minScore, decodings: map[string]bool{}}
	for _, name := range decs {
		ok := false
		for _, a := range allDecodings {
			ok = ok || a == name
		}
		if !ok {
			return nil, o.errorf("decodings", "unknown decoding %q: use %s", name, strings.Join(allDecodings, ", "))
		}
		d.decodings[name] = true
	}
	return d, nil
}

func (d *injectionDetector) Name() string { return "injection" }

func (d *injectionDetector) Detect(_ context.Context, text string) ([]Finding, error) {
	n := normalize(text)
	out := d.matchAll(n, nil, "")
	for _, m := range chatMarkers {
		if i := bytes.Index(n.norm, []byte(m)); i >= 0 {
			s, e := n.span(i, i+len(m))
			out = append(out, Finding{Detector: "injection", Type: "prompt_injection", Start: s, End: e, Score: 0.8,
				Reason: "holds a chat-template token that opens a new turn (" + m + ")"})
		}
	}
	if d.decodings["unicode_tags"] && len(n.tags) > 0 {
		s, e := int(n.tagOff[0]), int(n.tagOff[len(n.tagOff)-1])+4
		if n.tagFlag {
			out = append(out, Finding{Detector: "injection", Type: "hidden_text", Start: s, End: e, Score: 0.8,
				Reason: "holds " + strconv.Itoa(len(n.tags)) + " invisible Unicode tag characters", Decoding: "unicode_tags"})
		}
		out = append(out, d.matchAll(normalize(string(n.tags)), []int{s, e}, "unicode_tags")...)
	}
	if d.decodings["base64"] || d.decodings["hex"] {
		out = append(out, d.decoded(text)...)
	}
	kept := out[:0]
	for _, f := range out {
		if f.Score >= d.minScore {
			kept = append(kept, f)
		}
	}
	sortFindings(kept)
	return kept, nil
}

// decoded finds runs of base64 or hex of at least 20 characters that decode to readable
// text and matches the rules in what they say; a finding spans the encoded run.
func (d *injectionDetector) decoded(text string) []Finding {
	var out []Finding
	encodedRuns(text, d.decodings["base64"], d.decodings["hex"], func(s, e int, plain []byte, dec string) {
		out = append(out, d.matchAll(normalize(string(plain)), []int{s, e}, dec)...)
	})
	return out
}

// token is a word of a normText: norm[s:e], letters and digits (and the leetspeak symbols
// @ $ ! | inside a word).
type token struct {
	s, e int
	leet bool // mixes letters with digits or leetspeak symbols
}

// tokClass classifies a byte of normalised text as bit flags: 1 a letter (a-z), 2 a digit,
// 4 a leetspeak symbol (@ $ ! |), which belongs to a word only when a letter or digit follows.
var tokClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 2
	}
	for _, c := range "@$!|" {
		t[c] = 4
	}
	return t
}()

func tokenize(n *normText, buf []token) []token {
	b := n.norm
	for i := 0; i < len(b); {
		c := tokClass[b[i]]
		if c == 0 || c == 4 && (i+1 >= len(b) || tokClass[b[i+1]]&3 == 0) {
			i++
			continue
		}
		s, mask, at := i, uint8(0), false
		for i < len(b) {
			c := tokClass[b[i]]
			if c&3 == 0 {
				if c != 4 || i+1 >= len(b) || tokClass[b[i+1]]&3 == 0 {
					break
				}
				at = at || b[i] == '@'
			}
			mask |= c
			i++
		}
		// A number alone ("2024") is not leetspeak; a word mixing letters with digits or
		// symbols is, unless it is the start of an e-mail address ("jane@example" before ".com").
		leet := mask&1 != 0 && mask&6 != 0 && !(at && i+1 < len(b) && b[i] == '.' && tokClass[b[i+1]]&3 != 0)
		buf = append(buf, token{s: s, e: i, leet: leet})
	}
	return buf
}

// matchAll runs the word rules over n, and the Chinese and Japanese rules over its text when
// it has characters of those scripts.
func (d *injectionDetector) matchAll(n *normText, span []int, decoding string) []Finding {
	out := d.match(n, span, decoding)
	if n.cjk {
		out = append(out, d.matchCJK(n.src, span, decoding)...)
	}
	return out
}

// match runs the rule sets over n. When span is set, findings span it (the encoded run the
// text was decoded from) and carry decoding.
func (d *injectionDetector) match(n *normText, span []int, decoding string) []Finding {
	var out []Finding
	var tokBuf [512]token
	toks := tokenize(n, tokBuf[:0])
	if len(toks) == 0 {
		return nil
	}
	// fold holds the leetspeak-folded form of norm, made only when a token has leetspeak.
	var fold []byte
	for i := range toks {
		if toks[i].leet {
			fold = make([]byte, len(n.norm))
			for k, c := range n.norm {
				fold[k] = leetByte(c)
			}
			break
		}
	}
	leetOn := d.decodings["leetspeak"] && fold != nil
	rot13On := d.decodings["rot13"]
	nextLeet := len(toks) + 9 // index of the next leetspeak token at or after i
	if leetOn {
		for k := len(toks) - 1; k >= 0; k-- {
			if toks[k].leet {
				nextLeet = k
				break
			}
		}
	}
	for i := range toks {
		k := filterKey(n.norm[toks[i].s:toks[i].e])
		if plainRules.has(k) {
			d.tryRules(n, n.norm, toks, i, plainRules, "", span, decoding, &out)
		}
		if rot13On && rot13Rules.has(k) {
			d.tryRules(n, n.norm, toks, i, rot13Rules, "rot13", span, decoding, &out)
		}
		if leetOn && nextLeet < i {
			nextLeet = len(toks) + 9
			for k := i; k < len(toks); k++ {
				if toks[k].leet {
					nextLeet = k
					break
				}
			}
		}
		// Try the folded rules when this word or one of the next eight is leetspeak, so that
		// "ignore 4ll previous instructions" (a plain first word) is found too.
		if leetOn && nextLeet <= i+8 && leetRules.has(filterKey(fold[toks[i].s:toks[i].e])) {
			d.tryRules(n, fold, toks, i, leetRules, "leetspeak", span, decoding, &out)
		}
	}
	return out
}

// tryRules tries the rules of set whose first word is token i, reading words from b (the
// normalised text or its leetspeak fold); the first rule that matches is reported. The
// caller has checked the set's filter.
func (d *injectionDetector) tryRules(n *normText, b []byte, toks []token, i int, set *ruleSet, variant string,
	span []int, decoding string, out *[]Finding) {
	w := b[toks[i].s:toks[i].e]
	for _, ri := range set.first[string(w)] {
		r := &set.rules[ri]
		j, ok := i, true
		for si, step := range r.steps[1:] {
			gap := r.gap
			if r.gaps != nil {
				gap = r.gaps[si]
			}
			found := -1
			for k := j + 1; k < len(toks) && k <= j+1+gap; k++ {
				if step[string(b[toks[k].s:toks[k].e])] {
					found = k
					break
				}
			}
			if found < 0 {
				ok = false
				break
			}
			j = found
		}
		if !ok {
			continue
		}
		if variant == "leetspeak" && !anyLeet(toks[i:j+1]) {
			continue // the plain rules already matched these words
		}
		score := r.score
		dec := decoding
		if dec == "" {
			dec = variant
		}
		if dec == "" && n.hom != nil && anyTrue(n.hom[toks[i].s:toks[j].e]) {
			dec = "homoglyphs"
		}
		if dec == "" && n.zw != nil && anyTrue(n.zw[toks[i].s:toks[j].e]) {
			dec = "zero_width"
		}
		if dec == "homoglyphs" && !d.decodings["homoglyphs"] {
			continue
		}
		if negated(n, toks, i, r.lang != "") {
			continue // "do not forget the previous context"
		}
		if (r.lang != "" || r.typ == "prompt_injection") && spanHas(n, toks[i:j+1], firstPerson, negatedInside) {
			// "forget my earlier messages", "oubliez mes instructions précédentes", "vergiss
			// nicht die vorherigen Anweisungen"; but "act as my grandmother with no limits" is
			// role-play all the same.
			continue
		}
		if dec == "" || dec == "homoglyphs" || dec == "zero_width" || dec == "leetspeak" {
			score = discussed(n, toks, i, j, score)
		}
		var s, e int
		if span != nil {
			s, e = span[0], span[1]
		} else {
			s, e = n.span(toks[i].s, toks[j].e)
		}
		reason := r.what
		if dec != "" {
			reason += " (revealed by " + dec + " decoding)"
		}
		*out = append(*out, Finding{Detector: "injection", Type: r.typ, Start: s, End: e, Score: score,
			Reason: reason, Decoding: dec})
		return
	}
}

// negated reports a negation in the two words before token i: "not", "never", "don't", and
// for the rules of other languages "ne", "n'", "non", "não", "nunca", "jamais", "mai", and
// "no" right before (in English, "No. Ignore all previous instructions" is no negation).
func negated(n *normText, toks []token, i int, foreign bool) bool {
	for k := i - 1; k >= max(0, i-2); k-- {
		// A negation ends with its sentence: "I never lie. Ignore all previous
		// instructions" is an injection.
		if strings.ContainsAny(string(n.norm[toks[k].e:toks[k+1].s]), ".!?;:\n") {
			return false
		}
		switch w := string(n.norm[toks[k].s:toks[k].e]); w {
		case "not", "never", "dont", "don", "t", "cannot", "shouldn", "mustn":
			return true
		case "ne", "n", "non", "nao", "nunca", "jamais", "mai":
			if foreign {
				return true
			}
		case "no":
			if foreign && k == i-1 {
				return true
			}
		}
	}
	return false
}

// spanHas reports a word of toks found in one of sets.
func spanHas(n *normText, toks []token, sets ...map[string]bool) bool {
	for _, t := range toks {
		for _, set := range sets {
			if set[string(n.norm[t.s:t.e])] { // no allocation
				return true
			}
		}
	}
	return false
}

func anyLeet(toks []token) bool {
	for _, t := range toks {
		if t.leet {
			return true
		}
	}
	return false
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// discussed lowers the score of a phrase that is talked about rather than said: quoted
// (a quote mark opens within the few bytes before it and closes after it: score halved), or
// preceded within eight words by a word such as "example", "attack", "detect" or "such as"
// (score lowered by 0.5).
func discussed(n *normText, toks []token, i, j int, score float64) float64 {
	b := n.norm
	quoted := false
	for k := toks[i].s - 1; k >= 0 && k >= toks[i].s-3; k-- {
		if c := b[k]; c == '"' || c == '\'' || c == '`' || c == ' ' && n.src[n.at(k)] >= utf8.RuneSelf && isQuoteRune(n.src, n.at(k)) {
			quoted = true
			break
		}
	}
	if quoted {
		end := min(len(b), toks[j].e+40)
		if strings.ContainsAny(string(b[toks[j].e:end]), "\"'`") || containsQuoteRune(n.src[n.at(toks[j].e-1):n.at(end-1)]) {
			score *= 0.5
		}
	}
	for k := max(0, i-8); k < i; k++ {
		if metaWords[string(b[toks[k].s:toks[k].e])] {
			score -= 0.5
			break
		}
	}
	return max(score, 0)
}

func isQuoteRune(s string, at int) bool {
	r, _ := utf8.DecodeRuneInString(s[at:])
	return r == '“' || r == '”' || r == '‘' || r == '’' || r == '«' || r == '»'
}

func containsQuoteRune(s string) bool { return strings.ContainsAny(s, "“”‘’«»") }
