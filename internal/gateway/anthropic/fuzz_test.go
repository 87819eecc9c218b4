package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// The fuzz tests check that no input makes a translator panic, and that what it writes is
// well formed: JSON bodies, and streams whose every event carries JSON.

var requestSeeds = []string{
	`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},
	  {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],
	  "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","stop":["a"],"max_tokens":3,"temperature":0.5}`,
	`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"x"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]},
	  {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"f"},"stream":true}`,
	`{}`, `null`, `[]`, `{"messages":null}`, `{"messages":[{"role":"user","content":{}}]}`,
}

func checkBody(t *testing.T, out []byte, err error) {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Status == 0 {
			t.Fatalf("an error that is not a translation error: %v", err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("output is not JSON: %s", out)
	}
}

func FuzzRequests(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ChatToMessages(body, "m")
		checkBody(t, out, err)
		out, err = MessagesToChat(body, "m")
		checkBody(t, out, err)
	})
}

func FuzzResponses(f *testing.F) {
	for _, s := range []string{
		`{"id":"msg","type":"message","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2,"cache_read_input_tokens":3}}`,
		`{"id":"c","choices":[{"message":{"content":"a","tool_calls":[{"id":"x","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":9}}}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, `{"error":{"message":"x","type":"requests","param":"p"}}`, ``,
	} {
		f.Add([]byte(s), 200)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		out, _, err := MessagesResponseToChat(body, "m")
		checkBody(t, out, err)
		out, u, err := ChatResponseToMessages(body, "m")
		checkBody(t, out, err)
		if u.CachedInputTokens > u.InputTokens && u.CachedInputTokens > 0 {
			t.Fatalf("more cached tokens than input tokens: %+v", u)
		}
		for _, b := range [][]byte{ErrorToOpenAI(status, body), ErrorToAnthropic(status, body)} {
			if !json.Valid(b) {
				t.Fatalf("error body is not JSON: %s", b)
			}
		}
	})
}

// checkStream fails t unless every event in out carries JSON (or [DONE]).
func checkStream(t *testing.T, out string) {
	for _, ev := range strings.Split(out, "\n\n") {
		if ev == "" {
			continue
		}
		i := strings.Index(ev, "data: ")
		if i < 0 {
			t.Fatalf("an event without data: %q", ev)
		}
		data := ev[i+len("data: "):]
		if data != "[DONE]" && !json.Valid([]byte(data)) {
			t.Fatalf("an event's data is not JSON: %q", data)
		}
	}
}

func FuzzStreams(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.txtar")
	for _, file := range files {
		if ar, err := txtar.ParseFile(file); err == nil {
			f.Add(ar.Files[0].Data)
		}
	}
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"x\"}}\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"x\"}}]}}]}\n\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		var out bytes.Buffer
		if _, err := MessagesStreamToChat(&out, func() {}, bytes.NewReader(src), "m", true); err == nil && !strings.HasSuffix(out.String(), "data: [DONE]\n\n") {
			t.Fatalf("a stream translated without error does not end with [DONE]: %q", out.String())
		}
		checkStream(t, out.String())
		out.Reset()
		if _, err := ChatStreamToMessages(&out, nil, io.MultiReader(bytes.NewReader(src)), "m"); err == nil && !strings.HasSuffix(out.String(), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
			t.Fatalf("a stream translated without error does not end with message_stop: %q", out.String())
		}
		checkStream(t, out.String())
	})
}
