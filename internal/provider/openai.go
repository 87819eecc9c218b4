package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AzureAPIVersion is sent to Azure OpenAI when the base URL names none.
const AzureAPIVersion = "2024-10-21"

// AzureQuery is the query an OpenAI-compatible base URL is called with, and whether its
// host is Azure OpenAI's (or Azure AI Foundry's). On Azure it carries an api-version:
// AzureAPIVersion unless the URL names one, none on Azure's v1 API (a base ending in /v1).
// The gateway's upstreams and the eval providers both call through it.
func AzureQuery(base *url.URL) (url.Values, bool) {
	q := base.Query()
	host := strings.ToLower(base.Hostname())
	azure := strings.HasSuffix(host, ".openai.azure.com") || strings.HasSuffix(host, ".cognitiveservices.azure.com") || strings.HasSuffix(host, ".services.ai.azure.com")
	if azure && q.Get("api-version") == "" && !strings.HasSuffix(strings.TrimRight(base.Path, "/"), "/v1") {
		q.Set("api-version", AzureAPIVersion)
	}
	return q, azure
}

// openAI is an OpenAI-compatible chat completions client (OpenAI, Azure OpenAI, vLLM, Ollama,
// llama.cpp server, LM Studio, Groq, Together, ...).
type openAI struct {
	cfg    Config
	url    string // the chat completions endpoint
	azure  bool
	price  *Price
	getenv func(string) string
	t      transport
}

func newOpenAI(cfg Config, opts Options) (*openAI, error) {
	label := labelOf(&cfg)
	if cfg.Model == "" {
		return nil, fmt.Errorf("provider %s: an openai provider needs a model", label)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = defaultBaseURL(opts.Getenv, OpenAIBaseURLEnv, OpenAIBaseURL)
	}
	if cfg.APIKeyEnv == "" {
		cfg.APIKeyEnv = OpenAIKeyEnv
	}
	u, azure, err := openAIEndpoint(cfg.BaseURL, "/chat/completions")
	if err != nil {
		return nil, fmt.Errorf("provider %s: %s", label, err.(*Error).Msg)
	}
	return &openAI{
		cfg: cfg, url: u, azure: azure, price: priceOf(&cfg), getenv: opts.Getenv,
		t: transport{
			site:   callSite{label: label, keyEnv: cfg.APIKeyEnv, model: cfg.Model, baseURL: publicURL(cfg.BaseURL)},
			client: opts.HTTPClient, policy: policyOf(&cfg),
		},
	}, nil
}

// openAIEndpoint is base+path; for Azure OpenAI it also adds an api-version when missing.
func openAIEndpoint(base, path string) (string, bool, error) {
	ep, err := endpoint(base, path)
	if err != nil {
		return "", false, err
	}
	b, _ := url.Parse(base)
	q, azure := AzureQuery(b)
	if azure {
		u, _ := url.Parse(ep)
		u.RawQuery = q.Encode()
		ep = u.String()
	}
	return ep, azure, nil
}

// Label is the provider's id in results.
func (p *openAI) Label() string { return p.t.site.label }

// Call sends one chat completion, streamed when the config says so.
func (p *openAI) Call(ctx context.Context, req *Request) (*Response, error) {
	body := openAIBody(&p.cfg, chatMessages(req))
	if p.cfg.Stream {
		body["stream"] = true
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	call, err := buildCall(&p.t.site, p.cfg.Headers, p.cfg.BaseURL, p.getenv, p.url, body, p.authHeader)
	if err != nil {
		return nil, err
	}
	var out openAIResult
	lat, err := p.t.do(ctx, call, func(resp *http.Response) error {
		out = openAIResult{}
		if strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") {
			return readOpenAIStream(&p.t.site, resp.Body, &out)
		}
		return readOpenAIPlain(&p.t.site, resp.Body, &out)
	})
	if err != nil {
		return nil, err
	}
	r := finish(out.text, out.usage, lat, p.price)
	r.ToolCalls = out.calls
	return r, nil
}

// authHeader sets the key the way the host expects it.
func (p *openAI) authHeader(h http.Header, key string) {
	if p.azure {
		h.Set("api-key", key)
	} else {
		h.Set("Authorization", "Bearer "+key)
	}
}

// chatMessages is the request as a chat; a plain prompt is one user message.
func chatMessages(req *Request) []Message {
	if len(req.Messages) > 0 {
		return req.Messages
	}
	return []Message{{Role: "user", Content: req.Prompt}}
}

// openAIBody is the chat completions request body: model, messages, params, then Extra.
func openAIBody(cfg *Config, msgs []Message) map[string]any {
	b := map[string]any{"model": cfg.Model, "messages": msgs}
	if len(cfg.Tools) > 0 {
		b["tools"] = openAITools(cfg.Tools)
	}
	p := &cfg.Params
	if p.Temperature != nil {
		b["temperature"] = *p.Temperature
	}
	if p.MaxTokens != nil {
		// OpenAI's reasoning models refuse max_tokens and take max_completion_tokens.
		if reasoningModel(cfg.Model) {
			b["max_completion_tokens"] = *p.MaxTokens
		} else {
			b["max_tokens"] = *p.MaxTokens
		}
	}
	if p.TopP != nil {
		b["top_p"] = *p.TopP
	}
	if p.Seed != nil {
		b["seed"] = *p.Seed
	}
	if len(p.Stop) > 0 {
		b["stop"] = p.Stop
	}
	for k, v := range p.Extra {
		b[k] = v
	}
	return b
}

func reasoningModel(model string) bool {
	m := strings.ToLower(model)
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if m == p || strings.HasPrefix(m, p+"-") {
			return true
		}
	}
	return false
}

// buildCall renders the headers (resolving {{env.NAME}}), reads the API key and encodes the
// body. A key that is missing for a host that needs one is an error naming the variable.
func buildCall(site *callSite, headers map[string]string, base string, getenv func(string) string, u string, body any, auth func(http.Header, string)) (*httpCall, error) {
	h, secrets, err := expandHeaders(headers, getenv)
	if err != nil {
		e := err.(*Error)
		e.Provider = site.label
		return nil, e
	}
	// Credentials the user put in the headers (a gateway's own token) take the key's place.
	userAuth := h.Get("Authorization") != "" || h.Get("x-api-key") != "" || h.Get("api-key") != ""
	key := ""
	if site.keyEnv != "" && !userAuth {
		key = strings.TrimSpace(getenv(site.keyEnv))
		if key == "" && !isLocal(base) {
			return nil, &Error{Kind: KindAuth, Provider: site.label,
				Msg: fmt.Sprintf("no API key: set $%s (or point the provider's base URL at a local server such as Ollama)", site.keyEnv)}
		}
	}
	if key != "" {
		secrets = append(secrets, key)
		if auth != nil {
			auth(h, key)
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, &Error{Kind: KindClient, Provider: site.label, Msg: "cannot encode the request: " + err.Error()}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "plumb")
	}
	return &httpCall{method: http.MethodPost, url: u, header: h, body: data, hadKey: key != "", secrets: secrets}, nil
}

// finish builds a Response, filling the total and the cost.
func finish(text string, u Usage, lat time.Duration, price *Price) *Response {
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	r := &Response{Output: text, Usage: u, Latency: lat}
	if price != nil {
		r.Cost = Cost(*price, u)
	}
	return r
}

type openAIResult struct {
	text  string
	usage Usage
	calls []ToolCall
}

type openAIUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u *openAIUsage) usage() Usage {
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return out
}

type openAIText struct {
	Content   *string          `json:"content"`
	Refusal   *string          `json:"refusal"`
	ToolCalls []openAIToolCall `json:"tool_calls"`
}

// openAIToolCall is a tool call of a message, or a piece of one in a streamed delta (where
// index says which call it continues).
type openAIToolCall struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// text is the content, or the model's refusal when it gave no content.
func (t *openAIText) text() string {
	if t.Content != nil && *t.Content != "" {
		return *t.Content
	}
	if t.Refusal != nil {
		return *t.Refusal
	}
	return ""
}

type openAIChunk struct {
	Choices []struct {
		Message      openAIText `json:"message"`
		Delta        openAIText `json:"delta"`
		FinishReason *string    `json:"finish_reason"`
	} `json:"choices"`
	Usage *openAIUsage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func readOpenAIPlain(site *callSite, r io.Reader, out *openAIResult) error {
	data, err := io.ReadAll(io.LimitReader(r, maxBodyBytes))
	if err != nil {
		return err
	}
	var c openAIChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return site.malformed("the answer is not valid JSON (%s): %s", err, oneLine(string(data), 120))
	}
	if c.Error != nil {
		return &Error{Kind: KindServer, Provider: site.label, Msg: oneLine(c.Error.Message, 300), retry: true}
	}
	if len(c.Choices) == 0 {
		return site.malformed("the answer has no choices: %s", oneLine(string(data), 120))
	}
	out.text = c.Choices[0].Message.text()
	for _, tc := range c.Choices[0].Message.ToolCalls {
		out.calls = append(out.calls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: rawArguments([]byte(tc.Function.Arguments))})
	}
	if c.Usage != nil {
		out.usage = c.Usage.usage()
	}
	return nil
}

// readOpenAIStream reads server-sent events until [DONE]. A stream that ends before [DONE]
// and before any finish_reason was cut, and is retried like a broken connection.
func readOpenAIStream(site *callSite, r io.Reader, out *openAIResult) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var text strings.Builder
	var calls toolCallBuilder
	finished, done := false, false
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data:")) {
			continue
		}
		data := bytes.TrimSpace(line[len("data:"):])
		if string(data) == "[DONE]" {
			done = true
			break
		}
		var c openAIChunk
		if err := json.Unmarshal(data, &c); err != nil {
			return site.malformed("a streamed chunk is not valid JSON (%s): %s", err, oneLine(string(data), 120))
		}
		if c.Error != nil {
			return &Error{Kind: KindServer, Provider: site.label, Msg: "error in stream: " + oneLine(c.Error.Message, 300), retry: true}
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.text())
			for k, tc := range ch.Delta.ToolCalls {
				i := k
				if tc.Index != nil {
					i = *tc.Index
				}
				if i < 0 || i > 127 {
					return site.malformed("a streamed tool call has index %d", i)
				}
				call := calls.at(i)
				if tc.ID != "" {
					call.ID = tc.ID
				}
				if tc.Function.Name != "" {
					call.Name = tc.Function.Name
				}
				calls.addArgs(i, tc.Function.Arguments)
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finished = true
			}
		}
		if c.Usage != nil {
			out.usage = c.Usage.usage()
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !done && !finished {
		return &Error{Kind: KindConnection, Provider: site.label, retry: true,
			Msg: fmt.Sprintf("the stream from %s ended before [DONE] (cut after %d characters)", site.baseURL, text.Len())}
	}
	out.text = text.String()
	out.calls = calls.done()
	return nil
}
