package anthropic

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Anthropic request shapes, in the order the API documents their fields.
type (
	msgRequest struct {
		Model         string          `json:"model"`
		MaxTokens     int             `json:"max_tokens"`
		System        string          `json:"system,omitempty"`
		Messages      []msgMessage    `json:"messages"`
		StopSequences []string        `json:"stop_sequences,omitempty"`
		Temperature   *float64        `json:"temperature,omitempty"`
		TopP          *float64        `json:"top_p,omitempty"`
		TopK          json.RawMessage `json:"top_k,omitempty"`
		Tools         []msgTool       `json:"tools,omitempty"`
		ToolChoice    *msgToolChoice  `json:"tool_choice,omitempty"`
		Thinking      json.RawMessage `json:"thinking,omitempty"`
		Metadata      *msgMetadata    `json:"metadata,omitempty"`
		Stream        bool            `json:"stream,omitempty"`
	}
	msgMessage struct {
		Role    string     `json:"role"`
		Content msgContent `json:"content"`
	}
	// msgContent is a list of blocks, written as a plain string when it is one text block.
	msgContent []msgBlock
	msgBlock   struct {
		Type      string          `json:"type"`
		Text      string          `json:"text,omitempty"`
		Source    *msgImageSource `json:"source,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   msgContent      `json:"content,omitempty"`
		IsError   bool            `json:"is_error,omitempty"`
	}
	msgImageSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	msgTool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	msgToolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	}
	msgMetadata struct {
		UserID string `json:"user_id"`
	}
)

func (c msgContent) MarshalJSON() ([]byte, error) {
	if len(c) == 1 && c[0].Type == "text" {
		return json.Marshal(c[0].Text)
	}
	return json.Marshal([]msgBlock(c))
}

// OpenAI request shapes, as read.
type (
	chatMessageIn struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		Name       string          `json:"name"`
		ToolCalls  []chatToolCall  `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
		Refusal    string          `json:"refusal"`
	}
	chatPart struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Refusal  string `json:"refusal"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	chatToolCall struct {
		Index    *int   `json:"index,omitempty"`
		ID       string `json:"id,omitempty"`
		Type     string `json:"type,omitempty"`
		Function struct {
			Name      string `json:"name,omitempty"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	chatTool struct {
		Type     string `json:"type"`
		Function *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	}
)

// emptySchema is the input schema of a tool that declares no parameters.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// chatDropped are OpenAI request fields that are dropped on the way to Anthropic: they
// change nothing the client can observe (stream_options is the gateway's business).
var chatDropped = map[string]bool{
	"store": true, "metadata": true, "service_tier": true, "seed": true, "stream_options": true,
	"prompt_cache_key": true, "safety_identifier": true,
}

// ChatToMessages turns an OpenAI chat completions request into an Anthropic Messages
// request for model (the body's model when model is empty).
func ChatToMessages(body []byte, model string) ([]byte, error) {
	o, e := readObj(body, "request body")
	if e != nil {
		return nil, e
	}
	req := msgRequest{Model: model, MaxTokens: DefaultMaxTokens}
	handled := map[string]bool{"model": true}
	if req.Model == "" {
		if _, e := o.field("model", &req.Model); e != nil {
			return nil, e
		}
	}
	var sys []string
	var msgs []chatMessageIn
	if _, e := o.field("messages", &msgs); e != nil {
		return nil, e
	}
	handled["messages"] = true
	if len(msgs) == 0 {
		return nil, refuse("messages", "at least one message is required")
	}
	for i, m := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		var out msgMessage
		switch m.Role {
		case "system", "developer":
			blocks, e := chatContent(m.Content, p+".content", false)
			if e != nil {
				return nil, e
			}
			for _, b := range blocks {
				sys = append(sys, b.Text)
			}
			continue
		case "user":
			blocks, e := chatContent(m.Content, p+".content", true)
			if e != nil {
				return nil, e
			}
			out = msgMessage{Role: "user", Content: blocks}
		case "assistant":
			blocks, e := chatContent(m.Content, p+".content", false)
			if e != nil {
				return nil, e
			}
			if m.Refusal != "" {
				blocks = append(blocks, msgBlock{Type: "text", Text: m.Refusal})
			}
			for j, tc := range m.ToolCalls {
				tp := fmt.Sprintf("%s.tool_calls[%d]", p, j)
				if tc.Type != "" && tc.Type != "function" {
					return nil, refuse(tp+".type", "is %q; only function tool calls can be sent to Anthropic", tc.Type)
				}
				if tc.ID == "" || tc.Function.Name == "" {
					return nil, refuse(tp, "needs an id and a function name")
				}
				input, e := toolInput(tc.Function.Arguments, tp+".function.arguments")
				if e != nil {
					return nil, e
				}
				blocks = append(blocks, msgBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
			out = msgMessage{Role: "assistant", Content: blocks}
		case "tool":
			if m.ToolCallID == "" {
				return nil, refuse(p+".tool_call_id", "is required on a tool message")
			}
			blocks, e := chatContent(m.Content, p+".content", false)
			if e != nil {
				return nil, e
			}
			out = msgMessage{Role: "user", Content: msgContent{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: blocks}}}
		case "function":
			return nil, refuse(p+".role", `"function" messages are deprecated and cannot be translated; use tool_calls and "tool" messages`)
		default:
			return nil, refuse(p+".role", "is %q; expected system, developer, user, assistant or tool", m.Role)
		}
		if len(out.Content) == 0 {
			return nil, refuse(p+".content", "is empty; Anthropic requires every message to have content")
		}
		// Anthropic wants user and assistant turns to alternate: a run of messages with one
		// role (several tool results, a tool result and then the user's text) becomes one.
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == out.Role {
			req.Messages[n-1].Content = append(req.Messages[n-1].Content, out.Content...)
		} else {
			req.Messages = append(req.Messages, out)
		}
	}
	if len(req.Messages) == 0 {
		return nil, refuse("messages", "has only system messages; Anthropic needs at least one user message")
	}
	req.System = strings.Join(sys, "\n\n")
	handled["max_tokens"], handled["max_completion_tokens"] = true, true
	for _, name := range []string{"max_completion_tokens", "max_tokens"} {
		var n int
		if ok, e := o.field(name, &n); e != nil {
			return nil, e
		} else if ok {
			if n < 1 {
				return nil, refuse(name, "must be at least 1, not %d", n)
			}
			req.MaxTokens = n
			break
		}
	}
	handled["stop"] = true
	if r := o["stop"]; !isNull(r) {
		var one string
		if json.Unmarshal(r, &one) == nil {
			req.StopSequences = []string{one}
		} else if err := json.Unmarshal(r, &req.StopSequences); err != nil {
			return nil, refuse("stop", "must be a string or a list of strings")
		}
	}
	handled["temperature"], handled["top_p"] = true, true
	if _, e := o.field("temperature", &req.Temperature); e != nil {
		return nil, e
	}
	if t := req.Temperature; t != nil && (*t < 0 || *t > 1) {
		return nil, refuse("temperature", "is %g; Anthropic accepts 0 to 1 (OpenAI's scale goes to 2)", *t)
	}
	if _, e := o.field("top_p", &req.TopP); e != nil {
		return nil, e
	}
	handled["n"] = true
	var n int
	if _, e := o.field("n", &n); e != nil {
		return nil, e
	} else if n > 1 {
		return nil, refuse("n", "is %d; Anthropic returns one choice per request: send n requests instead", n)
	}
	handled["stream"] = true
	if _, e := o.field("stream", &req.Stream); e != nil {
		return nil, e
	}
	handled["user"] = true
	var user string
	if _, e := o.field("user", &user); e != nil {
		return nil, e
	} else if user != "" {
		req.Metadata = &msgMetadata{UserID: user}
	}
	handled["tools"], handled["tool_choice"], handled["parallel_tool_calls"] = true, true, true
	if e := chatTools(o, &req); e != nil {
		return nil, e
	}
	handled["response_format"] = true
	var rf struct {
		Type string `json:"type"`
	}
	if _, e := o.field("response_format", &rf); e != nil {
		return nil, e
	} else if rf.Type != "" && rf.Type != "text" {
		return nil, refuse("response_format", "%q cannot be translated for Anthropic; describe the JSON in the prompt, or declare a tool with the schema and set tool_choice to it", rf.Type)
	}
	// Anthropic's own sampling fields pass through for clients that know their upstream.
	handled["top_k"], handled["thinking"] = true, true
	req.TopK, req.Thinking = nonNull(o["top_k"]), nonNull(o["thinking"])
	for _, name := range []string{"frequency_penalty", "presence_penalty"} {
		handled[name] = true
		var v float64
		if _, e := o.field(name, &v); e != nil {
			return nil, e
		} else if v != 0 {
			return nil, refuse(name, "is not supported by Anthropic; remove it or set it to 0")
		}
	}
	for _, name := range []string{"logit_bias", "logprobs", "top_logprobs"} {
		handled[name] = true
		if r := strings.TrimSpace(string(o[name])); r != "" && r != "null" && r != "false" && r != "{}" {
			return nil, refuse(name, "is not supported by Anthropic; remove it")
		}
	}
	var unknown []string
	for k := range o {
		if !handled[k] && !chatDropped[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, refuse(unknown[0], "cannot be translated for Anthropic; remove it from the request")
	}
	return mustJSON(req), nil
}

func nonNull(r json.RawMessage) json.RawMessage {
	if isNull(r) {
		return nil
	}
	return r
}

// chatContent reads an OpenAI message content (a string, or a list of parts) as Anthropic
// blocks; images are accepted only where images may be (user messages).
func chatContent(raw json.RawMessage, param string, images bool) (msgContent, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return msgContent{{Type: "text", Text: s}}, nil
	}
	var parts []chatPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, refuse(param, "must be a string or a list of content parts")
	}
	var out msgContent
	for i, p := range parts {
		pp := fmt.Sprintf("%s[%d]", param, i)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, msgBlock{Type: "text", Text: p.Text})
			}
		case "refusal":
			if p.Refusal != "" {
				out = append(out, msgBlock{Type: "text", Text: p.Refusal})
			}
		case "image_url":
			if !images {
				return nil, refuse(pp+".type", "images are accepted only in user messages")
			}
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, refuse(pp+".image_url.url", "is required")
			}
			src, e := imageSource(p.ImageURL.URL, pp+".image_url.url")
			if e != nil {
				return nil, e
			}
			out = append(out, msgBlock{Type: "image", Source: src})
		default:
			return nil, refuse(pp+".type", "is %q; only text and image_url parts can be sent to Anthropic", p.Type)
		}
	}
	return out, nil
}

// anthropicImageTypes are the media types the Messages API takes.
var anthropicImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imageSource turns an image URL (a base64 data URL, or http(s)) into an image source.
func imageSource(u, param string) (*msgImageSource, *Error) {
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return &msgImageSource{Type: "url", URL: u}, nil
	}
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, refuse(param, "must be a data: URL or an http(s) URL")
	}
	meta, data, ok := strings.Cut(rest, ",")
	mediaType, b64 := strings.CutSuffix(meta, ";base64")
	if !ok || !b64 {
		return nil, refuse(param, "must be a base64 data URL (data:image/png;base64,...)")
	}
	if !anthropicImageTypes[mediaType] {
		return nil, refuse(param, "has media type %q; Anthropic takes image/jpeg, image/png, image/gif and image/webp", mediaType)
	}
	return &msgImageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
}

// toolInput parses a tool call's arguments, which must be a JSON object for Anthropic.
func toolInput(args, param string) (json.RawMessage, *Error) {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage(`{}`), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(args), &m); err != nil || m == nil {
		return nil, refuse(param, "must be a JSON object encoded as a string")
	}
	return rawJSON(json.RawMessage(args)), nil
}

// chatTools translates tools, tool_choice and parallel_tool_calls.
func chatTools(o obj, req *msgRequest) *Error {
	var tools []chatTool
	if _, e := o.field("tools", &tools); e != nil {
		return e
	}
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" || t.Function == nil {
			return refuse(p+".type", "is %q; only function tools can be sent to Anthropic", t.Type)
		}
		if t.Function.Name == "" {
			return refuse(p+".function.name", "is required")
		}
		schema := t.Function.Parameters
		if isNull(schema) {
			schema = emptySchema
		}
		req.Tools = append(req.Tools, msgTool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	var choice *msgToolChoice
	if r := o["tool_choice"]; !isNull(r) {
		var s string
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		switch {
		case json.Unmarshal(r, &s) == nil:
			switch s {
			case "none":
				choice = &msgToolChoice{Type: "none"}
			case "auto":
				choice = &msgToolChoice{Type: "auto"}
			case "required":
				choice = &msgToolChoice{Type: "any"}
			default:
				return refuse("tool_choice", "is %q; expected none, auto, required or a named function", s)
			}
		case json.Unmarshal(r, &named) == nil && named.Type == "function" && named.Function.Name != "":
			choice = &msgToolChoice{Type: "tool", Name: named.Function.Name}
		default:
			return refuse("tool_choice", `must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}`)
		}
	}
	var parallel *bool
	if _, e := o.field("parallel_tool_calls", &parallel); e != nil {
		return e
	}
	if parallel != nil && !*parallel && len(req.Tools) > 0 {
		if choice == nil {
			choice = &msgToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			choice.DisableParallelToolUse = true
		}
	}
	if len(req.Tools) == 0 && choice != nil && choice.Type != "none" {
		return refuse("tool_choice", "is set but no tools are declared")
	}
	if len(req.Tools) > 0 {
		req.ToolChoice = choice
	}
	return nil
}
