package eval

import (
	"encoding/json"
	"fmt"
	"strings"
)

// render substitutes {{ name }} and {{ name.field }} in tmpl from vars. The loader has
// already checked that every variable a prompt uses is defined, so a missing one here
// renders empty rather than failing a run half-way.
func render(tmpl string, vars map[string]any) string {
	if !strings.Contains(tmpl, "{{") {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 64)
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.Index(tmpl[i+2:], "}}")
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := strings.TrimSpace(tmpl[i+2 : i+2+j])
		b.WriteString(stringify(lookup(vars, name)))
		tmpl = tmpl[i+2+j+2:]
	}
}

// lookup resolves a dotted name such as "user.name" in nested maps.
func lookup(vars map[string]any, name string) any {
	if v, ok := vars[name]; ok {
		return v
	}
	parts := strings.Split(name, ".")
	var cur any = vars
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[p]; !ok {
			return nil
		}
	}
	return cur
}

// stringify renders a var value the way a user expects to see it in a prompt: strings as
// they are, numbers in their shortest form, structures as JSON.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	case float64, float32, int, int64, uint64, bool:
		return fmt.Sprint(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
