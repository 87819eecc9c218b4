package provider

import (
	"context"
	"strings"
	"time"
)

// echo answers with the rendered prompt, as promptfoo's echo provider does; suites use it to
// test their prompts and assertions without any model.
type echo struct{ label string }

// Label is the provider's id in results.
func (e *echo) Label() string { return e.label }

// Call returns the prompt text, or the chat's contents one per line when there is no text.
func (e *echo) Call(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	began := time.Now()
	out := req.Prompt
	if out == "" && len(req.Messages) > 0 {
		parts := make([]string, len(req.Messages))
		for i, m := range req.Messages {
			parts[i] = m.Content
		}
		out = strings.Join(parts, "\n")
	}
	return &Response{Output: out, Latency: time.Since(began)}, nil
}
