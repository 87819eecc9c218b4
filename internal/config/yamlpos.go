package config

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// PosAt is where the value at a dotted path (routes[2].targets[0].provider) was written,
// given the positions of the values a file holds: the path's own position, else that of
// its closest parent that is written, else the start of file. Config files other than the
// suite (gateway.yaml, guard policies) point their errors at values this way.
func PosAt(positions map[string]Pos, file, path string) Pos {
	for {
		if p, ok := positions[path]; ok {
			return p
		}
		if path == "" {
			return Pos{File: file, Line: 1, Col: 1}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// YAMLFirstToken is where a YAML value starts: a map's first key rather than its first
// colon, so that an error about a map points at its first line.
func YAMLFirstToken(n ast.Node) *token.Token {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && m.Values[0].Key != nil {
			return m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return m.Key.GetToken()
		}
	}
	return n.GetToken()
}
