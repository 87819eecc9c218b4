package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// anthropicPrimary is the config with an Anthropic primary and an OpenAI backup.
var anthropicPrimary = strings.Replace(noLimits(twoTargets), "  - name: primary\n    type: openai", "  - name: primary\n    type: anthropic", 1) +
	"prices:\n  fake-1: {input: 1000, output: 2000}\n"

// postMessages sends an Anthropic Messages request with the key in x-api-key.
func (h *harness) postMessages(key, body string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestOpenAIClientAnthropicUpstream(t *testing.T) {
	h := newHarness(t, anthropicPrimary)
	status, _, out := h.call("/v1/chat/completions", teamAKey,
		`{"model":"support-bot","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello <script>alert(1)</script>"}]}`)
	if status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	var v struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Object != "chat.completion" || len(v.Choices) != 1 ||
		v.Choices[0].Message.Content != "echo: hello <script>alert(1)</script>" || v.Choices[0].FinishReason != "stop" || v.Usage.CompletionTokens != 3 {
		t.Fatalf("answer: %s", out)
	}
	seen := h.primary.Requests()
	if len(seen) != 1 || seen[0].Path != "/v1/messages" || seen[0].Header.Get("X-Api-Key") != primaryKey ||
		seen[0].Header.Get("Anthropic-Version") != anthropicVersion || seen[0].Header.Get("Authorization") != "" {
		t.Fatalf("upstream request: %+v", seen)
	}
	var up struct {
		Model     string
		System    any
		MaxTokens int `json:"max_tokens"`
	}
	_ = json.Unmarshal(seen[0].Body, &up)
	if up.Model != "fake-1" || up.MaxTokens != 4096 || up.System == nil {
		t.Fatalf("upstream body: %s", seen[0].Body)
	}
	tr := h.record(1)
	// Usage reaches the record, the limits and the cost: $1000/M in, $2000/M out.
	if tr.Provider != "primary" || tr.TokensIn != v.Usage.PromptTokens || tr.TokensOut != 3 ||
		tr.CostUSD != (float64(tr.TokensIn)*1000+3*2000)/1e6 {
		t.Fatalf("record: %+v", tr)
	}
}

func TestOpenAIClientAnthropicStream(t *testing.T) {
	h := newHarness(t, anthropicPrimary)
	resp := h.post("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b c"}]}`)
	events := readEvents(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("%d %v", resp.StatusCode, events)
	}
	var text strings.Builder
	var usage struct {
		CompletionTokens int `json:"completion_tokens"`
	}
	for _, e := range events[:len(events)-1] {
		var c struct {
			Object  string
			Choices []struct{ Delta struct{ Content string } }
			Usage   *struct {
				CompletionTokens int `json:"completion_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(e), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("event %s", e)
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
		}
		if c.Usage != nil {
			usage.CompletionTokens = c.Usage.CompletionTokens
		}
	}
	if text.String() != "echo: a b c" || usage.CompletionTokens != 4 {
		t.Fatalf("text %q usage %d: %v", text.String(), usage.CompletionTokens, events)
	}
	if tr := h.record(1); tr.TokensOut != 4 || tr.TTFTMS == nil || !tr.Stream {
		t.Fatalf("record %+v", tr)
	}
}

// An Anthropic stream cut mid-way ends the client's stream with one error event, no [DONE].
func TestOpenAIClientAnthropicCutStream(t *testing.T) {
	h := newHarness(t, anthropicPrimary)
	h.primary.Enqueue(fakellm.Fault{CutStream: true})
	resp := h.post("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("word ", 200)+`"}]}`)
	events := readEvents(t, resp.Body)
	resp.Body.Close()
	errs := 0
	for _, e := range events {
		if strings.HasPrefix(e, `{"error"`) {
			errs++
		}
		if e == "[DONE]" {
			t.Fatalf("a cut stream ended with [DONE]: %v", events)
		}
	}
	if resp.StatusCode != 200 || errs != 1 || !strings.HasPrefix(events[len(events)-1], `{"error"`) {
		t.Fatalf("%d, %d error events: %v", resp.StatusCode, errs, events)
	}
	if tr := h.record(1); tr.ErrorCode != "upstream_stream_cut" || h.backup.Count() != 0 {
		t.Fatalf("record %+v, backup calls %d", tr, h.backup.Count())
	}
}

// 529 (Anthropic overloaded) is an upstream failure: the call falls back to the OpenAI
// target; without one the client gets 502 naming the 529.
func TestAnthropic529FallsBackToOpenAI(t *testing.T) {
	h := newHarness(t, anthropicPrimary)
	h.primary.Enqueue(fakellm.Fault{Status: 529})
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 200 || !strings.Contains(out, "from backup") {
		t.Fatalf("%d %s", status, out)
	}
	tr := h.record(1)
	if len(tr.Attempts) != 2 || tr.Attempts[0].Status != 529 || tr.Provider != "backup" || tr.Fallbacks != 1 {
		t.Fatalf("record %+v", tr)
	}
	// Streams fall back too, before their first event.
	h.primary.Enqueue(fakellm.Fault{Status: 529})
	resp := h.post("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	events := readEvents(t, resp.Body)
	resp.Body.Close()
	if !strings.Contains(strings.Join(events, ""), `"from"},`) || !strings.Contains(strings.Join(events, ""), `" backup"},`) || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream after 529: %v", events)
	}
	// The request's own fault (400) is passed on in OpenAI's shape, without fallback.
	h.primary.Enqueue(fakellm.Fault{Status: 400})
	before := h.backup.Count()
	status, _, out = h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if typ, _, _ := apiErr(t, out); status != 400 || typ != "invalid_request_error" || h.backup.Count() != before {
		t.Fatalf("400: %d %s", status, out)
	}
	// What Anthropic cannot express is refused with the field named, before any call.
	calls := h.primary.Count()
	status, _, out = h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","n":2,"messages":[{"role":"user","content":"hi"}]}`)
	var e struct{ Error struct{ Param string } }
	_ = json.Unmarshal([]byte(out), &e)
	if status != 400 || e.Error.Param != "n" || h.primary.Count() != calls {
		t.Fatalf("n=2: %d %s", status, out)
	}
	// Anthropic only: 529 everywhere is a 502 that names it.
	h2 := newHarness(t, strings.Replace(anthropicPrimary, "      - provider: backup\n        model: fake-1\n", "", 1))
	h2.primary.Enqueue(fakellm.Fault{Status: 529})
	status, _, out = h2.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if _, code, msg := apiErr(t, out); status != 502 || code != "upstream_error" || !strings.Contains(msg, "primary/fake-1: 529") {
		t.Fatalf("%d %s", status, out)
	}
}

// An Anthropic client in front of an OpenAI upstream: translated both ways.
func TestMessagesClientOpenAIUpstream(t *testing.T) {
	h := newHarness(t, noLimits(twoTargets))
	resp, out := h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":"hi <b>"}]}`)
	var m struct {
		Type       string
		Role       string
		Content    []struct{ Type, Text string }
		StopReason string `json:"stop_reason"`
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || resp.StatusCode != 200 || m.Type != "message" || len(m.Content) != 1 ||
		m.Content[0].Text != "echo: hi <b>" || m.StopReason != "end_turn" || m.Usage.OutputTokens != 3 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	seen := h.primary.Requests()
	if seen[0].Path != "/v1/chat/completions" || !strings.Contains(string(seen[0].Body), `"role":"system"`) {
		t.Fatalf("upstream got %s %s", seen[0].Path, seen[0].Body)
	}
	if tr := h.record(1); tr.Endpoint != "messages" || tr.TokensOut != 3 || !strings.Contains(tr.RequestBody, `"system":"be brief"`) {
		t.Fatalf("record %+v", tr)
	}
	// Streamed.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/messages", strings.NewReader(`{"model":"support-bot","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"a b"}]}`))
	req.Header.Set("Authorization", "Bearer "+teamAKey) // Bearer works too
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	s := string(body)
	for _, want := range []string{"event: message_start", `"text_delta","text":"echo:"`, `"text_delta","text":" b"`, "event: message_delta", `"output_tokens":3`, "event: message_stop"} {
		if !strings.Contains(s, want) {
			t.Errorf("stream lacks %s:\n%s", want, s)
		}
	}
	if tr := h.record(2); tr.TokensOut != 3 || !tr.Stream {
		t.Fatalf("record %+v", tr)
	}
	// Errors come in Anthropic's shape: unknown route, and the upstream's 4xx.
	resp, out = h.postMessages(teamAKey, `{"model":"nope","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 404 || !strings.Contains(out, `"type":"error"`) || !strings.Contains(out, `"not_found_error"`) {
		t.Fatalf("unknown route: %d %s", resp.StatusCode, out)
	}
	h.primary.Enqueue(fakellm.Fault{Status: 400})
	resp, out = h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 400 || !strings.Contains(out, `"invalid_request_error"`) || !strings.Contains(out, `"type":"error"`) {
		t.Fatalf("upstream 400: %d %s", resp.StatusCode, out)
	}
	// What OpenAI cannot express is refused, naming the field.
	resp, out = h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":10,"top_k":5,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 400 || !strings.Contains(out, "top_k") {
		t.Fatalf("top_k: %d %s", resp.StatusCode, out)
	}
}

// An Anthropic client in front of an Anthropic upstream: passed through as it is.
func TestMessagesClientAnthropicPassThrough(t *testing.T) {
	cfg := strings.Replace(anthropicPrimary, "      - provider: backup\n        model: fake-1\n", "", 1)
	h := newHarness(t, cfg)
	in := `{"model":"support-bot","max_tokens":50,"top_k":5,"x_future_field":{"a":1},"messages":[{"role":"user","content":"hi"}]}`
	resp, out := h.postMessages(teamAKey, in)
	if resp.StatusCode != 200 || !strings.Contains(out, `"type":"message"`) || !strings.Contains(out, "echo: hi") {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	seen := h.primary.Requests()
	var got, want map[string]any
	_ = json.Unmarshal(seen[0].Body, &got)
	_ = json.Unmarshal([]byte(strings.Replace(in, `"support-bot"`, `"fake-1"`, 1)), &want)
	if gb, _ := json.Marshal(got); string(gb) != mustMarshal(want) || seen[0].Header.Get("X-Api-Key") != primaryKey {
		t.Fatalf("upstream got %s", seen[0].Body)
	}
	if tr := h.record(1); tr.TokensOut != 2 || tr.CostUSD == 0 {
		t.Fatalf("record %+v", tr)
	}
	// A stream passes through event by event, usage counted.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/messages", strings.NewReader(`{"model":"support-bot","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x y"}]}`))
	req.Header.Set("x-api-key", teamAKey)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if !strings.Contains(string(body), "event: message_start") || !strings.HasSuffix(strings.TrimSpace(string(body)), `{"type":"message_stop"}`) {
		t.Fatalf("stream:\n%s", body)
	}
	if tr := h.record(2); tr.TokensOut != 3 {
		t.Fatalf("record %+v", tr)
	}
	// A cut stream ends with one Anthropic error event.
	h.primary.Enqueue(fakellm.Fault{CutStream: true})
	req, _ = http.NewRequest(http.MethodPost, h.srv.URL+"/v1/messages", strings.NewReader(`{"model":"support-bot","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("w ", 200)+`"}]}`))
	req.Header.Set("x-api-key", teamAKey)
	r3, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r3.Body)
	r3.Body.Close()
	if strings.Count(string(body), "event: error") != 1 || strings.Contains(string(body), "message_stop") {
		t.Fatalf("cut stream:\n%s", body)
	}
	// A 529 is passed on in Anthropic's shape after the route's targets are spent.
	h.primary.Enqueue(fakellm.Fault{Status: 529})
	resp, out = h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 502 || !strings.Contains(out, `"type":"error"`) || !strings.Contains(out, "529") {
		t.Fatalf("529: %d %s", resp.StatusCode, out)
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A plain answer from an Anthropic upstream names the upstream's model whether or not the
// route's guard policy rewrote it.
func TestMessagesModelNameKeptWhenGuarded(t *testing.T) {
	for _, reply := range []string{"All is well.", "Your card 4111 1111 1111 1111 is on file."} {
		h, _ := policyGatewayUp(t, "anthropic", guardPolicies, "strict", reply, nil)
		resp, out := h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)
		var m struct{ Model string }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &m) != nil || m.Model != "fake-1" || strings.Contains(out, "4111") {
			t.Fatalf("%q: %d %s", reply, resp.StatusCode, out)
		}
	}
}

// On a route whose only target is Anthropic but which has a guard policy, errors name the
// real reason: the policy needs the translation (top_k), max_tokens is required by any
// route, and embeddings are refused with 400, not tried and failed with 502.
func TestMessagesAnthropicOnlyRouteErrors(t *testing.T) {
	cfg := strings.Replace(anthropicPrimary, "      - provider: backup\n        model: fake-1\n", "", 1)
	cfg = strings.Replace(cfg, "keys:", guardPolicies, 1)
	cfg = strings.Replace(cfg, "    timeout_ms: 10000\n", "    timeout_ms: 10000\n    policy: strict\n", 1)
	h := newHarness(t, cfg)
	msg := func(out string) string {
		var e struct{ Error struct{ Message string } }
		_ = json.Unmarshal([]byte(out), &e)
		return e.Error.Message
	}
	resp, out := h.postMessages(teamAKey, `{"model":"support-bot","max_tokens":10,"top_k":5,"messages":[{"role":"user","content":"hi"}]}`)
	if m := msg(out); resp.StatusCode != 400 || strings.Count(m, "top_k") != 1 || !strings.Contains(m, "guard steps") || strings.Contains(m, "OpenAI-compatible target") {
		t.Fatalf("top_k: %d %s", resp.StatusCode, out)
	}
	resp, out = h.postMessages(teamAKey, `{"model":"support-bot","messages":[{"role":"user","content":"hi"}]}`)
	if m := msg(out); resp.StatusCode != 400 || !strings.HasPrefix(m, "max_tokens: is required") || strings.Count(m, "max_tokens:") != 1 || strings.Contains(m, "OpenAI-compatible target") {
		t.Fatalf("max_tokens: %d %s", resp.StatusCode, out)
	}
	status, _, out := h.call("/v1/embeddings", teamAKey, `{"model":"support-bot","input":"x"}`)
	if _, code, m := apiErr(t, out); status != 400 || code != "embeddings_unsupported" || !strings.Contains(m, "no embeddings API") {
		t.Fatalf("embeddings: %d %s", status, out)
	}
	if n := len(h.primary.Requests()); n != 0 {
		t.Fatalf("the upstream was called %d times", n)
	}
}
