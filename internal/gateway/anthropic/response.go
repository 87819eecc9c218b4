package anthropic

import (
	"encoding/json"
	"strings"
	"time"
)

// Anthropic usage, as read and written.
type msgUsage struct {
	InputTokens              int  `json:"input_tokens"`
	OutputTokens             int  `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
}

func (u *msgUsage) usage() Usage {
	read, created := 0, 0
	if u.CacheReadInputTokens != nil {
		read = *u.CacheReadInputTokens
	}
	if u.CacheCreationInputTokens != nil {
		created = *u.CacheCreationInputTokens
	}
	return Usage{InputTokens: u.InputTokens + read + created, OutputTokens: u.OutputTokens, CachedInputTokens: read}
}

// toMsgUsage is Anthropic's view of u: input_tokens leaves out the tokens read from a cache.
func toMsgUsage(u Usage) msgUsage {
	m := msgUsage{InputTokens: u.InputTokens - u.CachedInputTokens, OutputTokens: u.OutputTokens}
	if u.CachedInputTokens > 0 {
		c := u.CachedInputTokens
		m.CacheReadInputTokens = &c
	}
	return m
}

// OpenAI usage, as read and written.
type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
}

func (u *chatUsage) usage() Usage {
	out := Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil && d.CachedTokens <= u.PromptTokens {
		out.CachedInputTokens = d.CachedTokens
	}
	return out
}

func toChatUsage(u Usage) *chatUsage {
	c := &chatUsage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
	c.PromptTokensDetails = &struct {
		CachedTokens int `json:"cached_tokens"`
	}{u.CachedInputTokens}
	return c
}

// finishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, pause_turn
}

// stopReason maps OpenAI's finish_reason to Anthropic's stop_reason.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// Response shapes.
type (
	msgResponseIn struct {
		ID         string       `json:"id"`
		Type       string       `json:"type"`
		Content    []msgBlockIn `json:"content"`
		StopReason string       `json:"stop_reason"`
		Usage      *msgUsage    `json:"usage"`
	}
	chatResponse struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []chatChoice `json:"choices"`
		Usage   *chatUsage   `json:"usage,omitempty"`
	}
	chatChoice struct {
		Index        int             `json:"index"`
		Message      chatResponseMsg `json:"message"`
		Logprobs     *struct{}       `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	}
	chatResponseMsg struct {
		Role      string         `json:"role"`
		Content   *string        `json:"content"`
		Refusal   *string        `json:"refusal"`
		ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
	}
	msgResponse struct {
		ID           string     `json:"id"`
		Type         string     `json:"type"`
		Role         string     `json:"role"`
		Model        string     `json:"model"`
		Content      []msgBlock `json:"content"`
		StopReason   *string    `json:"stop_reason"`
		StopSequence *string    `json:"stop_sequence"`
		Usage        msgUsage   `json:"usage"`
	}
)

// MessagesResponseToChat turns an Anthropic message into an OpenAI chat completion named
// model; thinking blocks are left out.
func MessagesResponseToChat(body []byte, model string) ([]byte, Usage, error) {
	return messagesResponseToChat(body, model, nowFunc)
}

func messagesResponseToChat(body []byte, model string, now func() time.Time) ([]byte, Usage, error) {
	var m msgResponseIn
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, Usage{}, malformed("not a message (%s)", jsonErr(err))
	}
	if m.Type != "message" {
		return nil, Usage{}, malformed("the type is %q, not message", m.Type)
	}
	var text strings.Builder
	msg := chatResponseMsg{Role: "assistant"}
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := "{}"
			if !isNull(b.Input) {
				args = string(rawJSON(b.Input))
			}
			tc := chatToolCall{ID: b.ID, Type: "function"}
			tc.Function.Name, tc.Function.Arguments = b.Name, args
			msg.ToolCalls = append(msg.ToolCalls, tc)
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	finish := finishReason(m.StopReason)
	var u Usage
	if m.Usage != nil {
		u = m.Usage.usage()
	}
	out := chatResponse{
		ID: m.ID, Object: "chat.completion", Created: now().Unix(), Model: model,
		Choices: []chatChoice{{Message: msg, FinishReason: &finish}},
		Usage:   toChatUsage(u),
	}
	return mustJSON(out), u, nil
}

// chatResponseIn is an OpenAI chat completion, as read.
type chatResponseIn struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Message *struct {
			Content   *string        `json:"content"`
			Refusal   *string        `json:"refusal"`
			ToolCalls []chatToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// ChatResponseToMessages turns an OpenAI chat completion into an Anthropic message named
// model; only the first choice is kept (a translated request never asks for more).
func ChatResponseToMessages(body []byte, model string) ([]byte, Usage, error) {
	var c chatResponseIn
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, Usage{}, malformed("not a chat completion (%s)", jsonErr(err))
	}
	if len(c.Choices) == 0 || c.Choices[0].Message == nil {
		return nil, Usage{}, malformed("the chat completion has no choices")
	}
	ch := c.Choices[0]
	out := msgResponse{ID: c.ID, Type: "message", Role: "assistant", Model: model, Content: []msgBlock{}}
	if s := ch.Message.Content; s != nil && *s != "" {
		out.Content = append(out.Content, msgBlock{Type: "text", Text: *s})
	}
	if s := ch.Message.Refusal; s != nil && *s != "" {
		out.Content = append(out.Content, msgBlock{Type: "text", Text: *s})
	}
	for _, tc := range ch.Message.ToolCalls {
		input, e := toolInput(tc.Function.Arguments, "")
		if e != nil {
			return nil, Usage{}, malformed("the arguments of tool call %q are not a JSON object", tc.ID)
		}
		out.Content = append(out.Content, msgBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	stop := stopReason(ch.FinishReason)
	out.StopReason = &stop
	var u Usage
	if c.Usage != nil {
		u = c.Usage.usage()
	}
	out.Usage = toMsgUsage(u)
	return mustJSON(out), u, nil
}
