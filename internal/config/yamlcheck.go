package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// YAMLChecker checks a YAML file against the yaml keys of a Go type before it is decoded,
// for the config files other than the suite (gateway.yaml, guard policies): it records
// where every value is written, refuses unknown keys with a "did you mean", and sets aside
// values of the wrong type, so that one run reports every mistake at file:line:col, and
// checks made after decoding still point at the value they are about.
type YAMLChecker struct {
	File string
	// Positions maps a value's path ("routes[0].targets[1].model") to where it is written.
	Positions map[string]Pos
	Errs      Errors
	// Docs names the page that documents the keys, for hints ("docs/gateway.md").
	Docs string
	// quiet are the positions of values set aside for a wrong type: checks after decoding
	// would only repeat the mistake there ("has no name").
	quiet map[Pos]bool
}

// NewYAMLChecker checks file, whose keys docs documents.
func NewYAMLChecker(file, docs string) *YAMLChecker {
	return &YAMLChecker{File: file, Docs: docs, Positions: map[string]Pos{}}
}

// At is the position of path, else of its closest parent that is written, else the file.
func (y *YAMLChecker) At(path string) Pos { return PosAt(y.Positions, y.File, path) }

// Fail records an error at pos, unless pos holds a value set aside for its type.
func (y *YAMLChecker) Fail(pos Pos, hint, format string, args ...any) {
	if y.quiet[pos] {
		return
	}
	y.Errs = append(y.Errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// FailedAt reports whether an error was already recorded at pos, so that one mistake is
// not reported twice.
func (y *YAMLChecker) FailedAt(pos Pos) bool {
	for _, e := range y.Errs {
		if e.Pos == pos {
			return true
		}
	}
	return y.quiet[pos]
}

// Pos is where a token is.
func (y *YAMLChecker) Pos(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: y.File}
	}
	return Pos{File: y.File, Line: tk.Position.Line, Col: tk.Position.Column}
}

// Sorted orders errs as they appear in the file, so that a long list reads top to bottom.
func Sorted(errs Errors) Errors {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return errs
}

// Parse parses the YAML into its syntax tree; empty is the error for a file without a
// value (message, hint). A syntax error is returned alone: nothing after it can be trusted.
func (y *YAMLChecker) Parse(data []byte, empty [2]string) (root ast.Node, err error) {
	defer func() {
		// The YAML library is third-party code fed user input: a crash inside it must
		// become an error message, never a stack trace.
		if r := recover(); r != nil {
			root, err = nil, Errors{{Pos: Pos{File: y.File}, Msg: fmt.Sprintf("cannot parse the file as YAML (%v)", r), Hint: "check the YAML syntax"}}
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return nil, Errors{y.YAMLError(perr)}
	}
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			if root != nil {
				return nil, Errors{{Pos: y.Pos(d.Body.GetToken()), Msg: "the file holds more than one YAML document",
					Hint: "remove the `---` separator: one file is one config"}}
			}
			root = d.Body
		}
	}
	if root == nil {
		return nil, Errors{{Pos: Pos{File: y.File, Line: 1, Col: 1}, Msg: empty[0], Hint: empty[1]}}
	}
	return root, nil
}

// Decode decodes the checked tree into v (strictly when no unknown key was found): the
// values set aside are null in it.
func (y *YAMLChecker) Decode(root ast.Node, v any) (e *Error) {
	defer func() {
		if r := recover(); r != nil {
			e = &Error{Pos: Pos{File: y.File}, Msg: fmt.Sprintf("cannot decode the file (%v)", r), Hint: "check the YAML syntax"}
		}
	}()
	var opts []yaml.DecodeOption
	if len(y.Errs) == 0 {
		opts = append(opts, yaml.Strict())
	}
	if err := yaml.NodeToValue(root, v, opts...); err != nil {
		return y.YAMLError(err)
	}
	return nil
}

var (
	shapeErrRe = regexp.MustCompile(`^(\S+) was used where (mapping|sequence) is expected`)
	typeErrRe  = regexp.MustCompile(`cannot unmarshal (\S+) into Go (?:struct field \S+|value) of type (\S+)`)
)

// YAMLError turns the YAML library's error into an Error at its token, in words.
func (y *YAMLChecker) YAMLError(err error) *Error {
	e := &Error{Pos: Pos{File: y.File}, Msg: err.Error(), Hint: "fix the YAML syntax"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Pos = y.Pos(tk)
		}
	}
	if m := shapeErrRe.FindStringSubmatch(e.Msg); m != nil {
		want := map[string]string{"mapping": "a map of keys", "sequence": "a list"}[m[2]]
		e.Msg = fmt.Sprintf("this value must be %s, not %s", want, strings.TrimPrefix(m[1], "an "))
		e.Hint = y.typeHint()
	}
	if m := typeErrRe.FindStringSubmatch(e.Msg); m != nil {
		want := map[string]string{"int": "a whole number", "int64": "a whole number", "float64": "a number",
			"bool": "true or false", "string": "text"}[m[2]]
		if want == "" {
			want = "a map"
			if strings.HasPrefix(m[2], "[]") {
				want = "a list"
			}
		}
		e.Msg = fmt.Sprintf("this value must be %s, not %s", want, m[1])
		e.Hint = y.typeHint()
	}
	return e
}

func (y *YAMLChecker) typeHint() string { return "see " + y.Docs + " for each key's type" }

// Schema is what a value may hold: a struct's keys, a list's items or a map's values, or
// a single value of a kind.
type Schema struct {
	keys  map[string]*Schema // a struct: its yaml keys
	order []string           // the keys in declaration order, for hints
	elem  *Schema            // a list's item or a free map's value
	free  bool               // a map with free keys
	list  bool
	kind  reflect.Kind // a single value: string, int, int64, float64, bool
}

// SchemaOf is the schema of a Go type's yaml keys; nil for what it cannot check (any).
func SchemaOf(t reflect.Type) *Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if decodesItself(t) || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
		return nil // its own decoder (or a []byte) says what it accepts
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &Schema{keys: map[string]*Schema{}}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			s.keys[tag] = SchemaOf(f.Type)
			s.order = append(s.order, tag)
		}
		return s
	case reflect.Slice:
		return &Schema{list: true, elem: SchemaOf(t.Elem())}
	case reflect.Map:
		return &Schema{free: true, elem: SchemaOf(t.Elem())}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return &Schema{kind: t.Kind()}
	}
	return nil
}

var unmarshalers = []reflect.Type{
	reflect.TypeFor[yaml.BytesUnmarshaler](), reflect.TypeFor[yaml.InterfaceUnmarshaler](),
	reflect.TypeFor[yaml.NodeUnmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
}

// decodesItself is whether t (or *t) decodes its own YAML.
func decodesItself(t reflect.Type) bool {
	for _, u := range unmarshalers {
		if t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return true
		}
	}
	return false
}

// Check walks the tree n at path against s: it records every value's position under its
// path, refuses keys s does not know, and sets aside values of the wrong type (null in the
// tree from then on).
func (y *YAMLChecker) Check(n ast.Node, s *Schema, path string) {
	switch v := n.(type) {
	case *ast.TagNode:
		y.Check(v.Value, s, path)
		return
	case *ast.AnchorNode:
		y.Check(v.Value, s, path)
		return
	}
	if _, ok := y.Positions[path]; !ok && path != "" {
		y.Positions[path] = y.Pos(YAMLFirstToken(n))
	}
	if s == nil {
		return
	}
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	case *ast.SequenceNode:
		if s.list {
			for i, it := range v.Values {
				if msg := typeMismatch(it, s.elem); msg != "" {
					v.Values[i] = y.setAside(it, y.Pos(YAMLFirstToken(it)), "", msg)
					continue
				}
				y.Check(it, s.elem, fmt.Sprintf("%s[%d]", path, i))
			}
		}
		return
	default:
		return
	}
	if s.keys == nil && !s.free {
		return
	}
	for _, mv := range values {
		if mv.Key == nil {
			continue
		}
		key := mv.Key.String()
		if sk, ok := mv.Key.(*ast.StringNode); ok {
			key = sk.Value
		}
		kpos := y.Pos(mv.Key.GetToken())
		child := key
		if path != "" {
			child = path + "." + key
		}
		// The key's position stands for the entry: errors about the value point at it.
		y.Positions[child] = kpos
		ks := s.elem
		if !s.free {
			var ok bool
			if ks, ok = s.keys[key]; !ok {
				hint := ""
				if sug := Suggest(key, s.order); sug != "" {
					hint = fmt.Sprintf("did you mean %q?", sug)
				} else {
					known := append([]string(nil), s.order...)
					sort.Strings(known)
					hint = "the keys here are " + strings.Join(known, ", ")
				}
				y.Fail(kpos, hint, "unknown key %q", key)
				continue
			}
		}
		if msg := typeMismatch(mv.Value, ks); msg != "" {
			mv.Value = y.setAside(mv.Value, kpos, key, msg)
			continue
		}
		y.Check(mv.Value, ks, child)
	}
}

// setAside reports a value of the wrong type and returns null to put in its place.
func (y *YAMLChecker) setAside(n ast.Node, entry Pos, key, msg string) ast.Node {
	pos := y.Pos(n.GetToken())
	hint := y.typeHint()
	switch {
	case strings.HasSuffix(key, "_ms"):
		hint = fmt.Sprintf("write milliseconds as a whole number, e.g. %s: 10000", key)
	case strings.HasSuffix(key, "_s"):
		hint = fmt.Sprintf("write seconds as a whole number, e.g. %s: 300", key)
	}
	y.Errs = append(y.Errs, &Error{Pos: pos, Msg: msg, Hint: hint})
	if y.quiet == nil {
		y.quiet = map[Pos]bool{}
	}
	y.quiet[entry], y.quiet[pos] = true, true
	return ast.Null(token.New("null", "null", n.GetToken().Position))
}

// typeMismatch says what is wrong when the value n cannot be what s describes, or "".
// It is stricter than the YAML decoder, which would cut timeout_ms: 1.5 to 1.
func typeMismatch(n ast.Node, s *Schema) string {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
			continue
		case *ast.AnchorNode:
			n = v.Value
			continue
		}
		break
	}
	if s == nil || n == nil {
		return ""
	}
	whole := s.kind == reflect.Int || s.kind == reflect.Int64
	var got string
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		got = "a map of keys"
	case *ast.SequenceNode:
		got = "a list"
	case *ast.BoolNode:
		got = "true or false"
	case *ast.IntegerNode:
		got = "a whole number"
	case *ast.FloatNode:
		got = "a number"
		if whole {
			if f, err := strconv.ParseFloat(v.GetToken().Value, 64); err == nil && f == math.Trunc(f) {
				got = "a whole number"
			} else {
				got = "a fraction (" + v.GetToken().Value + ")"
			}
		}
	case *ast.StringNode:
		got = fmt.Sprintf("the text %q", v.Value)
		if _, err := strconv.ParseInt(v.Value, 10, 64); err == nil && whole {
			return "" // the decoder reads "5" as 5
		}
		if _, err := strconv.ParseFloat(v.Value, 64); err == nil && s.kind == reflect.Float64 {
			return ""
		}
	case *ast.LiteralNode:
		got = "a block of text"
	default: // null, an alias: the decoder decides
		return ""
	}
	var want string
	ok := false
	switch {
	case s.keys != nil || s.free:
		want = "a map of keys"
		ok = got == want
	case s.list:
		want = "a list"
		ok = got == want
	case s.kind == reflect.String:
		want = "text"
		ok = got != "a map of keys" && got != "a list" // any single value reads as text
	case s.kind == reflect.Bool:
		want = "true or false"
		ok = got == want
	case whole:
		want = "a whole number"
		ok = got == want
	case s.kind == reflect.Float64:
		want = "a number"
		ok = got == want || got == "a whole number"
	default:
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("this value must be %s, not %s", want, got)
}
