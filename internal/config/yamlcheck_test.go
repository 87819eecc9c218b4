package config

import (
	"reflect"
	"strings"
	"testing"
)

type checked struct {
	Name   string             `yaml:"name"`
	Count  int                `yaml:"count"`
	Share  float64            `yaml:"share"`
	On     bool               `yaml:"on"`
	Tags   []string           `yaml:"tags"`
	Limits map[string]float64 `yaml:"limits"`
	Nested *struct{ A int }   `yaml:"nested"`
	Free   any                `yaml:"free"`
}

// TestYAMLCheckerTypes: every value of the wrong type is reported, in words, at its
// position; what the decoder reads the same way ("5" for a number, 2.0 for a whole
// number, anything for any) is accepted, and the rest of the file still decodes.
func TestYAMLCheckerTypes(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want string // "" when it must pass
	}{
		{"count: 3", ""},
		{`count: "3"`, ""},
		{"count: 2.0", ""},
		{"count: 2.5", "1:8: this value must be a whole number, not a fraction (2.5)"},
		{"count: three", `1:8: this value must be a whole number, not the text "three"`},
		{"count: [1]", "1:8: this value must be a whole number, not a list"},
		{"share: 1", ""},
		{`share: "0.5"`, ""},
		{"share: yes", `1:8: this value must be a number, not the text "yes"`},
		{"on: true", ""},
		{"on: 1", "1:5: this value must be true or false, not a whole number"},
		{"name: 12", ""},
		{"name: {a: 1}", "1:7: this value must be text, not a map of keys"},
		{"tags: a", `1:7: this value must be a list, not the text "a"`},
		{"tags: [a, {b: 1}]", "1:11: this value must be text, not a map of keys"},
		{"limits: {a: x}", `1:13: this value must be a number, not the text "x"`},
		{"nested: 5", "1:9: this value must be a map of keys, not a whole number"},
		{"free: {any: [thing]}", ""},
		{"name: ~", ""},
	} {
		y := NewYAMLChecker("f.yaml", "docs/x.md")
		root, err := y.Parse([]byte(tc.yaml), [2]string{"empty", ""})
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		y.Check(root, SchemaOf(reflect.TypeOf(checked{})), "")
		var v checked
		if e := y.Decode(root, &v); e != nil && tc.want == "" {
			t.Errorf("%s: decode: %v", tc.yaml, e)
		}
		got := y.Errs.Error()
		switch {
		case tc.want == "" && len(y.Errs) > 0:
			t.Errorf("%s: unexpected errors: %s", tc.yaml, got)
		case tc.want != "" && !strings.Contains(got, "f.yaml:"+tc.want):
			t.Errorf("%s: errors %q lack %q", tc.yaml, got, tc.want)
		case tc.want != "" && len(y.Errs) != 1:
			t.Errorf("%s: want one error, got %s", tc.yaml, got)
		}
	}
}
