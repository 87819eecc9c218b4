package trace

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBodySecrets(t *testing.T) {
	cases := []struct {
		name, in string
		gone     []string // must not survive
		kept     []string // must survive
	}{
		{"bearer header", "Authorization: Bearer sk-abc123def456ghi789jkl\r\n", []string{"abc123def456"}, []string{"Authorization: Bearer [REDACTED]"}},
		{"bearer in JSON", `{"headers":{"authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"}}`, []string{"eyJhbGci", "dozjg"}, []string{`"authorization":"[REDACTED]"`}},
		{"openai key in text", "my key is sk-proj-AbCdEfGhIjKlMnOpQrStUv0123 thanks", []string{"AbCdEfGhIjKlMnOp"}, []string{"my key is [REDACTED] thanks"}},
		{"anthropic key", "x sk-ant-api03-abcdefghijklmnop_QRSTUV-xyz y", []string{"api03-abcdef"}, []string{"x [REDACTED] y"}},
		{"plumb key", `{"content":"use plk_4f9a8b7c6d5e4f3a2b1c"}`, []string{"4f9a8b7c"}, []string{`"use [REDACTED]"`}},
		{"aws", "AKIAIOSFODNN7EXAMPLE and aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI"}, []string{"[REDACTED] and aws_secret_access_key=[REDACTED]"}},
		{"api_key field", `{"api_key": "hunter2", "model":"m","password":"p\"w"}`, []string{"hunter2", `p\"w`}, []string{`"api_key": "[REDACTED]"`, `"model":"m"`, `"password":"[REDACTED]"`}},
		{"query parameter", "GET /v1?api_key=abc123&x=1", []string{"abc123"}, []string{"api_key=[REDACTED]&x=1"}},
		{"prose left alone", "The bearer of this letter asks for a token of thanks: sk-short.", nil, []string{"The bearer of this letter asks for a token of thanks: sk-short."}},
		{"max_tokens is no secret", `{"max_tokens": 100, "tokens":"abc"}`, nil, []string{`{"max_tokens": 100, "tokens":"abc"}`}},
	}
	for _, c := range cases {
		got := Body([]byte(c.in), ModeFull, 0, false)
		for _, g := range c.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: %q survived in %q", c.name, g, got)
			}
		}
		for _, k := range c.kept {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %q missing from %q", c.name, k, got)
			}
		}
	}
}

func TestBodyPII(t *testing.T) {
	in := `{"content":"I am jane.doe@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32; not a card: 4111 1111 1111 1112"}`
	plain := Body([]byte(in), ModeFull, 0, false)
	if plain != in {
		t.Errorf("without redactPII the body changed: %q", plain)
	}
	got := Body([]byte(in), ModeFull, 0, true)
	for _, gone := range []string{"jane.doe@example.com", "7946 0958", "4111 1111 1111 1111", "GB82 WEST"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q survived PII redaction: %s", gone, got)
		}
	}
	for _, kept := range []string{"<EMAIL>", "<PHONE>", "<CREDIT_CARD>", "<IBAN>", "4111 1111 1111 1112"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q missing after PII redaction (a failed Luhn check is no card): %s", kept, got)
		}
	}
}

func TestBodyModes(t *testing.T) {
	body := []byte(`{"content":"` + strings.Repeat("é", 100) + `"}`) // 2-byte runes
	if got := Body(body, ModeOff, 10, false); got != "" {
		t.Errorf("off kept %q", got)
	}
	if got := Body(body, "bogus", 10, false); got != "" {
		t.Errorf("an unknown mode kept %q", got)
	}
	if got := Body(body, ModeFull, 10, false); got != string(body) {
		t.Errorf("full cut the body: %q", got)
	}
	if got := Body(body, ModeTruncated, 1000, false); got != string(body) {
		t.Errorf("truncated cut a body under the limit: %q", got)
	}
	for _, max := range []int{0, 12, 13, 14, 50} {
		got := Body(body, ModeTruncated, max, false)
		if !utf8.ValidString(got) {
			t.Errorf("max %d: invalid UTF-8: %q", max, got)
		}
		kept, note, ok := strings.Cut(got, "… [truncated: ")
		if !ok || len(kept) > max || !strings.HasPrefix(string(body), kept) || max-len(kept) > 1 {
			t.Errorf("max %d: %q: want at most %d bytes of the body, cut at a character, then the note", max, got, max)
		}
		wantNote := strconv.Itoa(len(body)-len(kept)) + " of " + strconv.Itoa(len(body)) + " bytes cut]"
		if note != wantNote {
			t.Errorf("max %d: note %q, want %q", max, note, wantNote)
		}
	}
	// A secret straddling the cut is redacted before cutting, never half kept.
	sec := []byte("key sk-proj-AbCdEfGhIjKlMnOpQrStUv0123 end")
	if got := Body(sec, ModeTruncated, 20, false); strings.Contains(got, "AbCd") || strings.Contains(got, "sk-proj") {
		t.Errorf("a cut secret leaked: %q", got)
	}
	if got := Body([]byte("bad \xff\xfe utf8"), ModeFull, 0, false); !utf8.ValidString(got) {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}
