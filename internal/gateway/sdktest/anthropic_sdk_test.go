package sdktest

// The official Anthropic Go SDK as a client of POST /v1/messages. It lives in this package,
// next to the openai-go tests, so that the test binary with both SDKs is compiled once.

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway"
)

// startAnthropic is a gateway with two routes: support-bot on an OpenAI upstream, claude
// on an Anthropic upstream (both fakes), and an Anthropic SDK client whose key is sent as
// x-api-key.
func startAnthropic(t *testing.T) (anthropic.Client, *fakellm.Server, *recorder) {
	t.Helper()
	up, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	yaml := `
providers:
  - {name: oai, type: openai, base_url: "` + up.URL + `", api_key_env: PRIMARY_API_KEY}
  - {name: anth, type: anthropic, base_url: "` + up.URL + `", api_key_env: BACKUP_API_KEY}
routes:
  - name: support-bot
    targets: [{provider: oai, model: fake-1}]
  - name: claude
    targets: [{provider: anth, model: fake-1}]
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`
	env := map[string]string{"PRIMARY_API_KEY": "sk-p-secret", "BACKUP_API_KEY": "sk-ant-secret", "TEAM_A_KEY": "team-a-secret"}
	cfg, err := gateway.Parse([]byte(yaml), "gateway.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	gw, err := gateway.New(cfg, gateway.Options{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	c := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("team-a-secret"), aoption.WithMaxRetries(0))
	return c, up, rec
}

func msgParams(model, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 100,
		System:    []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func TestAnthropicSDKPlain(t *testing.T) {
	c, _, rec := startAnthropic(t)
	for _, route := range []string{"support-bot", "claude"} {
		m, err := c.Messages.New(context.Background(), msgParams(route, "hello there"))
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != "echo: hello there" || m.StopReason != anthropic.StopReasonEndTurn || m.Usage.OutputTokens != 3 {
			t.Fatalf("%s: %+v", route, m)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.all) != 2 || rec.all[0].Endpoint != "messages" || rec.all[1].Provider != "anth" || rec.all[1].TokensOut != 3 {
		t.Fatalf("records %+v", rec.all)
	}
}

func TestAnthropicSDKStream(t *testing.T) {
	c, _, _ := startAnthropic(t)
	for _, route := range []string{"support-bot", "claude"} {
		stream := c.Messages.NewStreaming(context.Background(), msgParams(route, "a b c"))
		var m anthropic.Message
		for stream.Next() {
			if err := m.Accumulate(stream.Current()); err != nil {
				t.Fatalf("%s: %v", route, err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		if len(m.Content) != 1 || m.Content[0].Text != "echo: a b c" || m.StopReason != anthropic.StopReasonEndTurn || m.Usage.OutputTokens != 4 {
			t.Fatalf("%s: %+v", route, m)
		}
	}
}

// A stream cut by the upstream is an error for the SDK, through either kind of upstream.
func TestAnthropicSDKCutStream(t *testing.T) {
	c, up, _ := startAnthropic(t)
	for _, route := range []string{"support-bot", "claude"} {
		up.Enqueue(fakellm.Fault{CutStream: true})
		stream := c.Messages.NewStreaming(context.Background(), msgParams(route, strings.Repeat("word ", 300)))
		for stream.Next() {
		}
		if stream.Err() == nil {
			t.Fatalf("%s: a cut stream ended without an error", route)
		}
	}
}

func TestAnthropicSDKErrors(t *testing.T) {
	c, up, _ := startAnthropic(t)
	var apiErr *anthropic.Error
	_, err := c.Messages.New(context.Background(), msgParams("nope", "hi"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(err.Error(), "not_found_error") {
		t.Fatalf("unknown route: %v", err)
	}
	up.Enqueue(fakellm.Fault{Status: 529})
	_, err = c.Messages.New(context.Background(), msgParams("claude", "hi"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(err.Error(), "529") {
		t.Fatalf("529: %v", err)
	}
}
