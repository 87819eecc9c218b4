package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/plumbhq/plumb/internal/config"
)

// Load reads, checks and compiles a policy file.
func Load(path string, opt Options) (*Compiled, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, config.Errors{{Pos: config.Pos{File: path}, Msg: "cannot read the policy: " + err.Error(), Hint: "check the path given with -p"}}
	}
	return Parse(data, path, opt)
}

// Parse reads a policy file's text (file names it in errors), checks it and compiles it.
// Every problem is reported at once as config.Errors, each at file:line:col with a hint.
func Parse(data []byte, file string, opt Options) (c *Compiled, err error) {
	defer func() {
		// The YAML library is third-party code fed user input: a crash in it is an error.
		if r := recover(); r != nil {
			c, err = nil, config.Errors{{Pos: config.Pos{File: file}, Msg: fmt.Sprintf("cannot parse the file as YAML (%v)", r), Hint: "check the YAML syntax"}}
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	w := &walker{file: file, pos: map[string]config.Pos{}}
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return nil, config.Errors{w.yamlError(perr)}
	}
	var root ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			root = d.Body
			break
		}
	}
	if root == nil {
		return nil, config.Errors{{Pos: config.Pos{File: file, Line: 1, Col: 1}, Msg: "the policy is empty", Hint: "write input: and/or output: with steps {detector, action} (see docs/guard.md)"}}
	}
	w.walk(root, policyKeys, "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	var p Policy
	if err := yaml.UnmarshalWithOptions(data, &p, yaml.Strict()); err != nil {
		return nil, config.Errors{w.yamlError(err)}
	}
	c, probs := p.Compile(opt)
	if len(probs) > 0 {
		return nil, ProblemErrors(probs, func(path string) config.Pos { return w.at(path) })
	}
	return c, nil
}

// ProblemErrors turns problems into errors at the positions at gives their paths.
func ProblemErrors(probs []Problem, at func(path string) config.Pos) config.Errors {
	var es config.Errors
	for _, p := range probs {
		es = append(es, &config.Error{Pos: at(p.Path), Msg: p.Msg, Hint: p.Hint})
	}
	return es
}

// keys is a map's known keys; nil: free.
type keys map[string]keys

var stepKeys = keys{"name": nil, "detector": nil, "options": nil, "action": nil, "how": nil, "message": nil, "queue": nil}

// policyKeys are a policy's keys; lists hold steps (see walk).
var policyKeys = keys{"input": stepKeys, "output": stepKeys, "stream_window": nil, "stream_hold": nil, "review_queue": nil}

type walker struct {
	file string
	pos  map[string]config.Pos
	errs config.Errors
}

func (w *walker) tokPos(tk *token.Token) config.Pos {
	if tk == nil || tk.Position == nil {
		return config.Pos{File: w.file}
	}
	return config.Pos{File: w.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// at is the position of path, else of its closest written parent, else the file's start.
func (w *walker) at(path string) config.Pos { return config.PosAt(w.pos, w.file, path) }

// walk records where each value is and refuses unknown keys. ks are the keys of a map at
// this path, or of each item of a list.
func (w *walker) walk(n ast.Node, ks keys, path string) {
	switch v := n.(type) {
	case *ast.TagNode:
		w.walk(v.Value, ks, path)
		return
	case *ast.AnchorNode:
		w.walk(v.Value, ks, path)
		return
	}
	if _, ok := w.pos[path]; !ok {
		w.pos[path] = w.tokPos(config.YAMLFirstToken(n))
	}
	if ks == nil {
		return
	}
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	case *ast.SequenceNode:
		for i, it := range v.Values {
			w.walk(it, ks, fmt.Sprintf("%s[%d]", path, i))
		}
		return
	default:
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
		kpos := w.tokPos(mv.Key.GetToken())
		child := key
		if path != "" {
			child = path + "." + key
		}
		w.pos[child] = kpos
		sub, ok := ks[key]
		if !ok {
			known := make([]string, 0, len(ks))
			for k := range ks {
				known = append(known, k)
			}
			sort.Strings(known)
			w.errs = append(w.errs, &config.Error{Pos: kpos, Msg: fmt.Sprintf("unknown key %q", key),
				Hint: hint(key, known, "the keys here are "+strings.Join(known, ", "))})
			continue
		}
		w.walk(mv.Value, sub, child)
	}
}

func (w *walker) yamlError(err error) *config.Error {
	e := &config.Error{Pos: config.Pos{File: w.file}, Msg: err.Error(), Hint: "fix the YAML syntax (see docs/guard.md for a policy's keys)"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Pos = w.tokPos(tk)
		}
	}
	return e
}
