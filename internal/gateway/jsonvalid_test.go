package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonValidCases = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5, -3e+7, 0.0E-1, true, false, null, "x"]} `,
	`{"a":}`, `{"a"}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`, `[1 2]`, `{1:2}`,
	`01`, `-`, `-0`, `-01`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `+1`, `1.5e-3`, `-0.0e0`,
	`"a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00"`, `"\u00g0"`, `"\u12"`, `"\x"`, `"abc`, "\"a\tb\"", "\"\x7f\xff\"",
	`tru`, `true`, `truex`, `nul`, `null `, `fals`, `false1`, `{"a":{"b":{"c":[[]]}}}`, `{"a":{"b":}}`,
	`[[[[`, `]]`, `{}}`, `{} {}`, `"a" "b"`, "\x00", "[\n1\r,\t2]",
	`data: {"a":1}`, `[DONE]`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "{}" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 9999) + "{}" + strings.Repeat("}", 9999),
}

// validJSON answers as encoding/json's Valid does: on hand-picked cases here, on generated
// ones in FuzzValidJSON.
func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range jsonValidCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.60q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonValidCases {
		if len(c) < 100 { // the deeply nested ones slow the fuzzer's mutations to a crawl
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Errorf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSONEvent(b *testing.B) {
	ev := []byte(`{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764115200,"model":"fake-1","choices":[{"index":0,"delta":{"content":"The benchmark "},"finish_reason":null}]}`)
	b.Run("validJSON", func(b *testing.B) {
		for b.Loop() {
			validJSON(ev)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(ev)
		}
	})
}
