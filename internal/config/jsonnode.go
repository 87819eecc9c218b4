package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseJSONLine turns one line of a .jsonl file into a node tree with a position for every
// value. It is the fast path for JSONL tests files, which can hold 100,000 lines: the YAML
// parser would give the same tree ten times slower. line0 is the line's index in the file.
func parseJSONLine(data []byte, file string, line0 int) (*node, *Error) {
	p := &jsonParser{data: data, file: file, line: line0 + 1, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value()
	if err == nil {
		off := p.start()
		if _, extra := p.dec.Token(); extra != io.EOF {
			err = p.errAt(off, "unexpected text after the JSON object")
		}
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		// The streaming decoder counts offsets its own way; the one-shot parser says exactly
		// which byte is wrong, and this path runs only for a broken line.
		off := len(data)
		var v any
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(data, &v), &se) {
			err, off = se, int(se.Offset)-1
		}
		return nil, p.errAt(off, "invalid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	return n, nil
}

type jsonParser struct {
	data []byte
	file string
	line int
	dec  *json.Decoder
}

// start is the offset where the next token begins: the decoder's offset is just past the
// previous token, before the separators and spaces that follow it.
func (p *jsonParser) start() int {
	i := int(p.dec.InputOffset())
	for i < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[i]) >= 0 {
		i++
	}
	return i
}

func (p *jsonParser) pos(off int) Pos {
	off = min(max(off, 0), len(p.data))
	return Pos{File: p.file, Line: p.line, Col: utf8.RuneCount(p.data[:off]) + 1}
}

func (p *jsonParser) errAt(off int, msg string) *Error {
	return &Error{Pos: p.pos(off), Msg: msg, Hint: "fix the JSON syntax"}
}

func (p *jsonParser) value() (*node, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, p.errAt(off, "invalid JSON: unexpected end of line")
		}
		return nil, err
	}
	return p.node(tok, off)
}

func (p *jsonParser) node(tok json.Token, off int) (*node, error) {
	pos := p.pos(off)
	switch t := tok.(type) {
	case nil:
		return &node{kind: nullKind, pos: pos}, nil
	case bool:
		return &node{kind: boolKind, pos: pos, value: t, text: strconv.FormatBool(t)}, nil
	case json.Number:
		if i, err := strconv.Atoi(t.String()); err == nil {
			return &node{kind: intKind, pos: pos, value: i, text: t.String()}, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, p.errAt(off, fmt.Sprintf("number %s is out of range", t))
		}
		return &node{kind: floatKind, pos: pos, value: f, text: t.String()}, nil
	case string:
		n := &node{kind: stringKind, pos: pos, value: t, text: t}
		// Columns inside the string are exact only when the source has no escapes.
		if end := off + 1 + len(t); end < len(p.data) && string(p.data[off+1:end]) == t {
			n.col0 = pos.Col + 1
		}
		return n, nil
	case json.Delim:
		switch t {
		case '{':
			return p.object(pos)
		case '[':
			return p.array(pos)
		}
	}
	return nil, p.errAt(off, fmt.Sprintf("invalid JSON: unexpected %v", tok))
}

func (p *jsonParser) object(pos Pos) (*node, error) {
	n := &node{kind: mapKind, pos: pos}
	seen := map[string]bool{}
	for p.dec.More() {
		off := p.start()
		tok, err := p.dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, p.errAt(off, "invalid JSON: object keys must be strings")
		}
		if seen[key] {
			return nil, &Error{Pos: p.pos(off), Msg: fmt.Sprintf("duplicate key %q", key), Hint: "keep one of them"}
		}
		seen[key] = true
		k := &node{kind: stringKind, pos: p.pos(off), value: key, text: key}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.keys, n.vals = append(n.keys, k), append(n.vals, v)
	}
	if _, err := p.dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	return n, nil
}

func (p *jsonParser) array(pos Pos) (*node, error) {
	n := &node{kind: listKind, pos: pos}
	for p.dec.More() {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
	}
	if _, err := p.dec.Token(); err != nil { // the closing bracket
		return nil, err
	}
	return n, nil
}
