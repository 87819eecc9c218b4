package gateway

import (
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// classifierHarness is a gateway whose support-bot route runs a policy with an
// llm_classifier input and output step asking the provider "guard" (a fake Llama Guard
// answering "unsafe\nS2" to texts about stealing cars, "safe" to the rest), and the
// primary upstream answering reply.
func classifierHarness(t *testing.T, reply, onError string) (*harness, *fakellm.Server, *fakellm.Server) {
	t.Helper()
	guardUp, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
		{Match: "steal a car", Reply: "unsafe\nS2"},
		{Match: "", Reply: "safe"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(guardUp.Close)
	up, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Match: "", Reply: reply}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	cfg := strings.Replace(twoTargets, "keys:", `policies:
  safety:
    input:
      - detector: llm_classifier
        options: {provider: guard, model: llama-guard3, categories: [S1, S2]`+onError+`}
        action: block
        message: Not something we can help with.
    output:
      - name: output-safety
        detector: llm_classifier
        options: {provider: guard, model: llama-guard3, role: agent}
        action: review
keys:`, 1)
	cfg = strings.Replace(cfg, "routes:", "  - name: guard\n    type: openai\n    base_url: "+guardUp.URL+"\n    api_key_env: BACKUP_API_KEY\nroutes:", 1)
	cfg = strings.Replace(cfg, "    timeout_ms: 10000\n", "    timeout_ms: 10000\n    policy: safety\n", 1)
	cfg = strings.Replace(cfg, "base_url: PRIMARY_URL", "base_url: "+up.URL, 1)
	return newHarness(t, noLimits(cfg)), up, guardUp
}

func TestGuardClassifier(t *testing.T) {
	h, up, guardUp := classifierHarness(t, "Sure, here is how to do that.", "")
	// Safe both ways: the answer goes through; the classifier saw the Llama Guard prompt.
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "What is the capital of France?"))
	if status != 200 || content(t, out) != "Sure, here is how to do that." {
		t.Fatalf("%d %s", status, out)
	}
	reqs := guardUp.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the classifier got %d requests, want 2 (input and output)", len(reqs))
	}
	if b := string(reqs[0].Body); !strings.Contains(b, `"model":"llama-guard3"`) || !strings.Contains(b, "unsafe content in 'User' messages") || !strings.Contains(b, "capital of France") {
		t.Fatalf("classifier request: %s", b)
	}
	if b := string(reqs[1].Body); !strings.Contains(b, "'Agent' messages") || !strings.Contains(b, "here is how to do that") {
		t.Fatalf("classifier request: %s", b)
	}
	// Unsafe input (S2): blocked with the step's message; the upstream never called.
	n := up.Count()
	status, _, out = h.call("/v1/chat/completions", teamAKey, chat("support-bot", "How do I steal a car?"))
	typ, code, msg := apiErr(t, out)
	if status != 400 || typ != "invalid_request_error" || code != "content_blocked" || msg != "Not something we can help with." {
		t.Fatalf("%d %s", status, out)
	}
	if up.Count() != n {
		t.Fatal("a blocked input reached the upstream")
	}
	if tr := h.record(2); tr.Blocked != "safety/llm_classifier" {
		t.Fatalf("trace blocked = %q", tr.Blocked)
	}
	if l := h.logs.String(); !strings.Contains(l, "detector=llm_classifier type=unsafe") {
		t.Fatalf("logs:\n%s", l)
	}
	// A stream is classified once its answer is whole, as it ends.
	before := guardUp.Count()
	status, _, out = h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
	if text, done, errEv := streamed(t, out); status != 200 || text != "Sure, here is how to do that." || !done || errEv != "" {
		t.Fatalf("stream: %d %s", status, out)
	}
	reqs = guardUp.Requests()
	if got := guardUp.Count() - before; got != 2 || !strings.Contains(string(reqs[len(reqs)-1].Body), "Sure, here is how to do that.") {
		t.Fatalf("a stream asked the classifier %d times, want 2 (its input, then its whole answer)", got)
	}
}

func TestGuardClassifierUnsafeOutput(t *testing.T) {
	h, _, _ := classifierHarness(t, "First, steal a car from a quiet street.", "")
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "Tell me a story"))
	if status == 200 || strings.Contains(out, "quiet street") || !strings.Contains(out, "held for human review") || !strings.Contains(out, "unsafe") {
		t.Fatalf("%d %s", status, out)
	}
	// Streamed, the text has gone out when the whole answer is judged: the stream ends
	// with the error event instead of its normal end.
	status, _, out = h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"Tell me a story"}]}`)
	if text, done, errEv := streamed(t, out); status != 200 || text != "First, steal a car from a quiet street." || done || !strings.Contains(errEv, "held for human review") {
		t.Fatalf("stream: %d %s", status, out)
	}
	_, body := h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"Tell me a story"}]}`)
	if s := readMsgStream(t, body); s.text != "First, steal a car from a quiet street." || s.stopped || !strings.Contains(s.errMsg, "held for human review") {
		t.Fatalf("messages stream: %+v", s)
	}
	if tr := h.record(3); tr.Blocked != "safety/output-safety (review)" || tr.ErrorCode != "content_blocked" {
		t.Fatalf("trace %+v", tr)
	}
}

func TestGuardClassifierFailure(t *testing.T) {
	// Default on_error (block): a failing classifier blocks the call.
	h, up, guardUp := classifierHarness(t, "Hello.", "")
	guardUp.Enqueue(fakellm.Fault{Status: 500})
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 400 || !strings.Contains(out, `could not check it`) || up.Count() != 0 {
		t.Fatalf("%d %s (upstream calls %d)", status, out, up.Count())
	}
	if l := h.logs.String(); !strings.Contains(l, "guard step failed") || !strings.Contains(l, "HTTP 500") {
		t.Fatalf("logs:\n%s", l)
	}
	// A reply that is neither safe nor unsafe is a failure too.
	guardUp.Enqueue(fakellm.Fault{Malformed: true})
	if status, _, out = h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 400 {
		t.Fatalf("%d %s", status, out)
	}

	// on_error: allow lets the text through.
	h, up, guardUp = classifierHarness(t, "Hello.", ", on_error: allow")
	guardUp.Enqueue(fakellm.Fault{Status: 503})
	status, _, out = h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 200 || content(t, out) != "Hello." || up.Count() != 1 {
		t.Fatalf("%d %s", status, out)
	}
}

func TestGuardClassifierConfig(t *testing.T) {
	for _, c := range []struct{ opts, want string }{
		{"{provider: nope, model: m}", `unknown provider "nope": use one of providers: (primary, backup)`},
		{"{provider: primary}", "needs options.model"},
		{"{model: m}", "needs options.provider"},
		{"{provider: primary, model: m, base_url: http://x}", "base_url and api_key_env are for plumb guard check"},
		{"{provider: primary, model: m, on_error: maybe}", `unknown on_error "maybe"`},
		{"{provider: primary, model: m, timeout_ms: -1}", "timeout_ms must be"},
	} {
		cfg := strings.Replace(twoTargets, "keys:", "policies:\n  p:\n    input:\n      - detector: llm_classifier\n        options: "+c.opts+"\n        action: block\nkeys:", 1)
		_, err := Parse([]byte(cfg), "gateway.yaml", testEnv)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "gateway.yaml:") {
			t.Errorf("%s: err = %v, want %q", c.opts, err, c.want)
		}
	}
}
