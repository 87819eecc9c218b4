package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const (
	anthropicVersion = "2023-06-01"
	// anthropicMaxTokens is sent when the config sets none: the Messages API requires one.
	anthropicMaxTokens = 1024
)

// anthropic is a client for Anthropic's Messages API.
type anthropic struct {
	cfg    Config
	url    string
	price  *Price
	getenv func(string) string
	t      transport
}

func newAnthropic(cfg Config, opts Options) (*anthropic, error) {
	label := labelOf(&cfg)
	if cfg.Model == "" {
		return nil, fmt.Errorf("provider %s: an anthropic provider needs a model", label)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = defaultBaseURL(opts.Getenv, AnthropicBaseURLEnv, AnthropicBaseURL)
	}
	if cfg.APIKeyEnv == "" {
		cfg.APIKeyEnv = AnthropicKeyEnv
	}
	u, err := endpoint(cfg.BaseURL, "/messages")
	if err != nil {
		return nil, fmt.Errorf("provider %s: %s", label, err.(*Error).Msg)
	}
	return &anthropic{
		cfg: cfg, url: u, price: priceOf(&cfg), getenv: opts.Getenv,
		t: transport{
			site:   callSite{label: label, keyEnv: cfg.APIKeyEnv, model: cfg.Model, baseURL: publicURL(cfg.BaseURL)},
			client: opts.HTTPClient, policy: policyOf(&cfg),
		},
	}, nil
}

// Label is the provider's id in results.
func (p *anthropic) Label() string { return p.t.site.label }

// Call sends one Messages request, streamed when the config says so.
func (p *anthropic) Call(ctx context.Context, req *Request) (*Response, error) {
	body := anthropicBody(&p.cfg, chatMessages(req))
	if p.cfg.Stream {
		body["stream"] = true
	}
	call, err := buildCall(&p.t.site, p.cfg.Headers, p.cfg.BaseURL, p.getenv, p.url, body, func(h http.Header, key string) {
		h.Set("x-api-key", key)
	})
	if err != nil {
		return nil, err
	}
	if call.header.Get("anthropic-version") == "" {
		call.header.Set("anthropic-version", anthropicVersion)
	}
	var out anthropicResult
	lat, err := p.t.do(ctx, call, func(resp *http.Response) error {
		out = anthropicResult{}
		if strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") {
			return readAnthropicStream(&p.t.site, resp.Body, &out)
		}
		return readAnthropicPlain(&p.t.site, resp.Body, &out)
	})
	if err != nil {
		return nil, err
	}
	r := finish(out.text, out.usage, lat, p.price)
	r.ToolCalls = out.calls
	return r, nil
}

type anthropicResult struct {
	text  string
	usage Usage
	calls []ToolCall
}

// anthropicBody moves system messages to the top-level system field, which is where the
// Messages API wants them, and maps params to its names (stop_sequences; no seed).
func anthropicBody(cfg *Config, msgs []Message) map[string]any {
	var system []string
	chat := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Role == "system" {
			system = append(system, m.Content)
			continue
		}
		chat = append(chat, m)
	}
	b := map[string]any{"model": cfg.Model, "messages": chat, "max_tokens": anthropicMaxTokens}
	if len(cfg.Tools) > 0 {
		b["tools"] = anthropicTools(cfg.Tools)
	}
	if len(system) > 0 {
		b["system"] = strings.Join(system, "\n\n")
	}
	p := &cfg.Params
	if p.MaxTokens != nil {
		b["max_tokens"] = *p.MaxTokens
	}
	if p.Temperature != nil {
		b["temperature"] = *p.Temperature
	}
	if p.TopP != nil {
		b["top_p"] = *p.TopP
	}
	if len(p.Stop) > 0 {
		b["stop_sequences"] = p.Stop
	}
	for k, v := range p.Extra {
		b[k] = v
	}
	return b
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

// usage counts every input token as a prompt token; Anthropic's input_tokens leaves out the
// tokens read from or written to its cache.
func (u *anthropicUsage) usage() Usage {
	return Usage{
		PromptTokens:     u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
		CompletionTokens: u.OutputTokens,
		CachedTokens:     u.CacheReadInputTokens,
	}
}

type anthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// anthropicBlock is a content block: text, or a tool_use call.
type anthropicBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anthropicMessage struct {
	Type    string           `json:"type"`
	Content []anthropicBlock `json:"content"`
	Usage   *anthropicUsage  `json:"usage"`
	Error   *anthropicError  `json:"error"`
}

func readAnthropicPlain(site *callSite, r io.Reader, out *anthropicResult) error {
	data, err := io.ReadAll(io.LimitReader(r, maxBodyBytes))
	if err != nil {
		return err
	}
	var m anthropicMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return site.malformed("the answer is not valid JSON (%s): %s", err, oneLine(string(data), 120))
	}
	if m.Error != nil {
		return &Error{Kind: KindServer, Provider: site.label, Msg: oneLine(m.Error.Type+": "+m.Error.Message, 300), retry: true}
	}
	if m.Type != "message" {
		return site.malformed("the answer is not a message: %s", oneLine(string(data), 120))
	}
	var b strings.Builder
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			b.WriteString(c.Text)
		case "tool_use":
			out.calls = append(out.calls, ToolCall{ID: c.ID, Name: c.Name, Arguments: rawArguments(c.Input)})
		}
	}
	out.text = b.String()
	if m.Usage != nil {
		out.usage = m.Usage.usage()
	}
	return nil
}

type anthropicEvent struct {
	Type         string            `json:"type"`
	Index        int               `json:"index"`
	Message      *anthropicMessage `json:"message"`
	ContentBlock *anthropicBlock   `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
	Error *anthropicError `json:"error"`
}

// readAnthropicStream reads the event stream until message_stop; an earlier end is a cut stream.
func readAnthropicStream(site *callSite, r io.Reader, out *anthropicResult) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var b strings.Builder
	var u anthropicUsage
	var calls toolCallBuilder
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data:")) {
			continue
		}
		data := bytes.TrimSpace(line[len("data:"):])
		var ev anthropicEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return site.malformed("a streamed event is not valid JSON (%s): %s", err, oneLine(string(data), 120))
		}
		switch ev.Type {
		case "message_start":
			if ev.Message != nil && ev.Message.Usage != nil {
				u = *ev.Message.Usage
			}
		case "content_block_start":
			if ev.ContentBlock != nil && ev.ContentBlock.Type == "tool_use" {
				if ev.Index < 0 || ev.Index > 127 {
					return site.malformed("a streamed tool_use block has index %d", ev.Index)
				}
				c := calls.at(ev.Index)
				c.ID, c.Name = ev.ContentBlock.ID, ev.ContentBlock.Name
			}
		case "content_block_delta":
			switch {
			case ev.Delta == nil:
			case ev.Delta.Type == "text_delta":
				b.WriteString(ev.Delta.Text)
			case ev.Delta.Type == "input_json_delta" && ev.Index >= 0 && ev.Index <= 127:
				calls.addArgs(ev.Index, ev.Delta.PartialJSON)
			}
		case "message_delta":
			// The output count here is cumulative; input counts appear here only on some
			// API versions, so they are kept from message_start unless given again.
			if ev.Usage != nil {
				u.OutputTokens = ev.Usage.OutputTokens
				if ev.Usage.InputTokens > 0 {
					u.InputTokens = ev.Usage.InputTokens
				}
			}
		case "message_stop":
			done = true
		case "error":
			msg := "error in stream"
			if ev.Error != nil {
				msg += ": " + ev.Error.Type + ": " + ev.Error.Message
			}
			return &Error{Kind: KindServer, Provider: site.label, Msg: oneLine(msg, 300), retry: true}
		}
		if done {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !done {
		return &Error{Kind: KindConnection, Provider: site.label, retry: true,
			Msg: fmt.Sprintf("the stream from %s ended before message_stop (cut after %d characters)", site.baseURL, b.Len())}
	}
	out.text = b.String()
	out.usage = u.usage()
	out.calls = calls.done()
	return nil
}
