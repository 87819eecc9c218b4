package anthropic

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// OpenAI request shapes, as written.
type (
	chatRequest struct {
		Model             string             `json:"model"`
		Messages          []chatMessageOut   `json:"messages"`
		MaxTokens         int                `json:"max_tokens,omitempty"`
		Stop              []string           `json:"stop,omitempty"`
		Temperature       *float64           `json:"temperature,omitempty"`
		TopP              *float64           `json:"top_p,omitempty"`
		Tools             []chatToolOut      `json:"tools,omitempty"`
		ToolChoice        any                `json:"tool_choice,omitempty"`
		ParallelToolCalls *bool              `json:"parallel_tool_calls,omitempty"`
		User              string             `json:"user,omitempty"`
		Stream            bool               `json:"stream,omitempty"`
		StreamOptions     *chatStreamOptions `json:"stream_options,omitempty"`
	}
	chatStreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	chatMessageOut struct {
		Role       string         `json:"role"`
		Content    any            `json:"content"` // string, []chatPartOut or nil
		ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	chatPartOut struct {
		Type     string       `json:"type"`
		Text     string       `json:"text,omitempty"`
		ImageURL *chatURLPart `json:"image_url,omitempty"`
	}
	chatURLPart struct {
		URL string `json:"url"`
	}
	chatToolOut struct {
		Type     string       `json:"type"`
		Function chatFunction `json:"function"`
	}
	chatFunction struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	chatNamedChoice struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
)

// Anthropic request shapes, as read.
type (
	msgMessageIn struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	msgBlockIn struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Source    *msgImageSource `json:"source"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
	}
	msgToolIn struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
)

// messagesDropped are Anthropic request fields dropped on the way to OpenAI: they change
// nothing the client can observe.
var messagesDropped = map[string]bool{"service_tier": true, "anthropic_version": true}

// MessagesToChat turns an Anthropic Messages request into an OpenAI chat completions
// request for model (the body's model when model is empty). A streamed request asks for
// usage (stream_options.include_usage), which Anthropic's stream always reports.
func MessagesToChat(body []byte, model string) ([]byte, error) {
	o, e := readObj(body, "request body")
	if e != nil {
		return nil, e
	}
	req := chatRequest{Model: model}
	handled := map[string]bool{"model": true}
	if req.Model == "" {
		if _, e := o.field("model", &req.Model); e != nil {
			return nil, e
		}
	}
	handled["system"] = true
	if r := o["system"]; !isNull(r) {
		text, e := messagesText(r, "system")
		if e != nil {
			return nil, e
		}
		if text != "" {
			req.Messages = append(req.Messages, chatMessageOut{Role: "system", Content: text})
		}
	}
	handled["messages"] = true
	var msgs []msgMessageIn
	if _, e := o.field("messages", &msgs); e != nil {
		return nil, e
	}
	if len(msgs) == 0 {
		return nil, refuse("messages", "at least one message is required")
	}
	for i, m := range msgs {
		out, e := messagesMessage(m, fmt.Sprintf("messages[%d]", i))
		if e != nil {
			return nil, e
		}
		req.Messages = append(req.Messages, out...)
	}
	handled["max_tokens"] = true
	if ok, e := o.field("max_tokens", &req.MaxTokens); e != nil {
		return nil, e
	} else if !ok {
		return nil, refuse("max_tokens", "is required")
	} else if req.MaxTokens < 1 {
		return nil, refuse("max_tokens", "must be at least 1, not %d", req.MaxTokens)
	}
	handled["stop_sequences"], handled["temperature"], handled["top_p"] = true, true, true
	if _, e := o.field("stop_sequences", &req.Stop); e != nil {
		return nil, e
	}
	if len(req.Stop) > 4 {
		return nil, refuse("stop_sequences", "has %d sequences; OpenAI-compatible upstreams take at most 4", len(req.Stop))
	}
	if _, e := o.field("temperature", &req.Temperature); e != nil {
		return nil, e
	}
	if _, e := o.field("top_p", &req.TopP); e != nil {
		return nil, e
	}
	handled["stream"] = true
	if _, e := o.field("stream", &req.Stream); e != nil {
		return nil, e
	}
	if req.Stream {
		req.StreamOptions = &chatStreamOptions{IncludeUsage: true}
	}
	handled["metadata"] = true
	var meta struct {
		UserID string `json:"user_id"`
	}
	if _, e := o.field("metadata", &meta); e != nil {
		return nil, e
	}
	req.User = meta.UserID
	handled["tools"], handled["tool_choice"] = true, true
	if e := messagesTools(o, &req); e != nil {
		return nil, e
	}
	handled["thinking"] = true
	var thinking struct {
		Type string `json:"type"`
	}
	if _, e := o.field("thinking", &thinking); e != nil {
		return nil, e
	} else if thinking.Type != "" && thinking.Type != "disabled" {
		return nil, refuse("thinking", "extended thinking cannot be translated for an OpenAI-compatible upstream; remove it")
	}
	var unknown []string
	for k := range o {
		if !handled[k] && !messagesDropped[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, refuse(unknown[0], "cannot be translated for an OpenAI-compatible upstream; remove it from the request")
	}
	return mustJSON(req), nil
}

// messagesText reads a content that may hold only text (a string or text blocks) as one
// string; cache_control and citations on the blocks are dropped.
func messagesText(raw json.RawMessage, param string) (string, *Error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []msgBlockIn
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", refuse(param, "must be a string or a list of text blocks")
	}
	texts := make([]string, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != "text" {
			return "", refuse(fmt.Sprintf("%s[%d].type", param, i), "is %q; only text blocks can go here", b.Type)
		}
		texts = append(texts, b.Text)
	}
	return strings.Join(texts, "\n\n"), nil
}

// messagesMessage turns one Anthropic message into OpenAI messages: a user message's
// tool results become "tool" messages, ahead of what else the user said.
func messagesMessage(m msgMessageIn, p string) ([]chatMessageOut, *Error) {
	if m.Role != "user" && m.Role != "assistant" {
		return nil, refuse(p+".role", "is %q; expected user or assistant (the system prompt goes in the top-level system field)", m.Role)
	}
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return []chatMessageOut{{Role: m.Role, Content: s}}, nil
	}
	var blocks []msgBlockIn
	if err := json.Unmarshal(m.Content, &blocks); err != nil {
		return nil, refuse(p+".content", "must be a string or a list of content blocks")
	}
	var out []chatMessageOut
	var parts []chatPartOut
	var calls []chatToolCall
	images := false
	for i, b := range blocks {
		bp := fmt.Sprintf("%s.content[%d]", p, i)
		switch {
		case b.Type == "text":
			parts = append(parts, chatPartOut{Type: "text", Text: b.Text})
		case b.Type == "image" && m.Role == "user":
			if b.Source == nil {
				return nil, refuse(bp+".source", "is required")
			}
			var url string
			switch b.Source.Type {
			case "base64":
				url = "data:" + b.Source.MediaType + ";base64," + b.Source.Data
			case "url":
				url = b.Source.URL
			default:
				return nil, refuse(bp+".source.type", "is %q; expected base64 or url", b.Source.Type)
			}
			parts = append(parts, chatPartOut{Type: "image_url", ImageURL: &chatURLPart{URL: url}})
			images = true
		case b.Type == "tool_result" && m.Role == "user":
			if b.ToolUseID == "" {
				return nil, refuse(bp+".tool_use_id", "is required")
			}
			text := ""
			if !isNull(b.Content) {
				var e *Error
				if text, e = messagesText(b.Content, bp+".content"); e != nil {
					return nil, e
				}
			}
			out = append(out, chatMessageOut{Role: "tool", ToolCallID: b.ToolUseID, Content: text})
		case b.Type == "tool_use" && m.Role == "assistant":
			if b.ID == "" || b.Name == "" {
				return nil, refuse(bp, "a tool_use block needs an id and a name")
			}
			args := "{}"
			if !isNull(b.Input) {
				args = string(rawJSON(b.Input))
			}
			tc := chatToolCall{ID: b.ID, Type: "function"}
			tc.Function.Name, tc.Function.Arguments = b.Name, args
			calls = append(calls, tc)
		case b.Type == "thinking" || b.Type == "redacted_thinking":
			// A previous turn's reasoning: OpenAI-compatible models neither take nor need it.
		default:
			return nil, refuse(bp+".type", "is %q; an OpenAI-compatible upstream takes text, image and tool blocks in a %s message", b.Type, m.Role)
		}
	}
	if len(parts) == 0 && len(calls) == 0 {
		return out, nil
	}
	msg := chatMessageOut{Role: m.Role, ToolCalls: calls}
	switch {
	case len(parts) == 0:
		msg.Content = nil
	case !images:
		texts := make([]string, len(parts))
		for i, pt := range parts {
			texts[i] = pt.Text
		}
		msg.Content = strings.Join(texts, "\n\n")
	default:
		msg.Content = parts
	}
	return append(out, msg), nil
}

// messagesTools translates tools and tool_choice.
func messagesTools(o obj, req *chatRequest) *Error {
	var tools []msgToolIn
	if _, e := o.field("tools", &tools); e != nil {
		return e
	}
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "custom" {
			return refuse(p+".type", "is %q; Anthropic's server tools cannot run on an OpenAI-compatible upstream", t.Type)
		}
		if t.Name == "" {
			return refuse(p+".name", "is required")
		}
		schema := t.InputSchema
		if isNull(schema) {
			schema = emptySchema
		}
		req.Tools = append(req.Tools, chatToolOut{Type: "function", Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	var tc *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	if _, e := o.field("tool_choice", &tc); e != nil {
		return e
	}
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto":
		req.ToolChoice = "auto"
	case "any":
		req.ToolChoice = "required"
	case "none":
		req.ToolChoice = "none"
	case "tool":
		if tc.Name == "" {
			return refuse("tool_choice.name", "is required when tool_choice.type is tool")
		}
		var n chatNamedChoice
		n.Type, n.Function.Name = "function", tc.Name
		req.ToolChoice = n
	default:
		return refuse("tool_choice.type", "is %q; expected auto, any, tool or none", tc.Type)
	}
	if tc.DisableParallelToolUse && len(req.Tools) > 0 {
		f := false
		req.ParallelToolCalls = &f
	}
	return nil
}
