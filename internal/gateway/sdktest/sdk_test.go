// Package sdktest checks the gateway with the official openai-go SDK as its client. The SDK
// takes a minute and gigabytes to compile, so every test that uses it lives in this file.
package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/store"
)

type recorder struct {
	mu  sync.Mutex
	all []store.Trace
}

func (r *recorder) Record(t store.Trace) { r.mu.Lock(); r.all = append(r.all, t); r.mu.Unlock() }

type setup struct {
	primary, backup *fakellm.Server
	client          openai.Client
	rec             *recorder
}

func start(t *testing.T) *setup {
	t.Helper()
	s := &setup{rec: &recorder{}}
	var err error
	if s.primary, err = fakellm.Start(fakellm.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.primary.Close)
	if s.backup, err = fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Reply: "from the backup"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.backup.Close)
	yaml := `
providers:
  - {name: primary, type: openai, base_url: "` + s.primary.URL + `", api_key_env: PRIMARY_API_KEY}
  - {name: backup, type: openai, base_url: "` + s.backup.URL + `", api_key_env: BACKUP_API_KEY}
routes:
  - name: support-bot
    targets:
      - {provider: primary, model: fake-1}
      - {provider: backup, model: fake-1}
    timeout_ms: 10000
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`
	env := map[string]string{"PRIMARY_API_KEY": "sk-p-secret", "BACKUP_API_KEY": "sk-b-secret", "TEAM_A_KEY": "team-a-secret"}
	cfg, err := gateway.Parse([]byte(yaml), "gateway.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, gateway.Options{Recorder: s.rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	s.client = openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("team-a-secret"), option.WithMaxRetries(0))
	return s
}

func params(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "support-bot",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

func TestSDKPlain(t *testing.T) {
	s := start(t)
	resp, err := s.client.Chat.Completions.New(context.Background(), params("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "echo: hello there" || resp.Usage.PromptTokens != 2 || resp.Usage.CompletionTokens != 3 {
		t.Fatalf("response = %+v", resp)
	}
	// Through a fallback, too.
	s.primary.Enqueue(fakellm.Fault{Status: 503})
	resp, err = s.client.Chat.Completions.New(context.Background(), params("hi"))
	if err != nil || resp.Choices[0].Message.Content != "from the backup" {
		t.Fatalf("after a 503: %v %+v", err, resp)
	}
}

func TestSDKStreaming(t *testing.T) {
	s := start(t)
	for _, include := range []bool{true, false} {
		p := params("one two three")
		if include {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		stream := s.client.Chat.Completions.NewStreaming(context.Background(), p)
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != "echo: one two three" || chunks < 4 {
			t.Fatalf("streamed %q in %d chunks", acc.Choices[0].Message.Content, chunks)
		}
		if include && (acc.Usage.PromptTokens != 3 || acc.Usage.CompletionTokens != 4) {
			t.Fatalf("usage = %+v", acc.Usage)
		}
		if !include && acc.Usage.TotalTokens != 0 {
			t.Fatalf("usage the client did not ask for: %+v", acc.Usage)
		}
	}
	// A stream that breaks off after its first event is an error the SDK reports.
	s.primary.Enqueue(fakellm.Fault{CutStream: true})
	stream := s.client.Chat.Completions.NewStreaming(context.Background(), params("a b c"))
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "broke off") {
		t.Fatalf("a cut stream gave %v", err)
	}
	// One that fails before its first event falls back.
	s.primary.Enqueue(fakellm.Fault{Status: 500})
	stream = s.client.Chat.Completions.NewStreaming(context.Background(), params("x"))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if stream.Err() != nil || acc.Choices[0].Message.Content != "from the backup" {
		t.Fatalf("fallback stream: %v %q", stream.Err(), acc.Choices[0].Message.Content)
	}
}

func TestSDKErrors(t *testing.T) {
	s := start(t)
	bad := openai.NewClient(option.WithBaseURL(s.clientBase(t)), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err := bad.Chat.Completions.New(context.Background(), params("hi"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || apiErr.Type != "invalid_request_error" {
		t.Fatalf("wrong key: %v", err)
	}
	p := params("hi")
	p.Model = "gpt-unknown"
	_, err = s.client.Chat.Completions.New(context.Background(), p)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || apiErr.Param != "model" {
		t.Fatalf("unknown model: %v", err)
	}
	s.primary.Enqueue(fakellm.Fault{Status: 503})
	s.backup.Enqueue(fakellm.Fault{Status: 503})
	_, err = s.client.Chat.Completions.New(context.Background(), params("hi"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || apiErr.Code != "upstream_error" {
		t.Fatalf("every target down: %v", err)
	}
}

// clientBase digs the gateway's URL out of a recorded request, for a second client.
func (s *setup) clientBase(t *testing.T) string {
	t.Helper()
	var base string
	_, err := s.client.Models.List(context.Background(), option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		base = strings.TrimSuffix(r.URL.String(), "models")
		return next(r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func TestSDKEmbeddingsAndModels(t *testing.T) {
	s := start(t)
	emb, err := s.client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "support-bot",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b", "c"}},
	})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[0].Embedding) != 64 || emb.Usage.PromptTokens != 3 {
		t.Fatalf("embeddings: %v %+v", err, emb)
	}
	page, err := s.client.Models.List(context.Background())
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != "support-bot" {
		t.Fatalf("models: %v %+v", err, page)
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if len(s.rec.all) != 1 || s.rec.all[0].Endpoint != "embeddings" || s.rec.all[0].TokensIn != 3 {
		t.Fatalf("records = %+v", s.rec.all)
	}
}

// A route's guard policy redacts the model's tool call arguments, which the SDK reads as
// valid JSON, streamed (held until the call is whole) and plain.
func TestSDKToolArguments(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
		{Match: "mail", ToolCalls: []fakellm.ToolCall{{Name: "send_email", Arguments: `{"to": "bob@example.com", "note": "card 4111 1111 1111 1111"}`}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	yaml := `
providers:
  - {name: primary, type: openai, base_url: "` + up.URL + `", api_key_env: PRIMARY_API_KEY}
policies:
  strict:
    output:
      - {detector: pii, options: {types: [credit_card, email]}, action: redact}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
    policy: strict
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`
	env := map[string]string{"PRIMARY_API_KEY": "sk-p-secret", "TEAM_A_KEY": "team-a-secret"}
	cfg, err := gateway.Parse([]byte(yaml), "gateway.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("team-a-secret"), option.WithMaxRetries(0))
	want := map[string]any{"to": "<EMAIL>", "note": "card <CREDIT_CARD>"}

	stream := client.Chat.Completions.NewStreaming(context.Background(), params("mail"))
	var acc openai.ChatCompletionAccumulator
	finished := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if _, ok := acc.JustFinishedToolCall(); ok {
			finished++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	var got map[string]any
	if len(calls) != 1 || calls[0].Function.Name != "send_email" || json.Unmarshal([]byte(calls[0].Function.Arguments), &got) != nil ||
		!reflect.DeepEqual(got, want) || acc.Choices[0].FinishReason != "tool_calls" || finished != 1 {
		t.Fatalf("streamed: %+v finished %d", acc.Choices[0], finished)
	}

	resp, err := client.Chat.Completions.New(context.Background(), params("mail"))
	if err != nil {
		t.Fatal(err)
	}
	calls = resp.Choices[0].Message.ToolCalls
	got = nil
	if len(calls) != 1 || json.Unmarshal([]byte(calls[0].Function.Arguments), &got) != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("plain: %+v", resp.Choices[0].Message)
	}
}
