package provider

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// plantedKey is an API key that must never show up in a message, a result or a file.
const plantedKey = "sk-test-PLANTED-123"

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func withKey() Options {
	return Options{Getenv: envOf(map[string]string{"OPENAI_API_KEY": plantedKey, "ANTHROPIC_API_KEY": plantedKey})}
}

func startFake(t *testing.T, opts fakellm.Options) *fakellm.Server {
	t.Helper()
	s, err := fakellm.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustNew(t *testing.T, cfg Config, opts Options) Provider {
	t.Helper()
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func userReq(text string) *Request {
	return &Request{Prompt: text, Messages: []Message{{Role: "user", Content: text}}}
}

// bodyOf decodes the JSON body of the i-th request the fake server saw.
func bodyOf(t *testing.T, s *fakellm.Server, i int) map[string]any {
	t.Helper()
	seen := s.Requests()
	if len(seen) <= i {
		t.Fatalf("server saw %d requests, want more than %d", len(seen), i)
	}
	var m map[string]any
	if err := json.Unmarshal(seen[i].Body, &m); err != nil {
		t.Fatalf("request body is not JSON: %v", err)
	}
	return m
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	return e
}

func TestOpenAIChat(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "stream"}[stream], func(t *testing.T) {
			s := startFake(t, fakellm.Options{Rules: []fakellm.Rule{{Match: "capital of France", Reply: "The capital of France is Paris."}}})
			p := mustNew(t, Config{
				Type: "openai", Model: "gpt-4o-mini", BaseURL: s.URL, Stream: stream,
				Params: Params{Temperature: ptr(0.0), MaxTokens: ptr(50), Seed: ptr(7), Stop: []string{"\n\n"}, Extra: map[string]any{"user": "plumb-test"}},
			}, withKey())
			req := &Request{Prompt: "What is the capital of France?", Messages: []Message{
				{Role: "system", Content: "Answer briefly."},
				{Role: "user", Content: "What is the capital of France?"},
			}}
			resp, err := p.Call(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Output != "The capital of France is Paris." {
				t.Errorf("output = %q", resp.Output)
			}
			// The fake counts words: 2 + 6 prompt words, 6 reply words.
			want := Usage{PromptTokens: 8, CompletionTokens: 6, TotalTokens: 14}
			if resp.Usage != want {
				t.Errorf("usage = %+v, want %+v", resp.Usage, want)
			}
			wantCost := (8*0.15 + 6*0.60) / 1e6
			if math.Abs(resp.Cost-wantCost) > 1e-15 {
				t.Errorf("cost = %g, want %g", resp.Cost, wantCost)
			}
			if resp.Latency <= 0 || resp.Replayed {
				t.Errorf("latency = %v, replayed = %v", resp.Latency, resp.Replayed)
			}
			seen := s.Requests()[0]
			if got := seen.Header.Get("Authorization"); got != "Bearer "+plantedKey {
				t.Errorf("Authorization header = %q", got)
			}
			b := bodyOf(t, s, 0)
			if b["model"] != "gpt-4o-mini" || b["temperature"] != 0.0 || b["max_tokens"] != 50.0 || b["seed"] != 7.0 || b["user"] != "plumb-test" {
				t.Errorf("params not sent: %v", b)
			}
			if stop, _ := b["stop"].([]any); len(stop) != 1 || stop[0] != "\n\n" {
				t.Errorf("stop = %v", b["stop"])
			}
			if stream {
				so, _ := b["stream_options"].(map[string]any)
				if b["stream"] != true || so["include_usage"] != true {
					t.Errorf("stream flags not sent: %v", b)
				}
			} else if _, ok := b["stream"]; ok {
				t.Errorf("plain call sent stream: %v", b)
			}
		})
	}
}

func TestOpenAIReasoningModelsGetMaxCompletionTokens(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	p := mustNew(t, Config{Type: "openai", Model: "o4-mini", BaseURL: s.URL, Params: Params{MaxTokens: ptr(100)}}, withKey())
	if _, err := p.Call(context.Background(), userReq("hi")); err != nil {
		t.Fatal(err)
	}
	b := bodyOf(t, s, 0)
	if b["max_completion_tokens"] != 100.0 || b["max_tokens"] != nil {
		t.Errorf("o4-mini body = %v, want max_completion_tokens only", b)
	}
}

func TestAnthropicMessages(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "stream"}[stream], func(t *testing.T) {
			s := startFake(t, fakellm.Options{Rules: []fakellm.Rule{{Match: "/refund/", Reply: "Refunds take five days."}}})
			p := mustNew(t, Config{Type: "anthropic", Model: "claude-3-5-haiku-20241022", BaseURL: s.URL, Stream: stream,
				Params: Params{Temperature: ptr(0.2), Seed: ptr(1), Stop: []string{"END"}}}, withKey())
			req := &Request{Messages: []Message{
				{Role: "system", Content: "You are a support agent."},
				{Role: "user", Content: "How long does a refund take?"},
			}}
			resp, err := p.Call(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Output != "Refunds take five days." {
				t.Errorf("output = %q", resp.Output)
			}
			want := Usage{PromptTokens: 5 + 6, CompletionTokens: 4, TotalTokens: 15}
			if resp.Usage != want {
				t.Errorf("usage = %+v, want %+v", resp.Usage, want)
			}
			if wantCost := (11*0.80 + 4*4.0) / 1e6; math.Abs(resp.Cost-wantCost) > 1e-15 {
				t.Errorf("cost = %g, want %g", resp.Cost, wantCost)
			}
			h := s.Requests()[0].Header
			if h.Get("x-api-key") != plantedKey || h.Get("anthropic-version") != "2023-06-01" || h.Get("Authorization") != "" {
				t.Errorf("headers = %v", h)
			}
			b := bodyOf(t, s, 0)
			if b["system"] != "You are a support agent." {
				t.Errorf("system = %v, want the system message at top level", b["system"])
			}
			if msgs := b["messages"].([]any); len(msgs) != 1 {
				t.Errorf("messages = %v, want only the user message", msgs)
			}
			if b["max_tokens"] != 1024.0 || b["seed"] != nil || b["temperature"] != 0.2 {
				t.Errorf("body = %v, want max_tokens 1024 by default, no seed", b)
			}
			if ss, _ := b["stop_sequences"].([]any); len(ss) != 1 || ss[0] != "END" {
				t.Errorf("stop_sequences = %v", b["stop_sequences"])
			}
		})
	}
}

func TestAnthropicCachedTokensCount(t *testing.T) {
	u := anthropicUsage{InputTokens: 10, OutputTokens: 5, CacheReadInputTokens: 1000, CacheCreationInputTokens: 0}
	got := u.usage()
	if got.PromptTokens != 1010 || got.CachedTokens != 1000 || got.CompletionTokens != 5 {
		t.Fatalf("usage = %+v", got)
	}
	p, _ := DefaultPrice("claude-sonnet-4-20250514")
	if c, want := Cost(p, got), (10*3+1000*0.30+5*15)/1e6; math.Abs(c-want) > 1e-15 {
		t.Errorf("cost = %g, want %g (cached tokens at the cache-read price)", c, want)
	}
}

func cosine(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

func TestEmbeddings(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	for _, typ := range []string{"openai-embedding", "openai"} {
		t.Run(typ, func(t *testing.T) {
			e, err := NewEmbedder(Config{Type: typ, Model: "text-embedding-3-small", BaseURL: s.URL}, withKey())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a, u, err := e.Embed(ctx, "the refund takes five business days")
			if err != nil {
				t.Fatal(err)
			}
			b, _, _ := e.Embed(ctx, "a refund takes five days")
			c, _, _ := e.Embed(ctx, "purple elephants dance at midnight")
			if len(a) != 64 || u.PromptTokens != 6 || u.TotalTokens != 6 {
				t.Errorf("len = %d, usage = %+v", len(a), u)
			}
			if ab, ac := cosine(a, b), cosine(a, c); ab <= ac || ab < 0.5 {
				t.Errorf("cos(similar) = %.2f, cos(unrelated) = %.2f: similar texts should be closer", ab, ac)
			}
		})
	}
	if _, err := NewEmbedder(Config{Type: "anthropic", Model: "x"}, withKey()); err == nil {
		t.Error("anthropic embedder: want an error")
	}
}

func TestRetriesAndFailures(t *testing.T) {
	tests := []struct {
		name       string
		faults     []fakellm.Fault
		cfg        Config
		wantOutput string
		wantKind   string
		wantStatus int
		wantCount  int
		wantMsg    string
		wantCode   string
		minWait    time.Duration
		maxWait    time.Duration
	}{
		{name: "503 then success", faults: []fakellm.Fault{{Status: 503}}, wantOutput: "echo: hello", wantCount: 2},
		{name: "429 Retry-After honoured", faults: []fakellm.Fault{{Status: 429, RetryAfter: "1"}}, wantOutput: "echo: hello", wantCount: 2, minWait: time.Second},
		{name: "408 and 409 retried", faults: []fakellm.Fault{{Status: 408}, {Status: 409}}, wantOutput: "echo: hello", wantCount: 3},
		{name: "cut stream retried", faults: []fakellm.Fault{{CutStream: true}}, cfg: Config{Stream: true}, wantOutput: "echo: hello", wantCount: 2},
		{name: "no retry on 400", faults: []fakellm.Fault{{Status: 400}}, wantKind: KindClient, wantStatus: 400, wantCount: 1},
		{name: "the vendor's error code kept", faults: []fakellm.Fault{{Status: 400, Body: `{"error": {"message": "Blocked by guard.", "type": "invalid_request_error", "code": "content_blocked"}}`}},
			wantKind: KindClient, wantStatus: 400, wantCount: 1, wantMsg: "HTTP 400: Blocked by guard.", wantCode: "content_blocked"},
		{name: "no retry on 404", faults: []fakellm.Fault{{Status: 404}}, wantKind: KindClient, wantStatus: 404, wantCount: 1, wantMsg: `check the model name "gpt-4o-mini"`},
		{name: "no retry on 422", faults: []fakellm.Fault{{Status: 422}}, wantKind: KindClient, wantStatus: 422, wantCount: 1},
		{name: "401 names the env var", faults: []fakellm.Fault{{Status: 401}}, wantKind: KindAuth, wantStatus: 401, wantCount: 1, wantMsg: "check the API key in $OPENAI_API_KEY"},
		{name: "403 not retried", faults: []fakellm.Fault{{Status: 403}}, wantKind: KindAuth, wantStatus: 403, wantCount: 1},
		{name: "retries bounded", faults: []fakellm.Fault{{Status: 500, Times: 10}}, cfg: Config{MaxRetries: 2}, wantKind: KindServer, wantStatus: 500, wantCount: 3, wantMsg: "gave up after 3 attempts"},
		{name: "Retry-After beyond budget gives up at once", faults: []fakellm.Fault{{Status: 429, RetryAfter: "120"}}, cfg: Config{RetryBudget: 10 * time.Second}, wantKind: KindRateLimited, wantStatus: 429, wantCount: 1, maxWait: time.Second, wantMsg: "beyond the retry budget"},
		{name: "hang bounded by timeout", faults: []fakellm.Fault{{Hang: true, Times: 10}}, cfg: Config{Timeout: 200 * time.Millisecond, MaxRetries: 1}, wantKind: KindTimeout, wantCount: 2, maxWait: 1500 * time.Millisecond},
		{name: "cut stream is an error", faults: []fakellm.Fault{{CutStream: true, Times: 10}}, cfg: Config{Stream: true, MaxRetries: -1}, wantKind: KindConnection, wantCount: 1, wantMsg: "broke before the answer was complete"},
		{name: "cut plain body is an error", faults: []fakellm.Fault{{CutStream: true, Times: 10}}, cfg: Config{MaxRetries: -1}, wantKind: KindConnection, wantCount: 1},
		{name: "malformed JSON", faults: []fakellm.Fault{{Malformed: true}}, wantKind: KindMalformed, wantCount: 1, wantMsg: "not valid JSON"},
		{name: "malformed stream chunk", faults: []fakellm.Fault{{Malformed: true}}, cfg: Config{Stream: true}, wantKind: KindMalformed, wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, fakellm.Options{})
			for _, f := range tt.faults {
				s.Enqueue(f)
			}
			cfg := tt.cfg
			cfg.Type, cfg.Model, cfg.BaseURL = "openai", "gpt-4o-mini", s.URL
			p := mustNew(t, cfg, withKey())
			began := time.Now()
			resp, err := p.Call(context.Background(), userReq("hello"))
			took := time.Since(began)
			if tt.wantKind == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Output != tt.wantOutput {
					t.Errorf("output = %q, want %q", resp.Output, tt.wantOutput)
				}
			} else {
				e := asError(t, err)
				if e.Kind != tt.wantKind || e.Status != tt.wantStatus {
					t.Errorf("kind, status = %s, %d, want %s, %d (%v)", e.Kind, e.Status, tt.wantKind, tt.wantStatus, e)
				}
				if !strings.Contains(e.Error(), tt.wantMsg) {
					t.Errorf("message %q does not contain %q", e.Error(), tt.wantMsg)
				}
				if tt.wantCode != "" && e.Code != tt.wantCode {
					t.Errorf("code %q, want %q", e.Code, tt.wantCode)
				}
				if strings.Contains(e.Error(), plantedKey) {
					t.Errorf("message leaks the key: %s", e)
				}
				if strings.Contains(e.Error(), "\n") {
					t.Errorf("message is not one line: %q", e)
				}
			}
			if s.Count() != tt.wantCount {
				t.Errorf("server saw %d requests, want %d", s.Count(), tt.wantCount)
			}
			if took < tt.minWait {
				t.Errorf("took %v, want at least %v (Retry-After)", took, tt.minWait)
			}
			if tt.maxWait > 0 && took > tt.maxWait {
				t.Errorf("took %v, want at most %v", took, tt.maxWait)
			}
		})
	}
}

func TestAnthropicFailures(t *testing.T) {
	tests := []struct {
		name     string
		fault    fakellm.Fault
		stream   bool
		wantKind string
		wantMsg  string
	}{
		{"overloaded 529", fakellm.Fault{Status: 529, Times: 10}, false, KindServer, "HTTP 529: Overloaded"},
		{"401 names the env var", fakellm.Fault{Status: 401}, false, KindAuth, "$ANTHROPIC_API_KEY"},
		{"cut stream", fakellm.Fault{CutStream: true, Times: 10}, true, KindConnection, "broke before the answer was complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, fakellm.Options{})
			s.Enqueue(tt.fault)
			p := mustNew(t, Config{Type: "anthropic", Model: "claude-3-5-haiku-latest", BaseURL: s.URL, Stream: tt.stream, MaxRetries: -1}, withKey())
			_, err := p.Call(context.Background(), userReq("hi"))
			e := asError(t, err)
			if e.Kind != tt.wantKind || !strings.Contains(e.Error(), tt.wantMsg) {
				t.Errorf("got %s: %v; want kind %s containing %q", e.Kind, e, tt.wantKind, tt.wantMsg)
			}
		})
	}
}

// deadURL is a base URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

func TestUnreachableFailsFast(t *testing.T) {
	base := deadURL(t)
	for _, typ := range []string{"openai", "anthropic"} {
		t.Run(typ, func(t *testing.T) {
			p := mustNew(t, Config{Type: typ, Model: "m", BaseURL: base, MaxRetries: 10}, withKey())
			began := time.Now()
			_, err := p.Call(context.Background(), userReq("hi"))
			took := time.Since(began)
			e := asError(t, err)
			if e.Kind != KindConnection || !strings.Contains(e.Error(), "is the server at "+base+" running?") {
				t.Errorf("error = %v", e)
			}
			if took > 3*time.Second {
				t.Errorf("took %v against a dead endpoint, want < 3s", took)
			}
		})
	}
}

func TestCancelStopsAWaitingCall(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	s.Enqueue(fakellm.Fault{Hang: true})
	p := mustNew(t, Config{Type: "openai", Model: "m", BaseURL: s.URL}, withKey())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	began := time.Now()
	_, err := p.Call(ctx, userReq("hi"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("cancel took %v to take effect", took)
	}

	// Cancelled while waiting out a Retry-After.
	s.Enqueue(fakellm.Fault{Status: 429, RetryAfter: "30"})
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	began = time.Now()
	if _, err := p.Call(ctx, userReq("hi")); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("cancel during backoff took %v", took)
	}
}

func TestAPIKeys(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	noKey := Options{Getenv: envOf(nil)}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" means the call succeeds
	}{
		{"openai default host needs OPENAI_API_KEY", Config{Type: "openai", Model: "gpt-4o"}, "no API key: set $OPENAI_API_KEY"},
		{"anthropic default host needs ANTHROPIC_API_KEY", Config{Type: "anthropic", Model: "claude-3-5-haiku-latest"}, "no API key: set $ANTHROPIC_API_KEY"},
		{"custom env var is named", Config{Type: "openai", Model: "m", BaseURL: "https://api.groq.com/openai/v1", APIKeyEnv: "GROQ_API_KEY"}, "$GROQ_API_KEY"},
		{"embeddings too", Config{Type: "openai-embedding", Model: "text-embedding-3-small"}, "$OPENAI_API_KEY"},
		{"local server needs none", Config{Type: "openai", Model: "llama3", BaseURL: s.URL}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.cfg.Type == "openai-embedding" {
				var e Embedder
				if e, err = NewEmbedder(tt.cfg, noKey); err == nil {
					_, _, err = e.Embed(context.Background(), "x")
				}
			} else {
				_, err = mustNew(t, tt.cfg, noKey).Call(context.Background(), userReq("hi"))
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if h := s.Requests()[s.Count()-1].Header.Get("Authorization"); h != "" {
					t.Errorf("sent Authorization %q with no key set", h)
				}
				return
			}
			e := asError(t, err)
			if e.Kind != KindAuth || !strings.Contains(e.Error(), tt.wantErr) {
				t.Errorf("error = %v (kind %s), want kind auth containing %q", e, e.Kind, tt.wantErr)
			}
		})
	}
}

func TestPlantedKeyNeverInErrors(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	// Vendors echo rejected keys (OpenAI prints most of one); the message must not carry it.
	s.Enqueue(fakellm.Fault{Status: 401, Body: `{"error":{"message":"Incorrect API key provided: ` + plantedKey + `. You can find your API key at https://platform.openai.com/account/api-keys."}}`})
	s.Enqueue(fakellm.Fault{Status: 400, Body: `{"error":{"message":"bad header Bearer ` + plantedKey + `"}}`})
	s.Enqueue(fakellm.Fault{Status: 400, Body: `{"error":{"message":"key sk-proj-abc*****************xyz9 was rejected"}}`})
	opts := Options{Getenv: envOf(map[string]string{"OPENAI_API_KEY": plantedKey, "TOKEN": "tok-PLANTED-456"})}
	p := mustNew(t, Config{Type: "openai", Model: "m", BaseURL: s.URL, Headers: map[string]string{"X-Token": "{{env.TOKEN}}"}}, opts)
	for i := 0; i < 3; i++ {
		_, err := p.Call(context.Background(), userReq("hi"))
		if err == nil {
			t.Fatal("want an error")
		}
		for _, secret := range []string{plantedKey, "tok-PLANTED-456", "sk-proj-abc"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %d leaks %q: %v", i, secret, err)
			}
		}
	}
	if got := s.Requests()[0].Header.Get("X-Token"); got != "tok-PLANTED-456" {
		t.Errorf("X-Token header = %q, want the env value", got)
	}
	// Connection errors and a key in the base URL's query string.
	p = mustNew(t, Config{Type: "openai", Model: "m", BaseURL: deadURL(t) + "?key=" + plantedKey}, opts)
	_, err := p.Call(context.Background(), userReq("hi"))
	if err == nil || strings.Contains(err.Error(), plantedKey) {
		t.Errorf("error = %v", err)
	}
	// A missing header variable is named, not guessed at.
	p = mustNew(t, Config{Type: "openai", Model: "m", BaseURL: s.URL, Headers: map[string]string{"X-Other": "Bearer {{env.MISSING_TOKEN}}"}}, opts)
	if _, err := p.Call(context.Background(), userReq("hi")); err == nil || !strings.Contains(err.Error(), "$MISSING_TOKEN is not set") {
		t.Errorf("error = %v", err)
	}
}

func TestEcho(t *testing.T) {
	p := mustNew(t, Config{Type: "echo"}, Options{})
	resp, err := p.Call(context.Background(), &Request{Prompt: "Say hi to Ada"})
	if err != nil || resp.Output != "Say hi to Ada" || p.Label() != "echo" {
		t.Fatalf("resp = %+v, err = %v, label = %q", resp, err, p.Label())
	}
}

func TestNewRejectsBadConfigs(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Type: "gemini", Model: "x"}, `unknown type "gemini"`},
		{Config{Type: "openai"}, "needs a model"},
		{Config{Type: "openai", Model: "m", BaseURL: "ftp://x"}, "not an http(s) URL"},
		{Config{Type: "exec"}, "needs a command"},
		{Config{Type: "http"}, "needs a url"},
		{Config{Type: "http", URL: "http://x", OutputPath: "$.a[b]"}, "neither an index nor a quoted key"},
		{Config{Type: "openai-embedding", Model: "m"}, "makes embeddings"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header map[string]string
		want   time.Duration
	}{
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": "Wed, 01 Jan 2025 12:00:10 GMT"}, 10 * time.Second},
		{map[string]string{"Retry-After": "Wed, 01 Jan 2025 11:00:00 GMT"}, 0},
		{map[string]string{"Retry-After": "2", "Retry-After-Ms": "150"}, 150 * time.Millisecond},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{}, 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestBackoffIsFullJitterUnderTheCap(t *testing.T) {
	for n, ceiling := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		var maxSeen time.Duration
		for i := 0; i < 2000; i++ {
			d := backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/2 {
			t.Errorf("backoff(%d) never exceeded %v in 2000 draws: not jittered over the full range", n, maxSeen)
		}
	}
	if d := backoff(40); d > 30*time.Second {
		t.Errorf("backoff(40) = %v, want capped at 30s", d)
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		base, path, want string
		azure            bool
	}{
		{"https://api.openai.com/v1", "/chat/completions", "https://api.openai.com/v1/chat/completions", false},
		{"http://localhost:11434/v1/", "/chat/completions", "http://localhost:11434/v1/chat/completions", false},
		{"http://localhost:8080", "/chat/completions", "http://localhost:8080/v1/chat/completions", false},
		{"https://acme.openai.azure.com/openai/deployments/gpt4o", "/chat/completions", "https://acme.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", true},
		{"https://acme.openai.azure.com/openai/deployments/gpt4o?api-version=2025-01-01", "/chat/completions", "https://acme.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2025-01-01", true},
		// Azure's v1 API takes no api-version.
		{"https://acme.openai.azure.com/openai/v1", "/chat/completions", "https://acme.openai.azure.com/openai/v1/chat/completions", true},
	}
	for _, tt := range tests {
		got, azure, err := openAIEndpoint(tt.base, tt.path)
		if err != nil || got != tt.want || azure != tt.azure {
			t.Errorf("openAIEndpoint(%q) = %q, %v, %v; want %q, %v", tt.base, got, azure, err, tt.want, tt.azure)
		}
	}
	for host, local := range map[string]bool{
		"http://127.0.0.1:9001/v1": true, "http://localhost:11434/v1": true, "http://[::1]:8000": true,
		"http://192.168.1.20:8000/v1": true, "http://ollama:11434/v1": true,
		"https://api.openai.com/v1": false, "https://api.groq.com/openai/v1": false, "https://8.8.8.8/v1": false,
	} {
		if isLocal(host) != local {
			t.Errorf("isLocal(%q) = %v, want %v", host, !local, local)
		}
	}
}

// A stream that ends cleanly but early (a proxy closing it politely) is cut, too.
func TestStreamEndingEarlyIsCut(t *testing.T) {
	site := &callSite{label: "p", baseURL: "http://x/v1"}
	var out openAIResult
	err := readOpenAIStream(site, strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"), &out)
	if e := asError(t, err); e.Kind != KindConnection || !strings.Contains(e.Msg, "ended before [DONE] (cut after 3 characters)") || !e.Retryable() {
		t.Errorf("openai: %v", e)
	}
	// A stream that finished but lost its [DONE] still counts.
	err = readOpenAIStream(site, strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"), &out)
	if err != nil || out.text != "Hi" {
		t.Errorf("openai finished without [DONE]: %q, %v", out.text, err)
	}
	var am anthropicResult
	err = readAnthropicStream(site, strings.NewReader("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n"), &am)
	if e := asError(t, err); e.Kind != KindConnection || !strings.Contains(e.Msg, "ended before message_stop") {
		t.Errorf("anthropic: %v", e)
	}
}

func TestHeaderCredentialsReplaceTheKey(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	// A non-local host with no key set but its own Authorization header: the header is sent
	// as written and no "no API key" error stops the call. The fake stands in for the host.
	p := mustNew(t, Config{Type: "openai", Model: "m", BaseURL: s.URL, Headers: map[string]string{"Authorization": "Bearer {{env.GW_TOKEN}}"}},
		Options{Getenv: envOf(map[string]string{"GW_TOKEN": "gw-1", "OPENAI_API_KEY": plantedKey})})
	if _, err := p.Call(context.Background(), userReq("hi")); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests()[0].Header.Get("Authorization"); got != "Bearer gw-1" {
		t.Errorf("Authorization = %q, want the configured header", got)
	}
}

// BenchmarkOpenAICall measures the client's own cost per call against a local fake server
// with no latency.
func BenchmarkOpenAICall(b *testing.B) {
	s, err := fakellm.Start(fakellm.Options{DiscardRequests: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, err := New(Config{Type: "openai", Model: "gpt-4o-mini", BaseURL: s.URL}, withKey())
	if err != nil {
		b.Fatal(err)
	}
	req := userReq("What is the capital of France?")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Call(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
