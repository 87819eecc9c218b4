package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONLine(t *testing.T) {
	line := `{"vars": {"q": "héllo", "n": 3, "x": 1.5, "ok": true, "none": null}, "assert": [{"type": "contains", "value": "a\"b"}]}`
	n, err := parseJSONLine([]byte(line), "t.jsonl", 4)
	if err != nil {
		t.Fatal(err)
	}
	if n.kind != mapKind || n.pos != (Pos{"t.jsonl", 5, 1}) {
		t.Fatalf("root = %v at %v", n.kind, n.pos)
	}
	vars := n.get("vars")
	for _, tc := range []struct {
		key  string
		kind kind
		val  any
		col  int
	}{
		{"q", stringKind, "héllo", 16},
		{"n", intKind, 3, 30},
		{"x", floatKind, 1.5, 38},
		{"ok", boolKind, true, 49},
		{"none", nullKind, nil, 63},
	} {
		v := vars.get(tc.key)
		if v == nil || v.kind != tc.kind || v.value != tc.val || v.pos.Col != tc.col || v.pos.Line != 5 {
			t.Errorf("%s = %+v, want %v %v at column %d", tc.key, v, tc.kind, tc.val, tc.col)
		}
	}
	// A string without escapes maps its characters onto columns; one with escapes does not.
	if q := vars.get("q"); q.col0 != 17 {
		t.Errorf("col0 of \"héllo\" = %d, want 17", q.col0)
	}
	if v := n.get("assert").items[0].get("value"); v.text != `a"b` || v.col0 != 0 {
		t.Errorf("escaped string = %q col0 %d", v.text, v.col0)
	}
}

func TestParseJSONLineErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"a": 1,}`, `t.jsonl:1:9: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{`{"a": 1, "a": 2}`, `t.jsonl:1:10: duplicate key "a"`},
		{`{"a": 1} {"b": 2}`, `t.jsonl:1:10: unexpected text after the JSON object`},
		{`{"a": `, `t.jsonl:1:`},
		{`{"a": 1e999}`, `t.jsonl:1:7: number 1e999 is out of range`},
	} {
		_, err := parseJSONLine([]byte(tc.line), "t.jsonl", 0)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.line, err, tc.want)
		}
	}
}

// plain turns a node tree back into the values encoding/json would give.
func plain(n *node) any {
	switch n.kind {
	case mapKind:
		m := map[string]any{}
		for i, k := range n.keys {
			m[k.text] = plain(n.vals[i])
		}
		return m
	case listKind:
		l := []any{}
		for _, it := range n.items {
			l = append(l, plain(it))
		}
		return l
	case intKind:
		return float64(n.value.(int))
	}
	return n.value
}

// FuzzParseJSONLine checks the scanner against encoding/json: it accepts exactly the valid
// lines (bar duplicate keys and huge numbers, which it reports) and reads the same values.
func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, -3e2, true, false, null, "x\u00e9\n"]}`, `{"a": {"b": {}}}`, `[]`, `{"a":"\ud83d\ude00"}`,
		`{"a": 01}`, `{"a": "\x01"}`, `{"a" 1}`, `{"a": 1,}`, `"\ud800"`, `{"a": "é"}`, "{\"a\": \"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.ContainsAny(data, "\n\r") {
			return // one line
		}
		n, err := parseJSONLine(data, "f.jsonl", 0)
		var want any
		jerr := json.Unmarshal(data, &want)
		if jerr != nil {
			if err == nil {
				t.Fatalf("%q: accepted, but encoding/json says %v", data, jerr)
			}
			return
		}
		if err != nil {
			if strings.Contains(err.Msg, "duplicate key") || strings.Contains(err.Msg, "out of range") {
				return
			}
			t.Fatalf("%q: rejected (%v), but it is valid JSON", data, err)
		}
		if got := plain(n); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read %#v, encoding/json reads %#v", data, got, want)
		}
	})
}
