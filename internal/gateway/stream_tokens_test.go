package gateway

import (
	"strings"
	"testing"
)

// TestBlockedStreamTokens: a stream the guard policy ends mid-way has no usage from the
// upstream, so the gateway estimates it; the estimate must be of the answer's text, not of
// the raw server-sent events (JSON envelopes included), which is what tpm, the budget, the
// cost and the traffic page are charged today (about 15 times the text).
func TestBlockedStreamTokens(t *testing.T) {
	reply := strings.Repeat("All is well. ", 30) + "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123 enjoy"
	h := policyHarness(t, reply)
	status, _, out := h.call("/v1/chat/completions", teamAKey, streamChat("hi"))
	if _, done, errEv := streamed(t, out); status != 200 || done || errEv == "" {
		t.Fatalf("want the stream blocked: %d\n%s", status, out)
	}
	// The whole answer is about 600 characters, at most ~150 tokens at four characters a token.
	if tr := h.record(1); tr.TokensOut > len(reply)/4+10 {
		t.Fatalf("a blocked stream of %d characters is recorded (and charged) as %d output tokens", len(reply), tr.TokensOut)
	}
}

// TestStreamTextBytes: the text of OpenAI and Anthropic events, scaled when the capture
// holds only part of what was sent.
func TestStreamTextBytes(t *testing.T) {
	openai := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n"
	anthropic := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\n\n"
	for _, tc := range []struct {
		captured string
		sent     int
		want     int
	}{
		{openai, len(openai), 5 + 7},
		{anthropic, len(anthropic), 8},
		{openai, 2 * len(openai), 2 * (5 + 7)},
		{"", 1000, 100},
		{"data: [DONE]\n\n", 14, 0},
	} {
		if got := streamTextBytes([]byte(tc.captured), tc.sent); got != tc.want {
			t.Errorf("streamTextBytes(%q, %d) = %d, want %d", tc.captured, tc.sent, got, tc.want)
		}
	}
}
