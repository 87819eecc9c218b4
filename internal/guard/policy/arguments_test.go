package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

const argsPolicy = `output:
  - detector: secrets
    action: review
  - detector: pii
    options: {types: [email, credit_card, us_ssn]}
    action: redact
  - detector: length
    options: {max_chars: 10}
    action: block
`

func TestCheckArguments(t *testing.T) {
	c, err := Parse([]byte(argsPolicy), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, args string
		decision   string
		want       string // Result.Text
	}{
		{"nothing found passes as written", `{ "to": "acme",  "amount": 1e3, "ok": true, "x": null }`, DecisionAllow,
			`{ "to": "acme",  "amount": 1e3, "ok": true, "x": null }`},
		{"string values redacted, the rest kept in order", `{"to": "bob@example.com", "amount": 1.50, "cards": ["4111 1111 1111 1111", 7], "note": "<b>hi</b>", "meta": {"z": false, "a": null}}`,
			DecisionRedact, `{"to":"<EMAIL>","amount":1.50,"cards":["<CREDIT_CARD>",7],"note":"<b>hi</b>","meta":{"z":false,"a":null}}`},
		{"a key is checked as well", `{"bob@example.com": 1}`, DecisionRedact, `{"<EMAIL>":1}`},
		{"both values of a repeated key", `{"to": "bob@example.com", "to": "eve@example.org"}`, DecisionRedact,
			`{"to":"<EMAIL>","to":"<EMAIL>"}`},
		{"escapes are decoded before the check", `{"to": "bob\u0040example.com"}`, DecisionRedact, `{"to":"<EMAIL>"}`},
		{"a key is context for its value", `{"ssn": "536-22-1234"}`, DecisionRedact, `{"ssn":"<US_SSN>"}`},
		{"a secret anywhere", `{"a": [{"b": "key sk-proj-abcdefghijklmnopqrstuvwxyz0123"}]}`, DecisionReview, ""},
		{"not JSON: the raw text", `mail bob@example.com now`, DecisionRedact, `mail <EMAIL> now`},
		{"broken JSON: the raw text", `{"to": "bob@example.com",`, DecisionRedact, `{"to": "<EMAIL>",`},
		{"two JSON values: the raw text", `{"a": 1} {"to": "bob@example.com"}`, DecisionRedact, `{"a": 1} {"to": "<EMAIL>"}`},
		{"a string value", `"bob@example.com"`, DecisionRedact, `"<EMAIL>"`},
		{"a number is checked, and becomes a string when redacted", `{"card": 4111111111111111, "n": 2.5e3}`, DecisionRedact, `{"card":"<CREDIT_CARD>","n":2.5e3}`},
		{"empty", ``, DecisionAllow, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.CheckArguments(context.Background(), tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tc.decision || r.Text != tc.want {
				t.Fatalf("got %s %q, want %s %q (%+v)", r.Decision, r.Text, tc.decision, tc.want, r.Findings)
			}
			if json.Valid([]byte(tc.args)) && r.Text != "" && !json.Valid([]byte(r.Text)) {
				t.Fatalf("%q is no longer JSON", r.Text)
			}
			if r.Blocked() && (r.Step != "secrets" || !strings.Contains(r.Message, "held for human review")) {
				t.Fatalf("block: %+v", r)
			}
		})
	}
}
