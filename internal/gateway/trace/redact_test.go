package trace

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// redactAll is RedactSecrets without the need strings: every pattern on every body.
func redactAll(s string) string {
	s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := authScheme.FindStringSubmatch(m)
		if len(sub[3]) < 20 && !strings.ContainsAny(sub[3], "0123456789") {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
	for _, p := range secretPatterns {
		if p.re.NumSubexp() == 0 {
			s = p.re.ReplaceAllLiteralString(s, Redacted)
		} else {
			s = p.re.ReplaceAllString(s, "${1}"+Redacted)
		}
	}
	return s
}

// Skipping the patterns a body cannot match changes no redaction: random bodies built of
// secrets of every shape, their names in any case (Unicode case folding included: the
// Kelvin sign matches k and the long s matches s in a case-blind pattern), and ordinary
// chat JSON come out of RedactSecrets exactly as out of every pattern run.
func TestRedactSecretsSkipsOnlyWhatCannotMatch(t *testing.T) {
	parts := []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":32}`,
		`"usage":{"prompt_tokens":12,"completion_tokens":6}`,
		"Authorization: Bearer sk-abc123def456ghi789jkl", "BEARER abcdefghijklmnopqrstuvwxyz", "basic dXNlcjpwYXNz1",
		`"api_key": "hunter2"`, `"API-KEY":"x"`, `"X-Api-Key" : "v"`, `"Access_Token":"t"`, `"token":"a\"b"`,
		`"client-secret":"s"`, `"PassWd":"p"`, `"authorization":"Basic Zm9vOmJhcjEyMw=="`,
		"api_key=abc123&x=1", "?ACCESS-TOKEN=zz", "password=p4ss word", "Secret=x",
		"sk-proj-AbCdEfGhIjKlMnOpQrStUv0123", "sk-ant-api03-abcdefghijklmnop_QRSTUV", "plk_4f9a8b7c6d5e4f3a2b1c",
		"AKIAIOSFODNN7EXAMPLE", "ASIA0123456789ABCDEF", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWSSecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
		"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "xoxb-1234567890-abc", "AIzaSyA1234567890abcdefghijklmnopqrstuv",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
		"\"api_\u212aey\":\"kelvin\"", "\"\u017fecret\":\"long s\"", "\u017fecret=x", "bearer\u00a0abcdefghij0123", "b\u212Asic",
		"é", " ", "\n", `"`, ":", "=", "-", "_", "sk-", "key", "token", "KEY\"", "AWS", "eyJ", "[REDACTED]",
	}
	r := rand.New(rand.NewPCG(5, 26))
	inputs := append([]string(nil), parts...)
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			p := parts[r.IntN(len(parts))]
			switch r.IntN(3) {
			case 0:
				p = strings.ToUpper(p)
			case 1:
				p = strings.ToLower(p)
			}
			b.WriteString(p)
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		if got, want := RedactSecrets(in), redactAll(in); got != want {
			t.Fatalf("RedactSecrets(%q)\n = %q\nwant %q (every pattern run)", in, got, want)
		}
	}
}

func BenchmarkRedactSecretsChat(b *testing.B) {
	req := `{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say something short about benchmarks."}],"max_tokens":32}`
	resp := `{"id":"chatcmpl-bench","object":"chat.completion","created":1764115200,"model":"fake-1","choices":[{"index":0,"message":{"role":"assistant","content":"The benchmark answer is short."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}`
	b.Run("skip", func(b *testing.B) {
		for b.Loop() {
			RedactSecrets(req)
			RedactSecrets(resp)
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			redactAll(req)
			redactAll(resp)
		}
	})
}

// BenchmarkBodyStream is what recording a streamed call's bodies costs: the request and the
// raw SSE answer (the gateway benchmark's upstream stream, 7 events).
func BenchmarkBodyStream(b *testing.B) {
	req := []byte(`{"model":"bench","messages":[{"role":"user","content":"Say something short about benchmarks."}],"max_tokens":32,"stream":true,"stream_options":{"include_usage":true}}`)
	chunk := func(delta, finish string) string {
		return `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764115200,"model":"fake-1","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}` + "\n\n"
	}
	resp := []byte(chunk(`{"role":"assistant","content":""}`, "null") + chunk(`{"content":"The benchmark "}`, "null") +
		chunk(`{"content":"answer is "}`, "null") + chunk(`{"content":"short."}`, "null") + chunk(`{}`, `"stop"`) +
		`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764115200,"model":"fake-1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}` + "\n\n" +
		"data: [DONE]\n\n")
	b.SetBytes(int64(len(req) + len(resp)))
	for b.Loop() {
		Body(req, ModeTruncated, 16<<10, false)
		Body(resp, ModeTruncated, 16<<10, false)
	}
}
