package toolpolicy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// positions maps a value's path in a policy file ("tools.approve[0].max") to its line and
// column, so that a problem found after decoding points at file:line:col.
type positions map[string][2]int

// filePositions reads where each value of data is written; a file the parser refuses
// gives no positions (the decoder reports that error with its own position).
func filePositions(data []byte) (pos positions) {
	pos = positions{}
	defer func() {
		if recover() != nil { // third-party code fed user input: never crash on it
			pos = positions{}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return pos
	}
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			pos.walk(d.Body, "")
		}
	}
	return pos
}

func (p positions) walk(n ast.Node, path string) {
	switch v := n.(type) {
	case *ast.TagNode:
		p.walk(v.Value, path)
	case *ast.AnchorNode:
		p.walk(v.Value, path)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			p.walk(mv, path)
		}
	case *ast.MappingValueNode:
		if v.Key == nil {
			return
		}
		key := v.Key.String()
		if sk, ok := v.Key.(*ast.StringNode); ok {
			key = sk.Value
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		if t := v.Key.GetToken(); t != nil && t.Position != nil {
			p[child] = [2]int{t.Position.Line, t.Position.Column}
		}
		p.walk(v.Value, child)
	case *ast.SequenceNode:
		for i, it := range v.Values {
			child := fmt.Sprintf("%s[%d]", path, i)
			if t := it.GetToken(); t != nil && t.Position != nil {
				p[child] = [2]int{t.Position.Line, t.Position.Column}
			}
			p.walk(it, child)
		}
	}
}

// at is file:line:col of path, else of its closest written parent, else file.
func (p positions) at(file, path string) string {
	for path != "" {
		if lc, ok := p[path]; ok {
			return fmt.Sprintf("%s:%d:%d", file, lc[0], lc[1])
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return file
}

// yamlPos is the decoder's "[line:col] message" as "file:line:col: message".
var yamlPos = regexp.MustCompile(`^\[(\d+):(\d+)\] `)

func decodeError(file, msg string) string {
	if m := yamlPos.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s:%s:%s: %s", file, m[1], m[2], msg[len(m[0]):])
	}
	return file + ": " + msg
}
