package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// kind is the shape of a value in a config or data file.
type kind uint8

const (
	nullKind kind = iota
	boolKind
	intKind
	floatKind
	stringKind
	mapKind
	listKind
)

// String names the kind the way an error message talks about it ("must be a list, not a map").
func (k kind) String() string {
	switch k {
	case nullKind:
		return "empty"
	case boolKind:
		return "true/false"
	case intKind, floatKind:
		return "a number"
	case stringKind:
		return "a string"
	case mapKind:
		return "a map"
	case listKind:
		return "a list"
	}
	return "unknown"
}

// node is one value of a parsed file with its position. Every input format (YAML, JSON,
// JSONL and CSV) becomes a tree of nodes, so that one walker checks them all and reports
// every error at its file:line:col.
type node struct {
	kind  kind
	pos   Pos
	text  string // a scalar's value as text (a string's value, a number as written)
	value any    // a scalar's Go value: nil, bool, int, float64 or string
	keys  []*node
	vals  []*node // parallel to keys
	items []*node

	// literal is set for `|` block strings, whose lines map one to one onto file lines
	// starting below pos; it lets template errors point at the exact line.
	literal bool
	// col0 is the column of the first character of a single-line scalar's value (after an
	// opening quote), or 0 when unknown.
	col0 int
}

// get returns the value of key in a map node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != mapKind {
		return nil
	}
	for i, k := range n.keys {
		if k.text == key {
			return n.vals[i]
		}
	}
	return nil
}

// posAt is the position of the byte at offset off inside a string node's value, as exact as
// the YAML form allows: exact for single-line scalars and `|` blocks, else the node itself.
func (n *node) posAt(off int) Pos {
	if n.kind != stringKind || off < 0 || off > len(n.text) {
		return n.pos
	}
	before := n.text[:off]
	nl := strings.Count(before, "\n")
	switch {
	case n.literal:
		return Pos{File: n.pos.File, Line: n.pos.Line + 1 + nl}
	case nl == 0 && n.col0 > 0 && !strings.Contains(n.text, "\n"):
		return Pos{File: n.pos.File, Line: n.pos.Line, Col: n.col0 + len([]rune(before))}
	}
	return n.pos
}

// maxAliasExpansion bounds how many nodes aliases may expand to, so that a "billion laughs"
// document is an error instead of an out-of-memory crash.
const maxAliasExpansion = 1_000_000

// converter turns a goccy/go-yaml AST into nodes.
type converter struct {
	file    string
	line0   int // added to every line (for JSONL, where each line is parsed alone)
	anchors map[string]*node
	errs    []*Error
	budget  int
}

// parseYAML parses data (YAML or JSON) into a node tree. A syntax error stops the parse
// (nothing after it can be trusted) and is returned alone; structural problems found while
// converting (an unknown alias, an unsupported tag) are returned together.
func parseYAML(data []byte, file string, line0 int) (root *node, errs []*Error) {
	defer func() {
		// The YAML library is third-party code fed user input: a crash inside it must
		// become an error message, never a stack trace.
		if r := recover(); r != nil {
			root, errs = nil, []*Error{{Pos: Pos{File: file}, Msg: fmt.Sprintf("cannot parse the file as YAML (%v)", r),
				Hint: "check the YAML syntax"}}
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, as some editors write
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, []*Error{syntaxError(err, file, line0)}
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return &node{kind: nullKind, pos: Pos{File: file, Line: line0 + 1, Col: 1}}, nil
	}
	c := &converter{file: file, line0: line0, anchors: map[string]*node{}, budget: maxAliasExpansion}
	root = c.convert(docs[0].Body)
	if len(docs) > 1 {
		c.errs = append(c.errs, &Error{Pos: c.pos(docs[1].Body.GetToken()),
			Msg:  "the file holds more than one YAML document",
			Hint: "remove the `---` separator: one file is one document"})
	}
	return root, c.errs
}

var definedAtRe = regexp.MustCompile(`already defined at \[(\d+):(\d+)\]`)

// syntaxError turns a YAML library error into an Error at the offending token.
func syntaxError(err error, file string, line0 int) *Error {
	e := &Error{Pos: Pos{File: file}, Msg: err.Error(), Hint: "fix the YAML syntax; nothing after this point could be checked"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		if m := definedAtRe.FindStringSubmatch(msg); m != nil {
			msg = strings.Replace(msg, m[0], "already defined at line "+m[1], 1)
			msg = strings.Replace(msg, "mapping key", "key", 1)
			e.Hint = "remove one of the two"
		}
		e.Msg = msg
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Pos = Pos{File: file, Line: tk.Position.Line + line0, Col: tk.Position.Column}
		}
	}
	return e
}

func (c *converter) pos(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: c.file}
	}
	return Pos{File: c.file, Line: tk.Position.Line + c.line0, Col: tk.Position.Column}
}

func (c *converter) fail(pos Pos, msg, hint string) {
	c.errs = append(c.errs, &Error{Pos: pos, Msg: msg, Hint: hint})
}

func (c *converter) convert(n ast.Node) *node {
	c.budget--
	if c.budget < 0 {
		if c.budget == -1 {
			c.fail(Pos{File: c.file}, "the file expands to too many values (YAML aliases)", "use fewer nested aliases")
		}
		return &node{kind: nullKind, pos: Pos{File: c.file}}
	}
	switch v := n.(type) {
	case nil:
		return &node{kind: nullKind, pos: Pos{File: c.file}}
	case *ast.NullNode:
		return &node{kind: nullKind, pos: c.pos(v.Token)}
	case *ast.BoolNode:
		return &node{kind: boolKind, pos: c.pos(v.Token), value: v.Value, text: strconv.FormatBool(v.Value)}
	case *ast.IntegerNode:
		out := &node{kind: intKind, pos: c.pos(v.Token), text: v.Token.Value}
		switch x := v.Value.(type) {
		case int64:
			out.value = int(x)
		case uint64:
			if x <= math.MaxInt {
				out.value = int(x)
			} else {
				out.kind, out.value = floatKind, float64(x)
			}
		default:
			out.kind, out.value = floatKind, 0.0
		}
		return out
	case *ast.FloatNode:
		return &node{kind: floatKind, pos: c.pos(v.Token), value: v.Value, text: v.Token.Value}
	case *ast.InfinityNode:
		return &node{kind: floatKind, pos: c.pos(v.Token), value: v.Value, text: v.Token.Value}
	case *ast.NanNode:
		return &node{kind: floatKind, pos: c.pos(v.Token), value: math.NaN(), text: v.Token.Value}
	case *ast.StringNode:
		out := &node{kind: stringKind, pos: c.pos(v.Token), value: v.Value, text: v.Value}
		// A scalar folded over several lines has no simple column mapping.
		if v.Token != nil && v.Token.Position != nil && !strings.Contains(strings.TrimSpace(v.Token.Origin), "\n") {
			out.col0 = v.Token.Position.Column
			switch v.Token.Type {
			case token.DoubleQuoteType, token.SingleQuoteType:
				out.col0++
				// Escapes shift columns; only trust them when the source equals the value.
				if strings.ContainsAny(v.Token.Origin, `\`) || strings.Contains(v.Token.Origin, "''") {
					out.col0 = 0
				}
			}
		}
		return out
	case *ast.LiteralNode:
		out := &node{kind: stringKind, pos: c.pos(v.Start)}
		if v.Value != nil {
			out.text = v.Value.Value
		}
		out.value = out.text
		out.literal = v.Start != nil && strings.HasPrefix(v.Start.Value, "|")
		return out
	case *ast.MappingNode:
		return c.mapping(v.Values, v.Start)
	case *ast.MappingValueNode:
		return c.mapping([]*ast.MappingValueNode{v}, v.Start)
	case *ast.SequenceNode:
		out := &node{kind: listKind, pos: c.pos(v.Start)}
		for _, it := range v.Values {
			out.items = append(out.items, c.convert(it))
		}
		return out
	case *ast.AnchorNode:
		out := c.convert(v.Value)
		if v.Name != nil {
			c.anchors[v.Name.String()] = out
		}
		return out
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.String()
		}
		if target, ok := c.anchors[name]; ok {
			c.budget -= count(target)
			return target
		}
		c.fail(c.pos(v.Start), fmt.Sprintf("unknown alias *%s", name), "define the anchor &"+name+" before using it")
		return &node{kind: nullKind, pos: c.pos(v.Start)}
	case *ast.TagNode:
		out := c.convert(v.Value)
		tag := ""
		if v.Start != nil {
			tag = v.Start.Value
		}
		switch tag {
		case "!!str":
			if out.kind != mapKind && out.kind != listKind && out.kind != nullKind {
				out = &node{kind: stringKind, pos: out.pos, text: out.text, value: out.text}
			}
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary", "!!timestamp":
		default:
			c.fail(c.pos(v.Start), fmt.Sprintf("YAML tag %s is not supported", tag), "remove the tag")
			// Point the value at the tag, so that errors about it fold into this one.
			out = &node{kind: nullKind, pos: c.pos(v.Start)}
		}
		return out
	case *ast.MappingKeyNode:
		return c.convert(v.Value)
	case *ast.CommentNode, *ast.CommentGroupNode:
		return &node{kind: nullKind, pos: Pos{File: c.file}}
	}
	c.fail(c.pos(n.GetToken()), fmt.Sprintf("unsupported YAML construct (%s)", n.Type()), "write plain maps, lists and values")
	return &node{kind: nullKind, pos: c.pos(n.GetToken())}
}

// count is the number of nodes under n, for the alias expansion budget.
func count(n *node) int {
	c := 1
	for _, v := range n.vals {
		c += count(v)
	}
	for _, v := range n.items {
		c += count(v)
	}
	return c
}

// mapping converts map entries, applying YAML merge keys (`<<: *anchor`): explicit keys win
// over merged ones wherever they appear.
func (c *converter) mapping(values []*ast.MappingValueNode, start *token.Token) *node {
	out := &node{kind: mapKind, pos: c.pos(start)}
	var merges []*node
	seen := map[string]bool{}
	for i, mv := range values {
		if mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			merges = append(merges, c.convert(mv.Value))
			continue
		}
		k := c.convert(mv.Key)
		if k.kind == mapKind || k.kind == listKind {
			c.fail(k.pos, "a map key must be a plain value", "write the key as a name, e.g. `name: value`")
			continue
		}
		if k.kind == nullKind {
			k.text = "null"
		}
		k.kind, k.value = stringKind, k.text
		if i == 0 {
			out.pos = k.pos
		}
		if seen[k.text] {
			// The parser reports duplicates itself; this guards the merge path.
			continue
		}
		seen[k.text] = true
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, c.convert(mv.Value))
	}
	if len(out.keys) > 0 {
		out.pos = out.keys[0].pos
	}
	for _, m := range merges {
		srcs := []*node{m}
		if m.kind == listKind {
			srcs = m.items
		}
		for _, s := range srcs {
			if s.kind != mapKind {
				c.fail(s.pos, "a merge key (<<) must name a map", "write `<<: *anchor` where &anchor marks a map")
				continue
			}
			for i, k := range s.keys {
				if !seen[k.text] {
					seen[k.text] = true
					out.keys = append(out.keys, k)
					out.vals = append(out.vals, s.vals[i])
				}
			}
		}
	}
	return out
}

// toAny converts a node into plain Go values: map[string]any, []any, string, int, float64,
// bool or nil.
func toAny(n *node) any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case mapKind:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k.text] = toAny(n.vals[i])
		}
		return m
	case listKind:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = toAny(it)
		}
		return l
	}
	return n.value
}

// strNode makes a string node, for values that do not come from YAML (CSV cells).
func strNode(s string, pos Pos) *node {
	return &node{kind: stringKind, pos: pos, text: s, value: s}
}
