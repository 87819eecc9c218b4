package gateway

import (
	"encoding/json"
	"math/rand"
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

// objectFields reads a body as json.Unmarshal into map[string]json.RawMessage does: the same
// error or none, the same fields with the same raw values, on generated objects (keys with
// escapes, other case, non-ASCII, given twice; spaces anywhere; nested values) and on the
// validity cases; its values are capped, so appending to one leaves the body as it was.
func TestObjectFieldsAgreesWithUnmarshal(t *testing.T) {
	check := func(data string) {
		t.Helper()
		got, gerr := objectFields([]byte(data))
		var want map[string]json.RawMessage
		werr := json.Unmarshal([]byte(data), &want)
		if (gerr != nil) != (werr != nil) || (got == nil) != (want == nil) || len(got) != len(want) {
			t.Fatalf("objectFields(%.80q) = %d fields, %v; json.Unmarshal: %d fields, %v", data, len(got), gerr, len(want), werr)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || string(g) != string(w) {
				t.Fatalf("objectFields(%.80q)[%q] = %q, %v; json.Unmarshal: %q", data, k, g, ok, w)
			}
		}
	}
	for _, c := range jsonValidCases {
		check(c)
	}
	for _, c := range []string{`null`, `"x"`, `[{"a":1}]`, `{}`, ` { } `, `{"a":1,"a":2}`, `{"model":"m","Model":"n"}`} {
		check(c)
	}
	keys := []string{`"model"`, `"Model"`, `"messages"`, `"mod\u0065l"`, `"stream"`, `"x\"y"`, `"é"`, `"a b"`, `""`, `"\u0000"`, `"tools"`}
	values := []string{`"fake-1"`, `1`, `-2.5e3`, `true`, `false`, `null`, `[]`, `{}`, `[1, {"a": [2]}]`,
		`{"role":"user","content":"a}\"]"}`, `"\u00e9\n"`, `"` + "\xff" + `"`}
	space := []string{"", " ", "\n\t"}
	r := rand.New(rand.NewSource(26))
	for range 20000 {
		var b strings.Builder
		b.WriteString(space[r.Intn(3)] + "{")
		for i := r.Intn(6); i > 0; i-- {
			if !strings.HasSuffix(b.String(), "{") {
				b.WriteString(",")
			}
			b.WriteString(space[r.Intn(3)] + keys[r.Intn(len(keys))] + space[r.Intn(3)] + ":" + space[r.Intn(3)] + values[r.Intn(len(values))] + space[r.Intn(3)])
		}
		b.WriteString("}" + space[r.Intn(3)])
		check(b.String())
	}
	body := []byte(`{"model":"fake-1","stream":true}`)
	f, err := objectFields(body)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(f["model"], "XXXX"...)
	if string(body) != `{"model":"fake-1","stream":true}` {
		t.Errorf("appending to a field wrote over the body: %s", body)
	}
}

func FuzzObjectFields(f *testing.F) {
	for _, c := range jsonValidCases {
		if len(c) < 100 {
			f.Add([]byte(c))
		}
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"mod\u0065l":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := objectFields(b)
		var want map[string]json.RawMessage
		werr := json.Unmarshal(b, &want)
		if (gerr != nil) != (werr != nil) || len(got) != len(want) {
			t.Fatalf("objectFields(%q) = %v, %v; json.Unmarshal: %v, %v", b, got, gerr, want, werr)
		}
		for k, w := range want {
			if string(got[k]) != string(w) {
				t.Fatalf("objectFields(%q)[%q] = %q; json.Unmarshal: %q", b, k, got[k], w)
			}
		}
	})
}

func BenchmarkObjectFields(b *testing.B) {
	body := []byte(`{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say something short about benchmarks."}],"max_tokens":32,"stream":true}`)
	b.Run("objectFields", func(b *testing.B) {
		for b.Loop() {
			_, _ = objectFields(body)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]json.RawMessage
			_ = json.Unmarshal(body, &m)
		}
	})
}
