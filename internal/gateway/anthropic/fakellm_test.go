package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func startFake(t *testing.T) *fakellm.Server {
	t.Helper()
	s, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Match: "capital", Reply: "Paris is the capital."}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, url string, body []byte) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestAgainstFakeAnthropic sends translated OpenAI requests to the fake Anthropic upstream,
// which refuses what the real one refuses (no max_tokens, a system role message), and reads
// its answers back in OpenAI's shape.
func TestAgainstFakeAnthropic(t *testing.T) {
	fake := startFake(t)
	in := `{"model":"support-bot","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}`
	req, err := ChatToMessages([]byte(in), "claude-x")
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, fake.URL+"/messages", req)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("the fake refused the translated request: %d %s", resp.StatusCode, body)
	}
	out, u, err := MessagesResponseToChat(body, "support-bot")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Model   string
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := json.Unmarshal(out, &c); err != nil || c.Model != "support-bot" || c.Choices[0].Message.Content != "Paris is the capital." || u.OutputTokens != 4 {
		t.Fatalf("got %s, usage %+v", out, u)
	}

	var streamReq map[string]any
	_ = json.Unmarshal([]byte(in), &streamReq)
	streamReq["stream"] = true
	streamReq["stream_options"] = map[string]any{"include_usage": true}
	req, err = ChatToMessages(mustJSON(streamReq), "claude-x")
	if err != nil {
		t.Fatal(err)
	}
	resp = post(t, fake.URL+"/messages", req)
	var sse bytes.Buffer
	u, err = MessagesStreamToChat(&sse, nil, resp.Body, "support-bot", true)
	if err != nil {
		t.Fatal(err)
	}
	text := collectChatText(t, sse.String())
	if text != "Paris is the capital." || u.OutputTokens != 4 || !strings.HasSuffix(sse.String(), "data: [DONE]\n\n") {
		t.Fatalf("streamed %q, usage %+v:\n%s", text, u, sse.String())
	}

	fake.Enqueue(fakellm.Fault{CutStream: true})
	resp = post(t, fake.URL+"/messages", req)
	sse.Reset()
	if _, err = MessagesStreamToChat(&sse, nil, resp.Body, "support-bot", true); err == nil || !strings.Contains(sse.String(), `"error"`) {
		t.Fatalf("a cut stream: err %v, output\n%s", err, sse.String())
	}

	fake.Enqueue(fakellm.Fault{Status: 529})
	resp = post(t, fake.URL+"/messages", req)
	body, _ = io.ReadAll(resp.Body)
	var e openAIError
	if err := json.Unmarshal(ErrorToOpenAI(resp.StatusCode, body), &e); err != nil || StatusToOpenAI(resp.StatusCode) != 503 || e.Error.Type != "server_error" || e.Error.Message == "" {
		t.Fatalf("529 became %d %+v", StatusToOpenAI(resp.StatusCode), e)
	}
}

// TestAgainstFakeOpenAI sends a translated Anthropic request to the fake OpenAI upstream and
// reads its stream back as Anthropic events, usage included.
func TestAgainstFakeOpenAI(t *testing.T) {
	fake := startFake(t)
	in := `{"model":"claude-route","max_tokens":100,"system":"Be brief.","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"What is the capital of France?"}]}]}`
	req, err := MessagesToChat([]byte(in), "fake-1")
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, fake.URL+"/chat/completions", req)
	var sse bytes.Buffer
	u, err := ChatStreamToMessages(&sse, nil, resp.Body, "claude-route")
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, line := range strings.Split(sse.String(), "\n") {
		var ev struct {
			Delta struct{ Text string }
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(d), &ev) == nil {
			text.WriteString(ev.Delta.Text)
		}
	}
	if text.String() != "Paris is the capital." || u.OutputTokens != 4 || u.InputTokens == 0 {
		t.Fatalf("streamed %q, usage %+v:\n%s", text.String(), u, sse.String())
	}
}

// collectChatText joins the content deltas of an OpenAI chunk stream.
func collectChatText(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct{ Content string }
			}
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("a chunk is not JSON: %s", d)
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}
