package provider

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// toolNameRe is the function names OpenAI and Anthropic both accept.
var toolNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParseTools reads tool definitions in OpenAI's function-tool shape, a list of
// {"type": "function", "function": {"name", "description", "parameters"}}, as decoded from
// JSON or YAML. The bare function object ({"name", "description", "parameters"}) is accepted
// too. An error names the tool (by its index, from 0) and what is wrong with it.
func ParseTools(v any) ([]Tool, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("tools must be a list of function tools ({type: function, function: {name, description, parameters}}), not %s", kindOf(v))
	}
	out := make([]Tool, 0, len(list))
	seen := map[string]bool{}
	for i, item := range list {
		t, err := parseTool(item)
		if err != nil {
			return nil, fmt.Errorf("tools[%d]: %s", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tools[%d]: the tool %q is defined twice", i, t.Name)
		}
		seen[t.Name] = true
		out = append(out, t)
	}
	return out, nil
}

func parseTool(item any) (Tool, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return Tool{}, fmt.Errorf("a tool is a map {type: function, function: {...}}, not %s", kindOf(item))
	}
	fn := m
	if typ, has := m["type"]; has {
		if typ != "function" {
			return Tool{}, fmt.Errorf("type %v is not supported: only function tools are", typ)
		}
		if fn, ok = m["function"].(map[string]any); !ok {
			return Tool{}, fmt.Errorf("a function tool needs function: {name, description, parameters}")
		}
	}
	var t Tool
	for k, v := range fn {
		switch k {
		case "name":
			t.Name, _ = v.(string)
		case "description":
			s, ok := v.(string)
			if !ok {
				return Tool{}, fmt.Errorf("description must be text, not %s", kindOf(v))
			}
			t.Description = s
		case "parameters":
			p, ok := v.(map[string]any)
			if !ok {
				return Tool{}, fmt.Errorf("parameters must be a JSON Schema object, not %s", kindOf(v))
			}
			t.Parameters = p
		case "strict":
		default:
			return Tool{}, fmt.Errorf("unknown key %q in a function (use name, description, parameters)", k)
		}
	}
	if !toolNameRe.MatchString(t.Name) {
		if t.Name == "" {
			return Tool{}, fmt.Errorf("the function has no name")
		}
		return Tool{}, fmt.Errorf("function name %q is not allowed: use 1 to 64 letters, digits, '_' or '-'", t.Name)
	}
	return t, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "empty"
	case string:
		return "text"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// openAITools is tools as the chat completions API takes them.
func openAITools(tools []Tool) []map[string]any {
	out := make([]map[string]any, len(tools))
	for i, t := range tools {
		fn := map[string]any{"name": t.Name, "parameters": schemaOf(t)}
		if t.Description != "" {
			fn["description"] = t.Description
		}
		out[i] = map[string]any{"type": "function", "function": fn}
	}
	return out
}

// anthropicTools is tools as the Messages API takes them.
func anthropicTools(tools []Tool) []map[string]any {
	out := make([]map[string]any, len(tools))
	for i, t := range tools {
		out[i] = map[string]any{"name": t.Name, "input_schema": schemaOf(t)}
		if t.Description != "" {
			out[i]["description"] = t.Description
		}
	}
	return out
}

// schemaOf is a tool's parameters, or the schema of no arguments.
func schemaOf(t Tool) map[string]any {
	if t.Parameters != nil {
		return t.Parameters
	}
	return map[string]any{"type": "object", "properties": map[string]any{}}
}

// toolCallBuilder puts together tool calls streamed in pieces, by their index.
type toolCallBuilder struct {
	calls []ToolCall
}

// at is the call of index i, created when first seen.
func (b *toolCallBuilder) at(i int) *ToolCall {
	for len(b.calls) <= i {
		b.calls = append(b.calls, ToolCall{})
	}
	return &b.calls[i]
}

func (b *toolCallBuilder) addArgs(i int, s string) { b.at(i).Arguments += s }

// done is the calls with their arguments; a call with none gets "{}". Indexes a stream
// skipped leave no empty call behind.
func (b *toolCallBuilder) done() []ToolCall {
	var out []ToolCall
	for _, c := range b.calls {
		if c.Name == "" && c.Arguments == "" {
			continue
		}
		if strings.TrimSpace(c.Arguments) == "" {
			c.Arguments = "{}"
		}
		out = append(out, c)
	}
	return out
}

// rawArguments is a tool_use block's input as JSON text.
func rawArguments(input json.RawMessage) string {
	s := strings.TrimSpace(string(input))
	if s == "" || s == "null" {
		return "{}"
	}
	return s
}
