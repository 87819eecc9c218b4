package assert

import "strings"

// text is an assertion value that may hold {{var}} placeholders. promptfoo renders assertion
// values with the test's vars (`value: "{{expected}}"` in a defaultTest is common), so the
// placeholders are filled from the sample's vars when it is checked. A placeholder naming no
// var stays as written, so that the reason shows what went wrong.
type text struct {
	raw       string
	templated bool
}

func newText(s string) text {
	i := strings.Index(s, "{{")
	return text{raw: s, templated: i >= 0 && strings.Contains(s[i:], "}}")}
}

// with fills the placeholders from vars.
func (t text) with(vars map[string]any) string {
	if !t.templated {
		return t.raw
	}
	return render(t.raw, func(name string) (string, bool) { return varText(vars, name) })
}

// withoutVars is the text with every placeholder removed: enough to check at compile time
// that the fixed part of a templated regex is valid.
func (t text) withoutVars() string {
	return render(t.raw, func(string) (string, bool) { return "", true })
}

func texts(ss []string) []text {
	out := make([]text, len(ss))
	for i, s := range ss {
		out[i] = newText(s)
	}
	return out
}

func withAll(ts []text, vars map[string]any) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.with(vars)
	}
	return out
}
