package anthropic

import (
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Unix(1767225600, 0) }

func TestMessagesResponseToChat(t *testing.T) {
	tests := []struct {
		name, in, want string
		usage          Usage
	}{
		{"text, end_turn, cached tokens counted as prompt tokens",
			`{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hello"},{"type":"text","text":" there"}],
			  "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":5}}`,
			`{"id":"msg_1","object":"chat.completion","created":1767225600,"model":"support-bot",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","refusal":null},"logprobs":null,"finish_reason":"stop"}],
			  "usage":{"prompt_tokens":115,"completion_tokens":3,"total_tokens":118,"prompt_tokens_details":{"cached_tokens":100}}}`,
			Usage{InputTokens: 115, OutputTokens: 3, CachedInputTokens: 100}},
		{"tool use",
			`{"id":"msg_2","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}],
			  "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":7}}`,
			`{"id":"msg_2","object":"chat.completion","created":1767225600,"model":"support-bot",
			  "choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,
			    "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],
			  "usage":{"prompt_tokens":20,"completion_tokens":7,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":0}}}`,
			Usage{InputTokens: 20, OutputTokens: 7}},
		{"max_tokens becomes length",
			`{"id":"msg_3","type":"message","content":[{"type":"text","text":"Once upon"}],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":2}}`,
			`{"id":"msg_3","object":"chat.completion","created":1767225600,"model":"support-bot",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"Once upon","refusal":null},"logprobs":null,"finish_reason":"length"}],
			  "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}`,
			Usage{InputTokens: 1, OutputTokens: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, u, err := messagesResponseToChat([]byte(tt.in), "support-bot", fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tt.want)
			if u != tt.usage {
				t.Fatalf("usage %+v, want %+v", u, tt.usage)
			}
		})
	}
	for _, bad := range []string{`not json`, `{"type":"error","error":{"type":"api_error","message":"x"}}`, `[]`} {
		_, _, err := MessagesResponseToChat([]byte(bad), "m")
		if e, ok := err.(*Error); !ok || e.Status != 502 {
			t.Errorf("%s: got %v, want a 502 translation error", bad, err)
		}
	}
}

func TestChatResponseToMessages(t *testing.T) {
	tests := []struct {
		name, in, want string
		usage          Usage
	}{
		{"text with cached tokens",
			`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-x","system_fingerprint":"fp",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},"logprobs":null,"finish_reason":"stop"}],
			  "usage":{"prompt_tokens":120,"completion_tokens":2,"total_tokens":122,"prompt_tokens_details":{"cached_tokens":100}}}`,
			`{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-route","content":[{"type":"text","text":"Hello"}],
			  "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":2,"cache_read_input_tokens":100}}`,
			Usage{InputTokens: 120, OutputTokens: 2, CachedInputTokens: 100}},
		{"tool calls, length and content filter map",
			`{"id":"c2","choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":[
			   {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
			   {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},"finish_reason":"tool_calls"}],
			  "usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`,
			`{"id":"c2","type":"message","role":"assistant","model":"claude-route","content":[{"type":"text","text":"Checking."},
			   {"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"now","input":{}}],
			  "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":4}}`,
			Usage{InputTokens: 9, OutputTokens: 4}},
		{"length, no usage",
			`{"id":"c3","choices":[{"index":0,"message":{"role":"assistant","content":"Once"},"finish_reason":"length"}]}`,
			`{"id":"c3","type":"message","role":"assistant","model":"claude-route","content":[{"type":"text","text":"Once"}],
			  "stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}`,
			Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, u, err := ChatResponseToMessages([]byte(tt.in), "claude-route")
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tt.want)
			if u != tt.usage {
				t.Fatalf("usage %+v, want %+v", u, tt.usage)
			}
		})
	}
	for _, bad := range []string{`nope`, `{"choices":[]}`, `{"choices":[{"message":{"tool_calls":[{"id":"x","function":{"name":"f","arguments":"{oops"}}]}}]}`} {
		_, _, err := ChatResponseToMessages([]byte(bad), "m")
		if e, ok := err.(*Error); !ok || e.Status != 502 {
			t.Errorf("%s: got %v, want a 502 translation error", bad, err)
		}
	}
}

// TestResponseRoundTrip: an Anthropic answer through OpenAI's shape and back keeps its
// content, stop reason and usage.
func TestResponseRoundTrip(t *testing.T) {
	in := `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}],
	  "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3,"cache_read_input_tokens":90}}`
	chat, u1, err := MessagesResponseToChat([]byte(in), "m")
	if err != nil {
		t.Fatal(err)
	}
	back, u2, err := ChatResponseToMessages(chat, "claude-x")
	if err != nil {
		t.Fatal(err)
	}
	if u1 != u2 {
		t.Fatalf("usage changed: %+v then %+v", u1, u2)
	}
	sameJSON(t, back, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}],
	  "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3,"cache_read_input_tokens":90}}`)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		status          int
		body            string
		toOpenAI        string
		openAIStatus    int
		fromOpenAIInput string
		toAnthropic     string
	}{
		{400, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`,
			`{"error":{"message":"max_tokens: Field required","type":"invalid_request_error","param":null,"code":null}}`, 400,
			`{"error":{"message":"Unrecognized request argument supplied: foo","type":"invalid_request_error","param":"foo","code":null}}`,
			`{"type":"error","error":{"type":"invalid_request_error","message":"foo: Unrecognized request argument supplied: foo"}}`},
		{401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
			`{"error":{"message":"invalid x-api-key","type":"authentication_error","param":null,"code":"invalid_api_key"}}`, 401,
			`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			`{"type":"error","error":{"type":"authentication_error","message":"Incorrect API key provided"}}`},
		{429, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`,
			`{"error":{"message":"Number of requests has exceeded your rate limit","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`, 429,
			`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			`{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached"}}`},
		{529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			`{"error":{"message":"Overloaded","type":"server_error","param":null,"code":"overloaded"}}`, 503,
			`{"error":{"message":"The engine is currently overloaded","type":"server_error","param":null,"code":null}}`,
			`{"type":"error","error":{"type":"overloaded_error","message":"The engine is currently overloaded"}}`},
		{500, `<html>Bad Gateway</html>`,
			`{"error":{"message":"the upstream answered Internal Server Error (the upstream said: <html>Bad Gateway</html>)","type":"server_error","param":null,"code":null}}`, 500,
			``,
			`{"type":"error","error":{"type":"api_error","message":"the upstream answered Internal Server Error"}}`},
	}
	for _, tt := range tests {
		sameJSON(t, ErrorToOpenAI(tt.status, []byte(tt.body)), tt.toOpenAI)
		if got := StatusToOpenAI(tt.status); got != tt.openAIStatus {
			t.Errorf("StatusToOpenAI(%d) = %d, want %d", tt.status, got, tt.openAIStatus)
		}
		sameJSON(t, ErrorToAnthropic(tt.status, []byte(tt.fromOpenAIInput)), tt.toAnthropic)
	}
	sameJSON(t, ErrorToAnthropic(503, nil), `{"type":"error","error":{"type":"overloaded_error","message":"the upstream answered Service Unavailable"}}`)

	_, err := ChatToMessages([]byte(`{"messages":[{"role":"user","content":"x"}],"n":3}`), "m")
	status, body := OpenAIError(err)
	if status != 400 {
		t.Fatalf("status %d", status)
	}
	sameJSON(t, body, `{"error":{"message":"n: is 3; Anthropic returns one choice per request: send n requests instead","type":"invalid_request_error","param":"n","code":null}}`)
	status, body = AnthropicError(err)
	if status != 400 {
		t.Fatalf("status %d", status)
	}
	sameJSON(t, body, `{"type":"error","error":{"type":"invalid_request_error","message":"n: is 3; Anthropic returns one choice per request: send n requests instead"}}`)
}
