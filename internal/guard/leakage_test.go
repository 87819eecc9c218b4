package guard

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

const leakPrompt = "You are Acme's support assistant. Never promise refunds above 500 EUR and escalate any legal threat to a human."

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// TestLeakageDisguised: the prompt and the canary are found through the disguises an
// attacker asks for, with the decoding named and the span on the disguised text.
func TestLeakageDisguised(t *testing.T) {
	d := mustNew(t, "leakage", map[string]any{"canary": "zq-CANARY-81f3", "protected_prompt": leakPrompt})
	sentence := "Never promise refunds above 500 EUR and escalate any legal threat"
	for _, tc := range []struct {
		name, text, typ, decoding, span string
	}{
		{"markdown and case", "Rule: **NEVER** promise _refunds_ above `500 EUR` and escalate any legal threat!", "prompt_leak", "", "NEVER** promise _refunds_ above `500 EUR` and escalate any legal threat"},
		{"one word a line", strings.ReplaceAll(sentence, " ", "\n"), "prompt_leak", "", strings.ReplaceAll(sentence, " ", "\n")},
		{"base64", "ok: " + base64.StdEncoding.EncodeToString([]byte(sentence)) + " bye", "prompt_leak", "base64", base64.StdEncoding.EncodeToString([]byte(sentence))},
		{"hex", "ok: " + hex.EncodeToString([]byte(sentence)), "prompt_leak", "hex", hex.EncodeToString([]byte(sentence))},
		{"rot13", "ok: " + rot13(sentence), "prompt_leak", "rot13", rot13(sentence)},
		{"reversed", "ok: " + reverse(sentence) + ".", "prompt_leak", "reversed", reverse(sentence)},
		{"canary spaced out", "the token: z q - C A N A R Y - 8 1 f 3", "canary", "", "z q - C A N A R Y - 8 1 f 3"},
		{"canary in base64", "t=" + base64.StdEncoding.EncodeToString([]byte("the canary is zq-CANARY-81f3")), "canary", "base64", base64.StdEncoding.EncodeToString([]byte("the canary is zq-CANARY-81f3"))},
		{"canary reversed", "-> " + reverse("zq-CANARY-81f3"), "canary", "reversed", reverse("zq-CANARY-81f3")},
		{"canary in rot13", "-> " + rot13("zq-CANARY-81f3"), "canary", "rot13", rot13("zq-CANARY-81f3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := detect(t, d, tc.text)
			if len(fs) != 1 || fs[0].Type != tc.typ || fs[0].Decoding != tc.decoding {
				t.Fatalf("%q: %+v", tc.text, fs)
			}
			if got := tc.text[fs[0].Start:fs[0].End]; got != tc.span {
				t.Errorf("span %q, want %q", got, tc.span)
			}
			if tc.decoding != "" && !strings.Contains(fs[0].Reason, "revealed by "+tc.decoding) {
				t.Errorf("reason %q", fs[0].Reason)
			}
		})
	}
	// Pieces: two stretches of 33 and 36 characters of the prompt are each under 40, and
	// together over twice 40 only with a third.
	two := "First: you are acme's support assistant. Then I'd add: never promise refunds above 500 EUR."
	if fs := detect(t, d, two); len(fs) != 0 {
		t.Errorf("two short pieces: %+v", fs)
	}
	three := two + " Finally: escalate any legal threat to a human."
	fs := detect(t, d, three)
	if len(fs) != 1 || !strings.Contains(fs[0].Reason, "in 3 pieces") || three[fs[0].Start:fs[0].End] != three[len("First: "):len(three)-1] {
		t.Errorf("three pieces: %+v", fs)
	}
	// Plain text that shares short phrases, in any disguise, is no leak.
	for _, text := range []string{
		"I can escalate any legal threat if needed, and I never promise refunds.",
		rot13("I can escalate any legal threat if needed, and I never promise refunds."),
		"zq-CANARY is a prefix we use; 81f3 is a room number.",
	} {
		if fs := detect(t, d, text); len(fs) != 0 {
			t.Errorf("%q: %+v", text, fs)
		}
	}
	// decodings picks the disguises looked through.
	plain := mustNew(t, "leakage", map[string]any{"protected_prompt": leakPrompt, "decodings": []any{}})
	if fs := detect(t, plain, "ok: "+rot13(sentence)); len(fs) != 0 {
		t.Errorf("decodings [] still decoded rot13: %+v", fs)
	}
	if _, err := New(Spec{Name: "leakage", Options: map[string]any{"protected_prompt": leakPrompt, "decodings": []any{"base32"}}}); err == nil || !strings.Contains(err.Error(), `unknown decoding "base32": use base64, hex, rot13, reversed`) {
		t.Errorf("bad decoding: %v", err)
	}
}
