package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSONLine turns one line of a .jsonl file into a node tree with a position for every
// value. It is the fast path for JSONL tests files, which can hold 100,000 lines: a small
// scanner over the bytes, several times faster than encoding/json's token stream and ten
// times faster than the YAML parser. line0 is the line's index in the file. Whatever it
// rejects, encoding/json also rejects, and its message is the one reported.
func parseJSONLine(data []byte, file string, line0 int) (*node, *Error) {
	p := &jsonScanner{data: data, file: file, line: line0 + 1}
	n, ok := p.value(0)
	if ok {
		p.space()
		if p.i < len(data) {
			return nil, p.errAt(p.i, "unexpected text after the JSON object", "fix the JSON syntax")
		}
		if p.err == nil {
			return n, nil
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	// A syntax error: encoding/json says best what is wrong, and which byte.
	off := p.i
	msg := "invalid JSON"
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(data, &v); errors.As(err, &se) {
		off, msg = int(se.Offset)-1, "invalid JSON: "+strings.TrimPrefix(se.Error(), "json: ")
	} else if err != nil {
		msg = "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	return nil, p.errAt(off, msg, "fix the JSON syntax")
}

// maxJSONDepth bounds nesting, so that a hostile line cannot exhaust the stack.
const maxJSONDepth = 1000

type jsonScanner struct {
	data []byte
	i    int
	file string
	line int
	err  *Error // a semantic error (duplicate key, number out of range) found while scanning
}

func (p *jsonScanner) pos(off int) Pos {
	off = min(max(off, 0), len(p.data))
	return Pos{File: p.file, Line: p.line, Col: utf8.RuneCount(p.data[:off]) + 1}
}

func (p *jsonScanner) errAt(off int, msg, hint string) *Error {
	return &Error{Pos: p.pos(off), Msg: msg, Hint: hint}
}

func (p *jsonScanner) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// value scans one value; false means a syntax error at p.i (or a semantic one in p.err).
func (p *jsonScanner) value(depth int) (*node, bool) {
	p.space()
	if p.i >= len(p.data) || depth > maxJSONDepth {
		return nil, false
	}
	start := p.i
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(start, depth)
	case c == '[':
		return p.array(start, depth)
	case c == '"':
		s, raw, ok := p.str()
		if !ok {
			return nil, false
		}
		n := &node{kind: stringKind, pos: p.pos(start), value: s, text: s}
		if raw {
			n.col0 = n.pos.Col + 1 // no escapes: characters map onto columns
		}
		return n, true
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []struct {
			word string
			n    node
		}{{"true", node{kind: boolKind, value: true, text: "true"}}, {"false", node{kind: boolKind, value: false, text: "false"}}, {"null", node{kind: nullKind}}} {
			if strings.HasPrefix(string(p.data[p.i:min(p.i+5, len(p.data))]), lit.word) {
				p.i += len(lit.word)
				n := lit.n
				n.pos = p.pos(start)
				return &n, true
			}
		}
		return nil, false
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(start)
	}
	return nil, false
}

func (p *jsonScanner) object(start, depth int) (*node, bool) {
	n := &node{kind: mapKind, pos: p.pos(start)}
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return n, true
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		kstart := p.i
		key, _, ok := p.str()
		if !ok {
			return nil, false
		}
		for _, k := range n.keys {
			if k.text == key && p.err == nil {
				p.err = p.errAt(kstart, fmt.Sprintf("duplicate key %q", key), "keep one of them")
			}
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		n.keys = append(n.keys, &node{kind: stringKind, pos: p.pos(kstart), value: key, text: key})
		n.vals = append(n.vals, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return n, true
		default:
			return nil, false
		}
	}
}

func (p *jsonScanner) array(start, depth int) (*node, bool) {
	n := &node{kind: listKind, pos: p.pos(start)}
	p.i++ // [
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return n, true
	}
	for {
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		n.items = append(n.items, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, true
		default:
			return nil, false
		}
	}
}

// str scans a string at p.i (on its opening quote). raw reports that it had no escapes.
func (p *jsonScanner) str() (s string, raw, ok bool) {
	p.i++ // "
	begin := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			s = string(p.data[begin:p.i])
			p.i++
			if !utf8.ValidString(s) {
				// encoding/json's behaviour: accepted, with U+FFFD for each bad byte.
				return validUTF8(s), false, true
			}
			return s, true, true
		case c == '\\':
			return p.escaped(begin)
		case c < 0x20:
			return "", false, false
		}
		p.i++
	}
	return "", false, false
}

// escaped finishes a string that has escapes, from begin.
func (p *jsonScanner) escaped(begin int) (string, bool, bool) {
	var b strings.Builder
	b.Write(p.data[begin:p.i])
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return validUTF8(b.String()), false, true
		case c < 0x20:
			return "", false, false
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.data) {
			return "", false, false
		}
		e := p.data[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false, false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok = p.hex4(); !ok {
						return "", false, false
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						p.i, r = save, utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			return "", false, false
		}
	}
	return "", false, false
}

func (p *jsonScanner) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonScanner) number(start int) (*node, bool) {
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.data) && p.data[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, false
	}
	isInt := true
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		isInt = false
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		isInt = false
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	text := string(p.data[start:p.i])
	pos := p.pos(start)
	if isInt {
		if v, err := strconv.Atoi(text); err == nil {
			return &node{kind: intKind, pos: pos, value: v, text: text}, true
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if p.err == nil {
			p.err = p.errAt(start, fmt.Sprintf("number %s is out of range", text), "write a smaller number")
		}
		return &node{kind: floatKind, pos: pos, value: 0.0, text: text}, true
	}
	return &node{kind: floatKind, pos: pos, value: f, text: text}, true
}

// validUTF8 replaces each byte of s that is not valid UTF-8 with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for a bad byte, with size 1
		i += size
	}
	return b.String()
}
