package config

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// csvSpecials are promptfoo's special CSV columns that Plumb reads. __expectedN is any
// __expected followed by digits.
var csvSpecials = []string{"__expected", "__description", "__threshold", "__metric", "__metadata:KEY"}

// csvTests reads a CSV tests file. The header row names the columns: each column is a var,
// except promptfoo's specials:
//
//	__expected, __expected1..N  an assertion in shorthand: "contains: x", "icontains: x",
//	                            "regex: x", "not-contains: x", "llm-rubric: x",
//	                            "similar(0.8): x", "is-json", ...; any other text is `equals`;
//	                            the cell and the value are trimmed, as promptfoo does
//	__description               the test's description
//	__threshold                 the test's threshold
//	__metric                    the metric name of the row's __expected assertions
//	__metadata:KEY              metadata KEY (KEY[] splits the cell at commas into a list;
//	                            \, is a comma inside an item)
//
// Errors are reported at file:line.
func (l *loader) csvTests(file string, data []byte) []*rawTest {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		l.csvError(file, err)
		l.testsIncomplete = true
		return nil
	}
	src := &csvSource{file: file, header: Pos{File: file, Line: 1}, columns: map[string]bool{}}
	if line, _ := r.FieldPos(0); line > 0 {
		src.header.Line = line
	}
	type column struct {
		name    string
		kind    string // "var", "expected", "description", "threshold", "metric", "metadata"
		key     string // metadata key
		listKey bool   // metadata KEY[]
	}
	cols := make([]column, len(header))
	headerOK := true
	for i, h := range header {
		h = strings.TrimSpace(h)
		c := column{name: h, kind: "var"}
		switch {
		case h == "":
			l.fail(src.header, "name every column; the header row names the vars", "column %d of the CSV header has no name", i+1)
			headerOK = false
		case src.columns[h]:
			l.fail(src.header, "rename or remove one of them", "the CSV has two columns named %q", h)
			headerOK = false
		case h == "__expected" || strings.HasPrefix(h, "__expected") && isDigits(h[len("__expected"):]):
			c.kind = "expected"
		case h == "__description":
			c.kind = "description"
		case h == "__threshold":
			c.kind = "threshold"
		case h == "__metric":
			c.kind = "metric"
		case strings.HasPrefix(h, "__metadata:") && len(h) > len("__metadata:"):
			c.kind, c.key = "metadata", h[len("__metadata:"):]
			if k, ok := strings.CutSuffix(c.key, "[]"); ok {
				c.key, c.listKey = k, true
			}
		case h == "__prefix" || h == "__suffix":
			l.fail(src.header, "write the text into the prompt itself", "CSV column %s is not supported by Plumb", h)
			headerOK = false
		case strings.HasPrefix(h, "__config:"):
			l.fail(src.header, "give the threshold in the cell instead: TYPE(0.8): value", "CSV column %s is not supported by Plumb", h)
			headerOK = false
		case h == "__providerOutput":
			l.fail(src.header, "run the suite against a provider instead", "CSV column %s is not supported by Plumb", h)
			headerOK = false
		case strings.HasPrefix(h, "__"):
			hint := "special columns: " + strings.Join(csvSpecials, ", ")
			if s := Suggest(h, csvSpecials); s != "" {
				hint = "did you mean \"" + s + "\"?"
			}
			l.fail(src.header, hint, "unknown special CSV column %q", h)
			headerOK = false
		}
		src.columns[h] = true
		cols[i] = c
	}
	if !headerOK {
		l.testsIncomplete = true
		return nil
	}
	var out []*rawTest
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.csvError(file, err)
			if !errors.Is(err, csv.ErrFieldCount) {
				l.testsIncomplete = true
				break
			}
			continue
		}
		line, _ := r.FieldPos(0)
		pos := Pos{File: file, Line: line}
		vars := &node{kind: mapKind, pos: pos}
		asserts := &node{kind: listKind, pos: pos}
		test := &node{kind: mapKind, pos: pos}
		meta := &node{kind: mapKind, pos: pos}
		var metric *node
		for i, cell := range rec {
			c := cols[i]
			fl, _ := r.FieldPos(i)
			cpos := Pos{File: file, Line: fl}
			switch c.kind {
			case "var":
				vars.keys = append(vars.keys, strNode(c.name, cpos))
				vars.vals = append(vars.vals, strNode(cell, cpos))
			case "metric":
				if cell != "" {
					metric = strNode(cell, cpos)
				}
			case "description":
				test = addKey(test, "description", strNode(cell, cpos))
			case "threshold":
				if strings.TrimSpace(cell) == "" {
					continue
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
				if err != nil {
					l.fail(cpos, hintNumber, "__threshold must be a number, not %q", cell)
					continue
				}
				test = addKey(test, "threshold", numNode(f, cpos))
			case "metadata":
				if strings.TrimSpace(cell) == "" {
					continue
				}
				v := strNode(cell, cpos)
				if c.listKey {
					v = &node{kind: listKind, pos: cpos}
					for _, part := range splitMetadataList(cell) {
						v.items = append(v.items, strNode(part, cpos))
					}
				}
				meta = addKey(meta, c.key, v)
			}
		}
		for i, cell := range rec {
			if cols[i].kind != "expected" || strings.TrimSpace(cell) == "" {
				continue
			}
			fl, _ := r.FieldPos(i)
			if a := l.csvAssertion(cell, Pos{File: file, Line: fl}, metric); a != nil {
				asserts.items = append(asserts.items, a)
			}
		}
		test = addKey(test, "vars", vars)
		if len(asserts.items) > 0 {
			test = addKey(test, "assert", asserts)
		}
		if len(meta.keys) > 0 {
			test = addKey(test, "metadata", meta)
		}
		rt := l.test(test, false)
		rt.csv = src
		out = append(out, rt)
	}
	return out
}

// csvError reports a CSV syntax error at its line.
func (l *loader) csvError(file string, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		hint := "fix the CSV: quote cells that contain commas, quotes or line breaks"
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			hint = "every row needs as many cells as the header has columns"
		}
		l.fail(Pos{File: file, Line: pe.Line}, hint, "invalid CSV: %v", pe.Err)
		return
	}
	l.fail(Pos{File: file}, "fix the CSV", "invalid CSV: %v", err)
}

// csvAssertRe is promptfoo's assertion shorthand: [not-]TYPE[(THRESHOLD)][:VALUE].
var csvAssertRe = regexp.MustCompile(`^(not-)?([a-z][a-z0-9-]*)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$`)

// csvAssertion turns an __expected cell into an assertion node. A cell that names no
// assertion type is an `equals` of the whole cell.
func (l *loader) csvAssertion(cell string, pos Pos, metric *node) *node {
	// promptfoo trims the cell, and then the value after the type: "contains: Paris",
	// "equals: Paris" and " Paris " all mean "Paris".
	cell = strings.TrimSpace(cell)
	typ, value, threshold := "", cell, ""
	hasValue := true
	switch {
	case hasAnyPrefix(cell, "javascript:", "fn:", "eval:"):
		l.checkType("javascript", pos)
		return nil
	case hasAnyPrefix(cell, "python:"):
		l.checkType("python", pos)
		return nil
	case strings.HasPrefix(cell, "file://") && (strings.HasSuffix(cell, ".py") || strings.Contains(cell, ".py:")):
		l.checkType("python", pos)
		return nil
	case strings.HasPrefix(cell, "file://") && hasAnySuffix(cell, ".js", ".ts") || strings.Contains(cell, ".js:") && strings.HasPrefix(cell, "file://"):
		l.checkType("javascript", pos)
		return nil
	case strings.HasPrefix(cell, "grade:"):
		typ, value = "llm-rubric", cell[len("grade:"):]
	default:
		m := csvAssertRe.FindStringSubmatch(cell)
		if m != nil && !isKnownType(m[2]) && strings.Contains(cell, ":") {
			// "contians: x" is far more likely a typo than an expected answer.
			if sug := Suggest(m[2], AssertionTypes); sug != "" {
				l.fail(pos, fmt.Sprintf("did you mean %q? (to expect this exact text, write `equals:%s`)", sug, cell),
					"unknown assertion type %q in an __expected cell", m[2])
				return nil
			}
		}
		if m == nil || !isKnownType(m[2]) {
			typ = "equals"
			break
		}
		if !l.checkType(m[2], pos) {
			return nil
		}
		typ, threshold = m[1]+m[2], m[3]
		value, hasValue = m[4], strings.Contains(cell, ":")
	}
	value = strings.TrimSpace(value)
	a := addKey(&node{kind: mapKind, pos: pos}, "type", strNode(typ, pos))
	if hasValue {
		base := strings.TrimPrefix(typ, "not-")
		var v *node
		if base == "contains-any" || base == "contains-all" || base == "icontains-any" || base == "icontains-all" {
			items, err := splitAssertionList(value)
			if err != "" {
				l.fail(pos, `quote an item that holds a comma: "Hello, world",other (inside quotes write \" or "" for a quote)`,
					"%s: %s", typ, err)
				return nil
			}
			v = &node{kind: listKind, pos: pos}
			for _, it := range items {
				v.items = append(v.items, strNode(it, pos))
			}
		} else {
			v = strNode(value, pos)
		}
		a = addKey(a, "value", v)
	}
	if threshold != "" {
		f, _ := strconv.ParseFloat(threshold, 64) // the pattern admits only valid numbers
		a = addKey(a, "threshold", numNode(f, pos))
	}
	if metric != nil {
		a = addKey(a, "metric", metric)
	}
	return a
}

// isKnownType reports whether t names an assertion type, supported or not.
func isKnownType(t string) bool {
	_, refused := unsupportedTypes[t]
	return refused || slices.Contains(AssertionTypes, t)
}

func addKey(m *node, key string, v *node) *node {
	m.keys = append(m.keys, strNode(key, v.pos))
	m.vals = append(m.vals, v)
	return m
}

func numNode(f float64, pos Pos) *node {
	return &node{kind: floatKind, pos: pos, value: f, text: strconv.FormatFloat(f, 'g', -1, 64)}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, p := range suffixes {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

// splitMetadataList splits a __metadata:KEY[] cell as promptfoo does: at every comma not
// preceded by a backslash, each part trimmed, then \, turned into a comma ("a\,b, c" is
// ["a,b", "c"]).
func splitMetadataList(cell string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(cell); i++ {
		if cell[i] == ',' && (i == 0 || cell[i-1] != '\\') {
			parts = append(parts, cell[start:i])
			start = i + 1
		}
	}
	parts = append(parts, cell[start:])
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.TrimSpace(p), `\,`, ",")
	}
	return parts
}

// splitAssertionList splits the value of a contains-any (-all, icontains-any, -all) shorthand
// as promptfoo does: items are separated by commas and trimmed, empty items are dropped, and
// an item in double quotes is kept whole, commas included (\" or "" is a quote inside it, \\
// a backslash). err says what is wrong with the quoting, "" when nothing is.
func splitAssertionList(value string) (items []string, err string) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	i := 0
	for i < len(value) {
		for i < len(value) && (isSpace(value[i]) || value[i] == ',') {
			i++
		}
		if i >= len(value) {
			break
		}
		if value[i] != '"' {
			end := strings.IndexByte(value[i:], ',')
			if end < 0 {
				end = len(value) - i
			}
			items = append(items, strings.TrimSpace(value[i:i+end]))
			i += end
			continue
		}
		var b strings.Builder
		closed := false
		for i++; i < len(value) && !closed; {
			switch {
			case value[i] == '\\' && i+1 < len(value) && (value[i+1] == '"' || value[i+1] == '\\'):
				b.WriteByte(value[i+1])
				i += 2
			case value[i] == '"' && i+1 < len(value) && value[i+1] == '"':
				b.WriteByte('"')
				i += 2
			case value[i] == '"':
				i++
				closed = true
			default:
				b.WriteByte(value[i])
				i++
			}
		}
		if !closed {
			return nil, "unterminated \" in the list of values"
		}
		items = append(items, b.String())
		for i < len(value) && isSpace(value[i]) {
			i++
		}
		if i < len(value) && value[i] != ',' {
			return nil, "a comma must follow a quoted item"
		}
	}
	return items, ""
}
