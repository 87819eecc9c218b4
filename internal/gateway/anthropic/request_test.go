package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sameJSON fails t when got and want are not the same JSON value.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, got, "", "  ")
		t.Fatalf("got\n%s\nwant\n%s", pretty.String(), want)
	}
}

// wantRefusal fails t unless err is a 400 translation error naming param and saying msg.
func wantRefusal(t *testing.T, err error, param, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a refusal of %s", err, param)
	}
	if e.Status != 400 || e.Param != param || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %d %q %q, want 400 %q containing %q", e.Status, e.Param, e.Message, param, msg)
	}
}

func TestChatToMessages(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"minimal: default max_tokens, route model",
			`{"model":"support-bot","messages":[{"role":"user","content":"Hi"}]}`,
			`{"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":"Hi"}]}`},
		{"system and developer messages joined, sampling, stop string, user, stream",
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
			  {"role":"user","content":"Hi","name":"ann"}],"max_tokens":50,"temperature":0.2,"top_p":0.9,"stop":"END","user":"u-1",
			  "stream":true,"stream_options":{"include_usage":true},"seed":7,"n":1}`,
			`{"model":"claude-x","max_tokens":50,"system":"Be brief.\n\nAnswer in French.","messages":[{"role":"user","content":"Hi"}],
			  "stop_sequences":["END"],"temperature":0.2,"top_p":0.9,"metadata":{"user_id":"u-1"},"stream":true}`},
		{"max_completion_tokens wins, stop list, consecutive user messages merged",
			`{"messages":[{"role":"user","content":"one"},{"role":"user","content":[{"type":"text","text":"two"}]}],
			  "max_completion_tokens":10,"max_tokens":99,"stop":["a","b"]}`,
			`{"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}],
			  "stop_sequences":["a","b"]}`},
		{"images as data URLs and URLs",
			`{"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},
			  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
			  {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}`,
			`{"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},
			  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			  {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]}`},
		{"tools, tool calls and tool results (two results merged into one user turn, then the user's text)",
			`{"messages":[{"role":"user","content":"Weather in Paris and Rome?"},
			  {"role":"assistant","content":null,"tool_calls":[
			    {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
			    {"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},
			  {"role":"tool","tool_call_id":"call_1","content":"18C"},
			  {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"24C"}]},
			  {"role":"user","content":"And tomorrow?"}],
			 "tools":[{"type":"function","function":{"name":"weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
			          {"type":"function","function":{"name":"now"}}],
			 "tool_choice":"required","parallel_tool_calls":false}`,
			`{"model":"claude-x","max_tokens":4096,"messages":[
			  {"role":"user","content":"Weather in Paris and Rome?"},
			  {"role":"assistant","content":[
			    {"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},
			    {"type":"tool_use","id":"call_2","name":"weather","input":{"city":"Rome"}}]},
			  {"role":"user","content":[
			    {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
			    {"type":"tool_result","tool_use_id":"call_2","content":"24C"},
			    {"type":"text","text":"And tomorrow?"}]}],
			 "tools":[{"name":"weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
			          {"name":"now","input_schema":{"type":"object","properties":{}}}],
			 "tool_choice":{"type":"any","disable_parallel_tool_use":true}}`},
		{"named tool choice; assistant text with a tool call; empty arguments",
			`{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"c","type":"function","function":{"name":"now","arguments":""}}]},
			  {"role":"tool","tool_call_id":"c","content":""}],
			 "tools":[{"type":"function","function":{"name":"now","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"now"}}}`,
			`{"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":"x"},
			  {"role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"c","name":"now","input":{}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"c"}]}],
			 "tools":[{"name":"now","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"now"}}`},
		{"tool_choice none, harmless fields dropped, Anthropic's top_k passes",
			`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"none",
			  "store":false,"metadata":{"a":"b"},"service_tier":"auto","frequency_penalty":0,"logprobs":false,"response_format":{"type":"text"},"top_k":5}`,
			`{"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":"x"}],"top_k":5,
			  "tools":[{"name":"now","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"none"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChatToMessages([]byte(tt.in), "claude-x")
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tt.want)
		})
	}
}

func TestChatToMessagesRefusals(t *testing.T) {
	tests := []struct{ in, param, msg string }{
		{`[]`, "", "not a JSON object"},
		{`{"messages":[]}`, "messages", "at least one"},
		{`{"messages":[{"role":"system","content":"x"}]}`, "messages", "only system messages"},
		{`{"messages":[{"role":"user","content":"x"}],"n":2}`, "n", "send n requests"},
		{`{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{}}}}`, "response_format", "declare a tool"},
		{`{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`, "response_format", "json_object"},
		{`{"messages":[{"role":"user","content":"x"}],"temperature":1.5}`, "temperature", "0 to 1"},
		{`{"messages":[{"role":"user","content":"x"}],"presence_penalty":0.5}`, "presence_penalty", "not supported"},
		{`{"messages":[{"role":"user","content":"x"}],"logit_bias":{"50256":-100}}`, "logit_bias", "not supported"},
		{`{"messages":[{"role":"user","content":"x"}],"audio":{}, "modalities":["audio"]}`, "audio", "remove it"},
		{`{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`, "max_tokens", "at least 1"},
		{`{"messages":[{"role":"user","content":"x"}],"max_tokens":"ten"}`, "max_tokens", "must be a whole number, not a string"},
		{`{"messages":[{"role":"user","content":""}]}`, "messages[0].content", "is empty"},
		{`{"messages":[{"role":"bot","content":"x"}]}`, "messages[0].role", `"bot"`},
		{`{"messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].role", "deprecated"},
		{`{"messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", "required"},
		{`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, "messages[0].content[0].type", "input_audio"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AA=="}}]}]}`, "messages[0].content[0].image_url.url", "image/bmp"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}]}]}`, "messages[0].content[0].image_url.url", "base64"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url", "data: URL"},
		{`{"messages":[{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0].type", "only in user"},
		{`{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments", "JSON object"},
		{`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]}`, "tools[0].type", "only function tools"},
		{`{"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`, "tool_choice", "no tools"},
		{`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "tool_choice", `"sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.param+" "+tt.msg, func(t *testing.T) {
			_, err := ChatToMessages([]byte(tt.in), "claude-x")
			wantRefusal(t, err, tt.param, tt.msg)
		})
	}
}

func TestMessagesToChat(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"minimal",
			`{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
			`{"model":"gpt-x","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`},
		{"system blocks, sampling, stop, metadata, stream asks for usage",
			`{"model":"claude-x","max_tokens":100,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be kind."}],
			  "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"temperature":0.5,"top_p":0.8,"stop_sequences":["END"],
			  "metadata":{"user_id":"u-1"},"stream":true,"service_tier":"auto"}`,
			`{"model":"gpt-x","max_tokens":100,"messages":[{"role":"system","content":"Be brief.\n\nBe kind."},{"role":"user","content":"Hi"}],
			  "stop":["END"],"temperature":0.5,"top_p":0.8,"user":"u-1","stream":true,"stream_options":{"include_usage":true}}`},
		{"images, tool use and tool results (results first, as tool messages), thinking dropped",
			`{"max_tokens":100,"messages":[
			  {"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			     {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]},
			  {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Let me check."},
			     {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"}]},{"type":"text","text":"Thanks"}]}],
			 "tools":[{"name":"weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
			 "tool_choice":{"type":"tool","name":"weather","disable_parallel_tool_use":true}}`,
			`{"model":"gpt-x","max_tokens":100,"messages":[
			  {"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			     {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
			  {"role":"assistant","content":"Let me check.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
			  {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
			  {"role":"user","content":"Thanks"}],
			 "tools":[{"type":"function","function":{"name":"weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
			 "tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false}`},
		{"tool choice any; a tool use with no text has null content",
			`{"max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"now","input":{}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"noon"}]}],"tools":[{"name":"now","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`,
			`{"model":"gpt-x","max_tokens":5,"messages":[{"role":"user","content":"x"},
			  {"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"now","arguments":"{}"}}]},
			  {"role":"tool","tool_call_id":"t","content":"noon"}],
			 "tools":[{"type":"function","function":{"name":"now","parameters":{"type":"object"}}}],"tool_choice":"required"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MessagesToChat([]byte(tt.in), "gpt-x")
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tt.want)
		})
	}
}

func TestMessagesToChatRefusals(t *testing.T) {
	tests := []struct{ in, param, msg string }{
		{`"x"`, "", "not a JSON object"},
		{`{"messages":[{"role":"user","content":"x"}]}`, "max_tokens", "required"},
		{`{"max_tokens":5,"messages":[]}`, "messages", "at least one"},
		{`{"max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role", "top-level system"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`, "messages[0].content[0].type", `"document"`},
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":3}`, "top_k", "remove it"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":1024}}`, "thinking", "extended thinking"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type", "server tools"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":["a","b","c","d","e"]}`, "stop_sequences", "at most 4"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}]}`, "messages[0].content[0].content[0].type", "only text"},
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool"}}`, "tool_choice.name", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.param+" "+tt.msg, func(t *testing.T) {
			_, err := MessagesToChat([]byte(tt.in), "gpt-x")
			wantRefusal(t, err, tt.param, tt.msg)
		})
	}
}

// TestRequestRoundTrip checks that an OpenAI request sent through Anthropic's shape and back
// says the same thing, for requests that both APIs can express.
func TestRequestRoundTrip(t *testing.T) {
	in := `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"},
	  {"role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
	  {"role":"tool","tool_call_id":"c1","content":"18C"}],
	 "max_tokens":64,"temperature":0.3,"stop":["END"],"user":"u",
	 "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],"tool_choice":"auto","parallel_tool_calls":false}`
	mid, err := ChatToMessages([]byte(in), "claude")
	if err != nil {
		t.Fatal(err)
	}
	back, err := MessagesToChat(mid, "m")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, back, `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"},
	  {"role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
	  {"role":"tool","tool_call_id":"c1","content":"18C"}],
	 "max_tokens":64,"temperature":0.3,"stop":["END"],"user":"u",
	 "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],"tool_choice":"auto","parallel_tool_calls":false}`)
}

// Type errors are said in JSON's words, with no Go type names.
func TestMessagesTypeErrorsInWords(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":"hi","max_tokens":10}`:                                      "messages must be a list of {role, content}, not a string",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":"lots"}`:       "max_tokens must be a whole number, not a string",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":1.5}`:          `max_tokens must be a whole number, not 1.5`,
		`{"messages":[{"role":5,"content":"x"}],"max_tokens":10}`:                "messages[…].role must be a string, not a number",
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":1,"stream":1}`: "stream must be true or false, not a number",
	} {
		_, err := MessagesToChat([]byte(body), "m")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "anthropic.") {
			t.Errorf("%s: %v", body, err)
		}
	}
}
