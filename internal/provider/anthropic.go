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
	var text string
	var usage Usage
	lat, err := p.t.do(ctx, call, func(resp *http.Response) error {
		text, usage = "", Usage{}
		if strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") {
			return readAnthropicStream(&p.t.site, resp.Body, &text, &usage)
		}
		return readAnthropicPlain(&p.t.site, resp.Body, &text, &usage)
	})
	if err != nil {
		return nil, err
	}
	return finish(text, usage, lat, p.price), nil
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

type anthropicMessage struct {
	Type    string `json:"type"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Usage *anthropicUsage `json:"usage"`
	Error *anthropicError `json:"error"`
}

func readAnthropicPlain(site *callSite, r io.Reader, text *string, usage *Usage) error {
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
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	*text = b.String()
	if m.Usage != nil {
		*usage = m.Usage.usage()
	}
	return nil
}

type anthropicEvent struct {
	Type    string            `json:"type"`
	Message *anthropicMessage `json:"message"`
	Delta   *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
	Error *anthropicError `json:"error"`
}

// readAnthropicStream reads the event stream until message_stop; an earlier end is a cut stream.
func readAnthropicStream(site *callSite, r io.Reader, text *string, usage *Usage) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var b strings.Builder
	var u anthropicUsage
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
		case "content_block_delta":
			if ev.Delta != nil && ev.Delta.Type == "text_delta" {
				b.WriteString(ev.Delta.Text)
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
	*text = b.String()
	*usage = u.usage()
	return nil
}
