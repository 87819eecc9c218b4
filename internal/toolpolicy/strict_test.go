package toolpolicy

import (
	"strings"
	"testing"
)

// TestCanonicalRefusesAmbiguousArguments: arguments that JSON parsers read differently are
// malformed, so that a call is never allowed or held on values its runner does not use.
func TestCanonicalRefusesAmbiguousArguments(t *testing.T) {
	for _, tc := range []struct{ name, args, want string }{
		{"repeated key", `{"amount": 5000, "amount": 50}`, `the key "amount" appears twice (at amount)`},
		{"repeated nested key", `{"to": {"iban": "DE1", "iban": "FR2"}}`, `the key "iban" appears twice (at to.iban)`},
		{"repeated key in a list", `{"items": [{"sku": 1}, {"sku": 2, "sku": 3}]}`, `the key "sku" appears twice (at items[1].sku)`},
		{"repeated key spelt with an escape", `{"amount": 5000, "\u0061mount": 50}`, `the key "amount" appears twice`},
		{"invalid UTF-8", "{\"to\": \"acme\xff\"}", "not valid UTF-8"},
		{"unpaired high surrogate", `{"to": "\ud800x"}`, `unpaired surrogate escape \uD800`},
		{"unpaired low surrogate", `{"to": "\udc00"}`, `unpaired surrogate escape \uDC00`},
		{"number out of range", `{"amount": 1e400}`, "the number 1e400 (at amount) is out of the range of a 64-bit float"},
		{"number that underflows", `{"amount": 1e-400}`, "the number 1e-400 (at amount) is out of the range of a 64-bit float"},
		{"negative number that underflows", `{"amount": -0.1e-330}`, "out of the range of a 64-bit float"},
		{"integer beyond 2^53", `{"amount": 9007199254740993}`, "(it reads as 9.007199254740992e+15)"},
		{"too many decimals", `{"amount": 500.0000000000000001}`, "(it reads as 500)"},
		{"top-level list", `[{"amount": 1}]`, "a JSON array, not an object"},
		{"top-level string", `"{\"amount\": 1}"`, "a JSON string, not an object"},
		{"two values", `{"a":1} {"b":2}`, "text after the JSON object"},
		{"cut", `{"a": [1, 2`, "not JSON"},
	} {
		_, _, _, err := Canonical(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %s: got %v, want an error containing %q", tc.name, tc.args, err, tc.want)
		}
	}
	// What every parser reads alike is accepted, as written.
	for args, want := range map[string]string{
		`{"amount": 0.1, "n": 9007199254740992, "x": -0, "e": 1E+2, "s": "\ud83d\ude00 \u00e9"}`: `{"amount":0.1,"e":1E+2,"n":9007199254740992,"s":"😀 é","x":-0}`,
		`{"a": {"k": 1}, "b": {"k": 2}}`:             `{"a":{"k":1},"b":{"k":2}}`,
		`{"p": 250.50, "q": 1.7976931348623157e308}`: `{"p":250.50,"q":1.7976931348623157e308}`,
	} {
		_, canon, _, err := Canonical(args)
		if err != nil || canon != want {
			t.Errorf("%s: got %s, %v; want %s", args, canon, err, want)
		}
	}
}

// TestEvaluateDeniesRepeatedKeys: the QA case: a payment whose amount is written twice
// is denied as malformed, naming the key, rather than allowed on one of the values.
func TestEvaluateDeniesRepeatedKeys(t *testing.T) {
	p := mustParse(t, payments)
	d := p.Evaluate("make_payment", `{"amount": 5000, "currency": "EUR", "to": "acme", "amount": 50}`)
	if d.Action != ActionDeny || !d.Malformed || !strings.Contains(d.Reason, `the key "amount" appears twice`) || d.Hash != "" {
		t.Errorf("got %+v, want a malformed deny naming amount", d)
	}
	spec := p.Evaluate("make_payment", `{"amount": 250, "currency": "EUR", "to": "acme"}`).Spec
	if _, _, err := CheckEdit(spec, "make_payment", `{"amount": 200, "currency": "EUR", "to": "acme", "to": "mallory"}`); err == nil || !strings.Contains(err.Error(), `the key "to" appears twice`) {
		t.Errorf("edit with a repeated key: %v", err)
	}
}

// TestCheckJSON: an answer's envelope is checked for repeated keys and bad text, not for
// its numbers (log probabilities have more digits than a float keeps).
func TestCheckJSON(t *testing.T) {
	if err := CheckJSON(`{"logprob": -0.000123456789012345678901, "created": 1732600000, "choices": []}`); err != nil {
		t.Errorf("envelope with long floats: %v", err)
	}
	if err := CheckJSON(`{"choices": [], "choices": [{"index": 0}]}`); err == nil || !strings.Contains(err.Error(), `the key "choices" appears twice (at choices)`) {
		t.Errorf("repeated choices: %v", err)
	}
}

// TestRepeatedKey: the first repeated key and its path, at any depth; the values of skipped
// top-level keys are not read; no answer for a text that is not JSON.
func TestRepeatedKey(t *testing.T) {
	for _, tc := range []struct {
		body, at string
		skip     []string
	}{
		{`{"decision": "approve", "decision": "reject"}`, "decision", nil},
		{`{"items": [{"sku": 1}, {"sku": 2, "sku": 3}]}`, "items[1].sku", nil},
		{`{"a": {"b": {"c": 1, "c": 2}}}`, "a.b.c", nil},
		{`{"arguments": {"amount": 1, "amount": 2}, "tool": "x"}`, "", []string{"arguments"}},
		{`{"arguments": {"amount": 1}, "tool": "x", "tool": "y"}`, "tool", []string{"arguments"}},
		{`{"a": 1, "b": 2}`, "", nil},
		{`{"a": `, "", nil},
	} {
		rk := RepeatedKey([]byte(tc.body), tc.skip...)
		got := ""
		if rk != nil {
			got = rk.At
		}
		if got != tc.at {
			t.Errorf("RepeatedKey(%s, skip %v) at %q, want %q", tc.body, tc.skip, got, tc.at)
		}
	}
}
