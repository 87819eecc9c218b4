package toolpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Arguments are read strictly: a policy must decide on the values the agent's runner
// will use, and JSON parsers disagree on some texts. A repeated key (the policy would
// read one value, a runner may read the other), invalid UTF-8 and unpaired surrogate
// escapes (replaced by some parsers, refused or kept by others), and numbers a 64-bit
// float does not hold as written (1e400, 9007199254740993, 0.30000000000000000001:
// float parsers and decimal parsers read different values) are all malformed.

// CheckJSON reports the first thing in a JSON text that parsers read differently: a
// repeated key at any depth, invalid UTF-8, an unpaired surrogate escape. The gateway
// checks the tool calls of an answer with it, so that the client does not run a call (a
// tool name, say) other than the one the policy judged. Numbers are not checked: an
// answer's envelope holds floats (log probabilities) that no policy compares.
func CheckJSON(s string) error {
	_, err := decodeStrict(s, false)
	return err
}

// RepeatedKeyError is a key written twice in one object: encoding/json (and many parsers)
// keep the last value without a word, others the first.
type RepeatedKeyError struct {
	Key string
	At  string // the path to it: "decision", "items[1].sku"
}

func (e *RepeatedKeyError) Error() string {
	return fmt.Sprintf("the key %q appears twice (at %s): a runner could read either value", e.Key, where(e.At))
}

// RepeatedKey finds the first key written twice in one object of a JSON text, at any
// depth, skipping the values of the top-level keys in skip; nil when there is none, or when
// the text is not JSON (its decoder says so). The server checks every API body with it.
func RepeatedKey(body []byte, skip ...string) *RepeatedKeyError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_, err := reader{dec: dec, skip: skip}.value("")
	var rk *RepeatedKeyError
	if errors.As(err, &rk) {
		return rk
	}
	return nil
}

// strictDecode reads one JSON value from s, refusing what parsers disagree on.
func strictDecode(s string) (any, error) {
	return decodeStrict(s, true)
}

// decodeStrict is strictDecode, checking numbers or not.
func decodeStrict(s string, numbers bool) (any, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("the text is not valid UTF-8")
	}
	if err := checkEscapes(s); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	r := reader{dec: dec, numbers: numbers}
	v, err := r.value("")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON object")
	}
	return v, nil
}

// reader reads JSON values token by token.
type reader struct {
	dec     *json.Decoder
	numbers bool     // refuse numbers a 64-bit float does not hold as written
	skip    []string // top-level keys whose values are not read
}

// value reads the next value; path names it in errors ("" is the top level).
func (r reader) value(path string) (any, error) {
	dec := r.dec
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", notJSON(err))
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("not JSON: %v", notJSON(err))
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("not JSON: an object key is not a string")
				}
				at := k
				if path != "" {
					at = path + "." + k
				}
				if _, dup := obj[k]; dup {
					return nil, &RepeatedKeyError{Key: k, At: at}
				}
				if path == "" && slices.Contains(r.skip, k) {
					var raw json.RawMessage
					if err := dec.Decode(&raw); err != nil {
						return nil, fmt.Errorf("not JSON: %v", notJSON(err))
					}
					obj[k] = raw
					continue
				}
				if obj[k], err = r.value(at); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil { // the closing }
				return nil, fmt.Errorf("not JSON: %v", notJSON(err))
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := r.value(fmt.Sprintf("%s[%d]", path, len(arr)))
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // the closing ]
				return nil, fmt.Errorf("not JSON: %v", notJSON(err))
			}
			return arr, nil
		}
		return nil, fmt.Errorf("not JSON: unexpected %q", t)
	case json.Number:
		if !r.numbers {
			return t, nil
		}
		if err := exactNumber(string(t)); err != nil {
			return nil, fmt.Errorf("the number %s (at %s) %v", clip(string(t)), where(path), err)
		}
		return t, nil
	}
	return tok, nil
}

func notJSON(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// exactNumber refuses a number literal that a 64-bit float does not hold as written: out
// of range (1e400, 1e-400) or with more precision than it keeps (9007199254740993). Such
// a number reads differently in float and decimal parsers.
func exactNumber(lit string) error {
	f, err := strconv.ParseFloat(lit, 64)
	// ParseFloat reports overflow; an underflow (1e-400) reads as 0 without an error.
	mant, _, _ := strings.Cut(strings.ToLower(lit), "e")
	if err != nil || (f == 0 && strings.ContainsAny(mant, "123456789")) {
		return errors.New("is out of the range of a 64-bit float: write a magnitude from 4.9e-324 to 1.8e308, or 0")
	}
	a, aok := decimal(lit)
	b, bok := decimal(strconv.FormatFloat(f, 'g', -1, 64))
	if !aok || !bok || a != b {
		return fmt.Errorf("has more precision than a 64-bit float keeps (it reads as %s): write at most 15 significant digits", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return nil
}

// decimal normalizes a JSON number literal to sign, significant digits and exponent
// ("-12.50e1" → "-125e0"), so that two literals compare by value.
func decimal(lit string) (string, bool) {
	sign := ""
	if strings.HasPrefix(lit, "-") {
		sign, lit = "-", lit[1:]
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil || e > 1<<20 || e < -(1<<20) {
			return "", false
		}
		mant, exp = lit[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0", true
	}
	for strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	return sign + digits + "e" + strconv.Itoa(exp), true
}

// checkEscapes refuses \u escapes of unpaired UTF-16 surrogates in JSON strings.
func checkEscapes(s string) error {
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(s) {
				return nil // the decoder reports the cut string
			}
			if s[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(s, i+2)
			if !ok {
				return nil // the decoder reports the bad escape
			}
			i += 5
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if lo, ok := hex4(s, i+3); !ok || s[i+1] != '\\' || s[i+2] != 'u' || lo < 0xDC00 || lo >= 0xE000 {
					return fmt.Errorf("a string holds an unpaired surrogate escape \\u%04X: write the character itself", r)
				}
				i += 6
			case r >= 0xDC00 && r < 0xE000:
				return fmt.Errorf("a string holds an unpaired surrogate escape \\u%04X: write the character itself", r)
			}
		}
	}
	return nil
}

// hex4 reads the 4 hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(n), err == nil
}
