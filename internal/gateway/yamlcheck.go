package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/plumbhq/plumb/internal/config"
)

// loader collects a config's errors and the position of every value in it, so that checks
// made after decoding still point at file:line:col.
type loader struct {
	file      string
	errs      config.Errors
	positions posLookup
}

// posLookup maps a value's path ("routes[0].targets[1].model") to where it is written.
type posLookup struct {
	file string
	m    map[string]config.Pos
}

// at is the position of path, else of its closest parent that is written, else the file.
func (p posLookup) at(path string) config.Pos { return config.PosAt(p.m, p.file, path) }

func (l *loader) fail(pos config.Pos, hint, format string, args ...any) {
	l.errs = append(l.errs, &config.Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// failedAt reports whether an error was already recorded at pos, so that one mistake is not
// reported twice.
func (l *loader) failedAt(pos config.Pos) bool {
	for _, e := range l.errs {
		if e.Pos == pos {
			return true
		}
	}
	return false
}

func (l *loader) pos(tk *token.Token) config.Pos {
	if tk == nil || tk.Position == nil {
		return config.Pos{File: l.file}
	}
	return config.Pos{File: l.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// parse parses the YAML into its syntax tree. A syntax error is returned alone: nothing
// after it can be trusted.
func (l *loader) parse(data []byte) (root ast.Node, err error) {
	defer func() {
		// The YAML library is third-party code fed user input: a crash inside it must
		// become an error message, never a stack trace.
		if r := recover(); r != nil {
			root, err = nil, config.Errors{{Pos: config.Pos{File: l.file}, Msg: fmt.Sprintf("cannot parse the file as YAML (%v)", r), Hint: "check the YAML syntax"}}
		}
	}()
	l.positions = posLookup{file: l.file, m: map[string]config.Pos{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return nil, config.Errors{l.yamlError(perr)}
	}
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			if root != nil {
				return nil, config.Errors{{Pos: l.pos(d.Body.GetToken()), Msg: "the file holds more than one YAML document",
					Hint: "remove the `---` separator: one file is one config"}}
			}
			root = d.Body
		}
	}
	if root == nil {
		return nil, config.Errors{{Pos: config.Pos{File: l.file, Line: 1, Col: 1}, Msg: "the gateway config is empty",
			Hint: "write listen:, providers:, routes: and keys: (see docs/gateway.md)"}}
	}
	return root, nil
}

var shapeErrRe = regexp.MustCompile(`^(\S+) was used where (mapping|sequence) is expected`)

var typeErrRe = regexp.MustCompile(`cannot unmarshal (\S+) into Go (?:struct field \S+|value) of type (\S+)`)

// yamlError turns the YAML library's error into an Error at its token.
func (l *loader) yamlError(err error) *config.Error {
	e := &config.Error{Pos: config.Pos{File: l.file}, Msg: err.Error(), Hint: "fix the YAML syntax"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Pos = l.pos(tk)
		}
	}
	if m := shapeErrRe.FindStringSubmatch(e.Msg); m != nil {
		want := map[string]string{"mapping": "a map of keys", "sequence": "a list"}[m[2]]
		e.Msg = fmt.Sprintf("this value must be %s, not %s", want, strings.TrimPrefix(m[1], "an "))
		e.Hint = "see docs/gateway.md for each key's type"
	}
	if m := typeErrRe.FindStringSubmatch(e.Msg); m != nil {
		want := map[string]string{"int": "a whole number", "int64": "a whole number", "float64": "a number",
			"bool": "true or false", "string": "text"}[m[2]]
		if want == "" {
			want = "a " + strings.TrimPrefix(strings.TrimPrefix(m[2], "[]"), "gateway.")
			if strings.HasPrefix(m[2], "[]") {
				want = "a list"
			} else if strings.HasPrefix(m[2], "map[") || strings.HasPrefix(m[2], "gateway.") {
				want = "a map"
			}
		}
		e.Msg = fmt.Sprintf("this value must be %s, not %s", want, m[1])
		e.Hint = "see docs/gateway.md for each key's type"
	}
	return e
}

// schema is what a value may hold: a struct's keys, a list's items or a map's values.
type schema struct {
	keys  map[string]*schema // a struct: its yaml keys
	order []string           // the keys in declaration order, for hints
	elem  *schema            // a list's item or a free map's value
	free  bool               // a map with free keys
}

var configSchemaValue = schemaOf(reflect.TypeOf(Config{}))

func configSchema() *schema { return configSchemaValue }

func schemaOf(t reflect.Type) *schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &schema{keys: map[string]*schema{}}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			s.keys[tag] = schemaOf(f.Type)
			s.order = append(s.order, tag)
		}
		return s
	case reflect.Slice:
		return &schema{elem: schemaOf(t.Elem())}
	case reflect.Map:
		return &schema{free: true, elem: schemaOf(t.Elem())}
	}
	return nil
}

// checkKeys walks the tree: it records every value's position under its path and refuses
// keys the schema does not know, with a "did you mean".
func (l *loader) checkKeys(n ast.Node, s *schema, path string) {
	switch v := n.(type) {
	case *ast.TagNode:
		l.checkKeys(v.Value, s, path)
		return
	case *ast.AnchorNode:
		l.checkKeys(v.Value, s, path)
		return
	}
	if _, ok := l.positions.m[path]; !ok && path != "" {
		l.positions.m[path] = l.pos(config.YAMLFirstToken(n))
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
		if s.elem != nil && !s.free {
			for i, it := range v.Values {
				l.checkKeys(it, s.elem, fmt.Sprintf("%s[%d]", path, i))
			}
		}
		return
	default:
		return
	}
	if s.keys == nil && !s.free {
		return // the decoder says that a list or a value was expected
	}
	for _, mv := range values {
		if mv.Key == nil {
			continue
		}
		key := mv.Key.String()
		if sk, ok := mv.Key.(*ast.StringNode); ok {
			key = sk.Value
		}
		kpos := l.pos(mv.Key.GetToken())
		child := key
		if path != "" {
			child = path + "." + key
		}
		// The key's position stands for the entry: errors about the value point at it.
		l.positions.m[child] = kpos
		if s.free {
			l.checkKeys(mv.Value, s.elem, child)
			continue
		}
		ks, ok := s.keys[key]
		if !ok {
			hint := hintFor(key, s.order, "")
			if hint == "" {
				known := append([]string(nil), s.order...)
				sort.Strings(known)
				hint = "the keys here are " + strings.Join(known, ", ")
			}
			l.fail(kpos, hint, "unknown key %q", key)
			continue
		}
		l.checkKeys(mv.Value, ks, child)
	}
}
