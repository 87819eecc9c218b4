package guard

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// normText is a text brought to a form the phrase rules can match: ASCII lowercase, look-alike
// letters from other scripts folded to the Latin letter they imitate (homoglyphs), accented
// Latin letters folded to their base letters (é → e, ß → ss), invisible characters dropped,
// and any other non-ASCII rune turned into a space. off maps each byte
// of norm back to the start of the rune it came from in the original text; it is nil when
// the text is ASCII and norm is as long as it.
type normText struct {
	src  string
	norm []byte
	off  []int32
	// hom marks norm bytes folded from a homoglyph; zw marks bytes right after a dropped
	// invisible character. Both are nil when the text had none.
	hom, zw []bool
	// tags is the ASCII hidden in Unicode tag characters (U+E0020..U+E007E), tagOff where
	// each came from.
	tags    []byte
	tagOff  []int32
	tagFlag bool // tag characters outside a flag emoji sequence
	// cjk is set when the text holds Chinese or Japanese characters, which norm turns into
	// spaces: the phrase rules of those languages then read the original text.
	cjk bool
}

func normalize(text string) *normText {
	if asciiText(text) {
		// The common case: one lowercase copy, and offsets are the identity (off stays nil).
		b := make([]byte, len(text))
		for i := 0; i < len(text); i++ {
			b[i] = lowerTable[text[i]]
		}
		return &normText{src: text, norm: b}
	}
	n := &normText{src: text, norm: make([]byte, 0, len(text)), off: make([]int32, 0, len(text))}
	zwPending := false
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			n.push(c, i, false, zwPending)
			zwPending = false
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			if r >= 0xE0020 && r <= 0xE007E {
				n.tags = append(n.tags, byte(r-0xE0000))
				n.tagOff = append(n.tagOff, int32(i))
				if !n.afterFlag(i) {
					n.tagFlag = true
				}
			}
		case r == 0x200B || r == 0x200C || r == 0x200D || r == 0x2060 || r == 0xFEFF || r == 0x00AD:
			zwPending = true
		default:
			if a := confusable(r); a != 0 {
				n.push(a, i, true, zwPending)
			} else if f := foldAccent(r); f != "" {
				// A letter of French, Spanish, German, Portuguese, Italian, ...: its base
				// letter, so that "précédentes" reads as the word "precedentes".
				for k := 0; k < len(f); k++ {
					n.push(f[k], i, false, zwPending && k == 0)
				}
			} else {
				n.cjk = n.cjk || isCJK(r)
				n.push(' ', i, false, false)
			}
			zwPending = false
		}
		i += size
	}
	return n
}

// afterFlag reports whether the tag character at i continues an emoji flag sequence
// (U+1F3F4 then tags, as in the flags of England, Scotland and Wales).
func (n *normText) afterFlag(i int) bool {
	for j := i; j > 0; {
		r, size := utf8.DecodeLastRuneInString(n.src[:j])
		if r == 0x1F3F4 {
			return true
		}
		if r < 0xE0000 || r > 0xE007F {
			return false
		}
		j -= size
	}
	return false
}

func (n *normText) push(c byte, at int, hom, zw bool) {
	if hom && n.hom == nil {
		n.hom = make([]bool, len(n.norm), cap(n.norm))
	}
	if zw && n.zw == nil {
		n.zw = make([]bool, len(n.norm), cap(n.norm))
	}
	n.norm = append(n.norm, c)
	n.off = append(n.off, int32(at))
	if n.hom != nil {
		n.hom = append(n.hom, hom)
	}
	if n.zw != nil {
		n.zw = append(n.zw, zw)
	}
}

// at returns the original byte offset of norm[k].
func (n *normText) at(k int) int {
	if n.off == nil {
		return k
	}
	return int(n.off[k])
}

// span returns the original byte span of norm[s:e].
func (n *normText) span(s, e int) (int, int) {
	if n.off == nil {
		return s, e
	}
	last := int(n.off[e-1])
	_, size := utf8.DecodeRuneInString(n.src[last:])
	if size == 0 {
		size = 1
	}
	return int(n.off[s]), last + size
}

// lowerTable maps each byte to its ASCII lowercase.
var lowerTable = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			t[c] = byte(c + 'a' - 'A')
		}
	}
	return t
}()

// confusable returns the ASCII lowercase letter r is commonly used to imitate, or 0.
func confusable(r rune) byte {
	switch {
	case r >= 0xFF21 && r <= 0xFF3A: // fullwidth A-Z
		return byte('a' + r - 0xFF21)
	case r >= 0xFF41 && r <= 0xFF5A: // fullwidth a-z
		return byte('a' + r - 0xFF41)
	case r >= 0xFF10 && r <= 0xFF19: // fullwidth digits
		return byte('0' + r - 0xFF10)
	case r >= 0x1D400 && r <= 0x1D6A3: // mathematical bold, italic, script, ... letters
		k := (r - 0x1D400) % 52
		if k < 26 {
			return byte('a' + k)
		}
		return byte('a' + k - 26)
	case r >= 0x24B6 && r <= 0x24CF: // circled capitals
		return byte('a' + r - 0x24B6)
	case r >= 0x24D0 && r <= 0x24E9: // circled small letters
		return byte('a' + r - 0x24D0)
	}
	return homoglyphs[r]
}

// homoglyphs are Cyrillic, Greek and Latin-extension letters that look like Latin ones.
var homoglyphs = map[rune]byte{
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w',
	'ɡ': 'g', 'ո': 'n', 'ս': 'u', 'ı': 'i', 'ℓ': 'l', 'ɩ': 'i', 'ʟ': 'l', 'ɴ': 'n', 'ʀ': 'r',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c',
	'Т': 't', 'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's',
	'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm',
	'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
}

// rot13 rotates the ASCII letters of s by 13 places (its own inverse).
func rot13(s string) string {
	b := []byte(s)
	rot13Bytes(b)
	return string(b)
}

// rot13Bytes rotates the ASCII letters of b in place.
func rot13Bytes(b []byte) {
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
}

// encodedRuns calls fn for each run of base64 (when b64) or hex (when hx) of at least 20
// characters (not counting its '=' padding) in text that decodes to readable text: the run's
// byte span, the decoded bytes and the decoding's name. A run of hex digits is read as hex
// when hx is set.
func encodedRuns(text string, b64, hx bool, fn func(s, e int, plain []byte, dec string)) {
	if !b64 && !hx {
		return
	}
	const minRun = 20
	for i := 0; i+minRun <= len(text); {
		// Any run of minRun or more that starts in [i, i+minRun) holds byte i+minRun-1: when
		// that byte is not base64, skip them all (prose is mostly short words).
		if !b64Core[text[i+minRun-1]] {
			i += minRun
			continue
		}
		s := i + minRun - 1
		for s > i && b64Core[text[s-1]] {
			s--
		}
		e := s
		for e < len(text) && b64Core[text[e]] {
			e++
		}
		core := e
		for e < len(text) && text[e] == '=' { // '=' only pads the end of a run
			e++
		}
		i = e
		if core-s < minRun {
			continue
		}
		run := text[s:e]
		var plain []byte
		dec := ""
		if hx && core == e && len(run)%2 == 0 && isHex(run) {
			plain, _ = hex.DecodeString(run)
			dec = "hex"
		} else if b64 {
			plain = decodeBase64(run)
			dec = "base64"
		}
		if readable(plain) {
			fn(s, e, plain, dec)
		}
	}
}

// b64Core marks the bytes of standard and URL-safe base64 but the '=' padding.
var b64Core = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c)) || c == '+' || c == '/' || c == '-' || c == '_'
	}
	return t
}()

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) []byte {
	t := strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(t); err == nil {
			return b
		}
	}
	return nil
}

// readable reports decoded bytes that look like text: valid UTF-8, at least 90% printable.
func readable(b []byte) bool {
	if len(b) < 8 || !utf8.Valid(b) {
		return false
	}
	good := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' || c >= 0x80 {
			good++
		}
	}
	return good*10 >= len(b)*9
}

// latin1Fold and latinExtAFold are the base letters of U+00C0..U+00FF and U+0100..U+017F
// ('*' where foldAccent has a longer answer or none).
const (
	latin1Fold    = "aaaaaa*ceeeeiiiidnooooo*ouuuuy**aaaaaa*ceeeeiiiidnooooo*ouuuuy*y"
	latinExtAFold = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkkllllllllllnnnnnnnnnoooooo**rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs"
)

// foldAccent is the ASCII lowercase spelling of an accented Latin letter, or "".
func foldAccent(r rune) string {
	switch r {
	case 'ß', 'ẞ':
		return "ss"
	case 'æ', 'Æ':
		return "ae"
	case 'œ', 'Œ':
		return "oe"
	case 'þ', 'Þ':
		return "th"
	case 'Ĳ', 'ĳ':
		return "ij"
	}
	var c byte = '*'
	switch {
	case r >= 0xC0 && r <= 0xFF:
		c = latin1Fold[r-0xC0]
	case r >= 0x100 && r <= 0x17F:
		c = latinExtAFold[r-0x100]
	}
	if c == '*' {
		return ""
	}
	return asciiLetters[c-'a' : c-'a'+1]
}

const asciiLetters = "abcdefghijklmnopqrstuvwxyz"

// isCJK reports Chinese characters and Japanese kana.
func isCJK(r rune) bool {
	return r >= 0x3040 && r <= 0x30FF || r >= 0x3400 && r <= 0x4DBF || r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0xFF66 && r <= 0xFF9F
}
