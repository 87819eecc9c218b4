package toolpolicy

import (
	"strings"
	"testing"
)

const payments = `
tools:
  allow: [search_orders]
  deny: [delete_account]
  approve:
    - tool: make_payment
      name: payments
      above: {amount: 100}
      max: {amount: 500}
      values: {currency: [EUR, USD]}
      schema:
        type: object
        required: [amount, currency, to]
        properties:
          amount: {type: number, exclusiveMinimum: 0}
          to: {type: string, minLength: 1}
      ttl: 15m
    - tool: send_email
  constraints:
    - tool: search_orders
      max: {limit: 50}
`

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s), "tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	p := mustParse(t, payments)
	for _, tc := range []struct {
		tool, args string
		action     string
		rule       string
		reason     string
	}{
		{"search_orders", `{"q":"x"}`, ActionAllow, "", ""},
		{"search_orders", `{"limit": 51}`, ActionDeny, "constraints search_orders", "limit is 51, above the limit of 50"},
		{"delete_account", `{}`, ActionDeny, "deny delete_account", "never allowed"},
		{"shell", `{}`, ActionDeny, "allow list", "not on this route's allow list"},
		{"make_payment", `{"amount": 20, "currency": "EUR", "to": "acme"}`, ActionAllow, "", ""},
		{"make_payment", `{"amount": 250, "currency": "EUR", "to": "acme"}`, ActionApprove, "payments", "amount is 250, above 100"},
		{"make_payment", `{"amount": 501, "currency": "EUR", "to": "acme"}`, ActionDeny, "payments", "amount is 501, above the limit of 500"},
		{"make_payment", `{"amount": 250, "currency": "GBP", "to": "acme"}`, ActionDeny, "payments", `currency is "GBP", not one of ["EUR", "USD"]`},
		{"make_payment", `{"amount": 250, "currency": "EUR"}`, ActionDeny, "payments", "fail its schema"},
		{"make_payment", `{"amount": 250, "currency": "EUR", "to": "a"`, ActionDeny, "malformed arguments", "malformed"},
		{"make_payment", `[1]`, ActionDeny, "malformed arguments", "not an object"},
		{"make_payment", `{"a":1} {"b":2}`, ActionDeny, "malformed arguments", "malformed"},
		{"send_email", ``, ActionApprove, "approve send_email", "every call"},
	} {
		d := p.Evaluate(tc.tool, tc.args)
		if d.Action != tc.action || d.Rule != tc.rule || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s %s: got %s %q %q, want %s %q containing %q", tc.tool, tc.args, d.Action, d.Rule, d.Reason, tc.action, tc.rule, tc.reason)
		}
	}
	d := p.Evaluate("make_payment", `{"amount": 250, "currency": "EUR", "to": "acme"}`)
	if d.TTL.Minutes() != 15 || len(d.Spec) == 0 {
		t.Errorf("ttl %v spec %s", d.TTL, d.Spec)
	}
}

func TestCanonical(t *testing.T) {
	_, a, h1, err := Canonical(`{"to":"acme", "amount": 250.50, "meta": {"z": 1, "a": "<b>"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":250.50,"meta":{"a":"<b>","z":1},"to":"acme"}`; a != want {
		t.Errorf("canonical %s, want %s", a, want)
	}
	// The same arguments written differently hash the same; a changed value does not.
	_, _, h2, _ := Canonical("{\n \"meta\": {\"a\": \"<b>\", \"z\": 1}, \"amount\": 250.50, \"to\": \"acme\"}")
	_, _, h3, _ := Canonical(`{"to":"acme", "amount": 2500.50, "meta": {"z": 1, "a": "<b>"}}`)
	if h1 != h2 || h1 == h3 || len(h1) != 64 {
		t.Errorf("hashes %s %s %s", h1, h2, h3)
	}
	// SHA-256 of {} is the published value.
	if _, _, h, _ := Canonical(""); h != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("hash of {}: %s", h)
	}
}

func TestCheckEdit(t *testing.T) {
	p := mustParse(t, payments)
	d := p.Evaluate("make_payment", `{"amount": 250, "currency": "EUR", "to": "acme"}`)
	if _, _, err := CheckEdit(d.Spec, "make_payment", `{"amount": 900, "currency": "EUR", "to": "acme"}`); err == nil || !strings.Contains(err.Error(), "above the limit of 500") {
		t.Errorf("edit over the max: %v", err)
	}
	canon, hash, err := CheckEdit(d.Spec, "make_payment", `{"amount": 200, "currency": "EUR", "to": "acme"}`)
	if err != nil || canon != `{"amount":200,"currency":"EUR","to":"acme"}` || hash != Hash(canon) {
		t.Errorf("edit: %s %s %v", canon, hash, err)
	}
	if _, _, err := CheckEdit(d.Spec, "make_payment", `nope`); err == nil {
		t.Error("malformed edit accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tools:\n  alow: [x]\n", "p.yaml:2:3: unknown key \"alow\"\n\thint: did you mean \"allow\"?"},
		{"tools:\n  deny: [x]\n  approve:\n    - tool: x\n", "tool \"x\" is denied"},
		{"tools:\n  approve:\n    - tool: x\n      ttl: soon\n", "not a positive duration"},
		{"tools:\n  approve:\n    - tool: x\n      schema: {type: 12}\n", "invalid JSON schema"},
		{"tools:\n  constraints:\n    - tool: x\n      above: {a: 1}\n", "constraints have no above"},
		{"other: 1\n", `unknown key "other"`},
		{"allow: [x]\n", "p.yaml:1:1: unknown key \"allow\"\n\thint: the policy goes under the key tools:"},
		{"tools: {}\n", "has no tools"},
	} {
		_, err := Parse([]byte(tc.in), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.yaml") {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestParseReportsEveryMistake: a policy file's mistakes come all at once, in file order,
// each at file:line:col: unknown keys with a "did you mean", wrong types in words, and the
// policy's own checks.
func TestParseReportsEveryMistake(t *testing.T) {
	in := "tools:\n  alow: [x]\n  approve:\n    - tool: make_payment\n      above: {amount: lots}\n      ttl: soon\n    - tol: send_email\n  aproval_ttl: 1h\n"
	_, err := Parse([]byte(in), "tools.yaml")
	want := []string{
		`tools.yaml:2:3: unknown key "alow"`, `did you mean "allow"?`,
		`tools.yaml:5:23: this value must be a number, not the text "lots"`,
		`tools.yaml:6:7: tools.approve[0].ttl: ttl "soon" is not a positive duration`,
		`tools.yaml:7:7: unknown key "tol"`, `did you mean "tool"?`,
		`tools.yaml:8:3: unknown key "aproval_ttl"`, `did you mean "approval_ttl"?`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	msg, at := err.Error(), 0
	for _, w := range want {
		i := strings.Index(msg[at:], w)
		if i < 0 {
			t.Fatalf("got\n%s\nwant %q after offset %d (every mistake, in file order)", msg, w, at)
		}
		at += i + len(w)
	}
	if strings.Contains(msg, "cannot unmarshal") || strings.Contains(msg, "Go struct") {
		t.Errorf("the decoder's words leak: %s", msg)
	}
}

func TestOffer(t *testing.T) {
	p := mustParse(t, payments)
	for tool, ok := range map[string]bool{"search_orders": true, "make_payment": true, "delete_account": false, "shell": false} {
		if got, _, _ := p.Offer(tool); got != ok {
			t.Errorf("offer %s: %v", tool, got)
		}
	}
}
