package provider

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
)

var refundTool = Tool{Name: "issue_refund", Description: "Refund an order",
	Parameters: map[string]any{"type": "object", "properties": map[string]any{"order": map[string]any{"type": "string"}}}}

// TestToolCalls: both vendors, plain and streamed, send the tools in their own shape and
// return the calls the model made, with the text it wrote beside them.
func TestToolCalls(t *testing.T) {
	s := startFake(t, fakellm.Options{Rules: []fakellm.Rule{
		{Match: "refund", Reply: "Refunding now.", ToolCalls: []fakellm.ToolCall{
			{Name: "issue_refund", Arguments: `{"order":"A-17","amount":120}`},
			{Name: "send_email", Arguments: `{"to":"x@example.com"}`}}},
		{Match: "silent", ToolCalls: []fakellm.ToolCall{{Name: "issue_refund"}}},
	}})
	for _, typ := range []string{"openai", "anthropic"} {
		for _, stream := range []bool{false, true} {
			t.Run(typ+map[bool]string{false: "/plain", true: "/stream"}[stream], func(t *testing.T) {
				n := len(s.Requests())
				p := mustNew(t, Config{Type: typ, Model: "fake-model", BaseURL: s.URL, Stream: stream, Tools: []Tool{refundTool}}, withKey())
				r, err := p.Call(context.Background(), userReq("please refund order A-17"))
				if err != nil {
					t.Fatal(err)
				}
				if r.Output != "Refunding now." {
					t.Errorf("output %q", r.Output)
				}
				if len(r.ToolCalls) != 2 || r.ToolCalls[0].ID == "" {
					t.Fatalf("tool calls %+v", r.ToolCalls)
				}
				got := []ToolCall{{Name: r.ToolCalls[0].Name, Arguments: r.ToolCalls[0].Arguments}, {Name: r.ToolCalls[1].Name, Arguments: r.ToolCalls[1].Arguments}}
				want := []ToolCall{{Name: "issue_refund", Arguments: `{"order":"A-17","amount":120}`}, {Name: "send_email", Arguments: `{"to":"x@example.com"}`}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("tool calls %+v, want %+v", got, want)
				}
				body := bodyOf(t, s, n)
				tools, _ := body["tools"].([]any)
				if len(tools) != 1 {
					t.Fatalf("request tools %v", body["tools"])
				}
				tool := tools[0].(map[string]any)
				if typ == "openai" {
					fn, _ := tool["function"].(map[string]any)
					if tool["type"] != "function" || fn["name"] != "issue_refund" || fn["parameters"] == nil {
						t.Errorf("openai tool %v", tool)
					}
				} else if tool["name"] != "issue_refund" || tool["input_schema"] == nil || tool["description"] != "Refund an order" {
					t.Errorf("anthropic tool %v", tool)
				}

				r, err = p.Call(context.Background(), userReq("silent"))
				if err != nil {
					t.Fatal(err)
				}
				if r.Output != "" || len(r.ToolCalls) != 1 || r.ToolCalls[0].Arguments != "{}" {
					t.Errorf("a call without text: output %q calls %+v", r.Output, r.ToolCalls)
				}
			})
		}
	}
}

// TestToolCallsInCassette: a recorded answer's tool calls replay; tools are part of the key.
func TestToolCallsInCassette(t *testing.T) {
	s := startFake(t, fakellm.Options{Rules: []fakellm.Rule{
		{Match: "refund", ToolCalls: []fakellm.ToolCall{{Name: "issue_refund", Arguments: `{"order":"A-17"}`}}}}})
	path := filepath.Join(t.TempDir(), "c.json")
	cfg := Config{Type: "openai", Model: "fake-model", BaseURL: s.URL, Tools: []Tool{refundTool}}
	rec, err := OpenCassette(path, CassetteRecord)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Wrap(mustNew(t, cfg, withKey()), cfg).Call(context.Background(), userReq("refund A-17")); err != nil {
		t.Fatal(err)
	}
	if err := rec.Save(); err != nil {
		t.Fatal(err)
	}
	play, err := OpenCassette(path, CassetteReplay)
	if err != nil {
		t.Fatal(err)
	}
	r, err := play.Wrap(nil, cfg).Call(context.Background(), userReq("refund A-17"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Replayed || len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "issue_refund" || r.ToolCalls[0].Arguments != `{"order":"A-17"}` {
		t.Errorf("replayed %+v", r)
	}
	noTools := cfg
	noTools.Tools = nil
	if CassetteKey(noTools, userReq("x")) == CassetteKey(cfg, userReq("x")) {
		t.Error("the cassette key ignores the tools")
	}
}

func TestParseTools(t *testing.T) {
	got, err := ParseTools([]any{
		map[string]any{"type": "function", "function": map[string]any{"name": "issue_refund", "description": "d",
			"parameters": map[string]any{"type": "object"}}},
		map[string]any{"name": "lookup"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Tool{{Name: "issue_refund", Description: "d", Parameters: map[string]any{"type": "object"}}, {Name: "lookup"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	for _, c := range []struct {
		in   any
		want string
	}{
		{map[string]any{"name": "x"}, "tools must be a list"},
		{[]any{"x"}, "tools[0]: a tool is a map"},
		{[]any{map[string]any{"type": "web_search"}}, `tools[0]: type web_search is not supported`},
		{[]any{map[string]any{"type": "function"}}, "tools[0]: a function tool needs function:"},
		{[]any{map[string]any{"name": "a"}, map[string]any{"name": "a b"}}, `tools[1]: function name "a b" is not allowed`},
		{[]any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}, `tools[1]: the tool "a" is defined twice`},
		{[]any{map[string]any{"name": "a", "parameters": "x"}}, "parameters must be a JSON Schema object"},
		{[]any{map[string]any{"name": "a", "params": map[string]any{}}}, `unknown key "params"`},
	} {
		_, err := ParseTools(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTools(%v) = %v, want %q", c.in, err, c.want)
		}
	}
}
