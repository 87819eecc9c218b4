package sdktest

// The official Anthropic Go SDK as a client of POST /v1/messages. It lives in this package,
// next to the openai-go tests, so that the test binary with both SDKs is compiled once.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/store"
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
	rec := &recorder{}
	return anthropicClient(t, yaml, gateway.Options{Recorder: rec}), up, rec
}

// anthropicClient starts a gateway with the config yaml (its keys in PRIMARY_API_KEY,
// BACKUP_API_KEY and TEAM_A_KEY) and returns an Anthropic SDK client of it, as team-a.
func anthropicClient(t *testing.T, yaml string, opt gateway.Options) anthropic.Client {
	t.Helper()
	env := map[string]string{"PRIMARY_API_KEY": "sk-p-secret", "BACKUP_API_KEY": "sk-ant-secret", "TEAM_A_KEY": "team-a-secret"}
	cfg, err := gateway.Parse([]byte(yaml), "gateway.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("team-a-secret"), aoption.WithMaxRetries(0))
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

// memApprovals keeps the tool calls a route's tool policy holds.
type memApprovals struct {
	mu   sync.Mutex
	held []store.NewApproval
}

func (m *memApprovals) CreateApproval(_ context.Context, _ string, a store.NewApproval) (store.Approval, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held = append(m.held, a)
	return store.Approval{ID: int64(len(m.held)), Tool: a.Tool, CallID: a.CallID, Args: a.Args, ArgsHash: a.ArgsHash,
		Rule: a.Rule, RuleReason: a.RuleReason, Status: store.ApprovalPending, ExpiresAt: a.ExpiresAt}, nil
}

// Streamed answers through routes with a guard policy and a tool policy, read by the SDK:
// redacted text, a block as the stream's error, allowed tool calls whole, held ones out.
func TestAnthropicSDKStreamPolicies(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
		{Match: "card", Reply: "Your card 4111 1111 1111 1111 is on file."},
		{Match: "key", Reply: "The key is sk-proj-abcdefghijklmnopqrstuvwxyz0123, keep it."},
		{Match: "search", Reply: "Searching.", ToolCalls: []fakellm.ToolCall{{Name: "search_orders", Arguments: `{"q": "x"}`}}},
		{Match: "pay", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 250, "to": "acme"}`}}},
		{Match: "order", ToolCalls: []fakellm.ToolCall{{Name: "search_orders", Arguments: `{"q": "paid with 4111 1111 1111 1111"}`}}},
		{Match: "leak", ToolCalls: []fakellm.ToolCall{{Name: "search_orders", Arguments: `{"q": "sk-proj-abcdefghijklmnopqrstuvwxyz0123"}`}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	route := `
    policy: strict
    tools:
      allow: [search_orders]
      approve:
        - {tool: make_payment, name: payments, above: {amount: 100}}`
	yaml := `
providers:
  - {name: oai, type: openai, base_url: "` + up.URL + `", api_key_env: PRIMARY_API_KEY}
  - {name: anth, type: anthropic, base_url: "` + up.URL + `", api_key_env: BACKUP_API_KEY}
policies:
  strict:
    output:
      - {detector: secrets, action: block, message: No keys in answers.}
      - {detector: pii, options: {types: [credit_card]}, action: redact}
routes:
  - name: support-bot
    targets: [{provider: oai, model: fake-1}]` + route + `
  - name: claude
    targets: [{provider: anth, model: fake-1}]` + route + `
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`
	approvals := &memApprovals{}
	c := anthropicClient(t, yaml, gateway.Options{Approvals: approvals})
	stream := func(route, text string) (anthropic.Message, error) {
		s := c.Messages.NewStreaming(context.Background(), msgParams(route, text))
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				t.Fatalf("%s %s: %v", route, text, err)
			}
		}
		return m, s.Err()
	}
	for i, route := range []string{"support-bot", "claude"} {
		m, err := stream(route, "card")
		if err != nil || len(m.Content) != 1 || m.Content[0].Text != "Your card <CREDIT_CARD> is on file." || m.StopReason != anthropic.StopReasonEndTurn {
			t.Fatalf("%s card: %v %+v", route, err, m)
		}
		m, err = stream(route, "key")
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "No keys in answers.") || strings.Contains(err.Error(), "abcdefghij") {
			t.Fatalf("%s key: %v %+v", route, err, m)
		}
		m, err = stream(route, "search")
		if err != nil || len(m.Content) != 2 || m.Content[0].Text != "Searching." || m.Content[1].Type != "tool_use" ||
			m.Content[1].Name != "search_orders" || string(m.Content[1].Input) != `{"q": "x"}` || m.StopReason != anthropic.StopReasonToolUse {
			t.Fatalf("%s search: %v %+v", route, err, m)
		}
		// Tool call arguments: redacted in their JSON, or blocked.
		m, err = stream(route, "order")
		if err != nil || len(m.Content) != 1 || m.Content[0].Type != "tool_use" || string(m.Content[0].Input) != `{"q":"paid with <CREDIT_CARD>"}` {
			t.Fatalf("%s order: %v %+v", route, err, m)
		}
		m, err = stream(route, "leak")
		if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "No keys in answers.") || strings.Contains(err.Error(), "abcdefghij") {
			t.Fatalf("%s leak: %v %+v", route, err, m)
		}
		m, err = stream(route, "pay")
		want := fmt.Sprintf("Held for human approval: make_payment (approval #%d).", i+1)
		if err != nil || len(m.Content) != 1 || m.Content[0].Type != "text" || m.Content[0].Text != want || m.StopReason != anthropic.StopReasonEndTurn || len(approvals.held) != i+1 {
			t.Fatalf("%s pay: %v %+v", route, err, m)
		}
	}
}
