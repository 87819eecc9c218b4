package fakellm

import (
	"encoding/json"
	"net/http"
)

type messagesRequest struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []chatMessage   `json:"messages"`
	Stream    bool            `json:"stream"`
}

// messages answers POST /v1/messages the way Anthropic's Messages API does, including its
// refusals of requests that OpenAI would accept (no max_tokens, a "system" role message).
func (s *Server) messages(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, anthropicShape, http.StatusBadRequest, "", "There was an issue with your request body: "+err.Error())
		return
	}
	switch {
	case req.Model == "":
		writeError(w, anthropicShape, http.StatusBadRequest, "", "model: Field required")
		return
	case req.MaxTokens == nil:
		writeError(w, anthropicShape, http.StatusBadRequest, "", "max_tokens: Field required")
		return
	case len(req.Messages) == 0:
		writeError(w, anthropicShape, http.StatusBadRequest, "", "messages: at least one message is required")
		return
	}
	for _, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			writeError(w, anthropicShape, http.StatusBadRequest, "",
				`messages: Unexpected role "`+m.Role+`". The Messages API accepts a top-level `+"`system`"+` parameter, not "system" as an input message role.`)
			return
		}
	}
	var system content
	if len(req.System) > 0 {
		if err := json.Unmarshal(req.System, &system); err != nil {
			writeError(w, anthropicShape, http.StatusBadRequest, "", "system: Input should be a valid string or list of text blocks")
			return
		}
	}
	reply, calls := s.answer(lastUser(req.Messages))
	input := words(string(system))
	for _, m := range req.Messages {
		input += words(string(m.Content))
	}
	output := words(reply)
	id := s.nextID("msg_fake_")

	stop := "end_turn"
	var blocks []map[string]any
	var args []string // each tool_use block's arguments as written
	if reply != "" || len(calls) == 0 {
		blocks = append(blocks, map[string]any{"type": "text", "text": reply})
	}
	for i, c := range calls {
		stop = "tool_use"
		// input is a JSON object; arguments that are not JSON travel as a JSON string (a
		// plain answer must stay valid JSON), streamed as written.
		var input any = json.RawMessage(c.Arguments)
		if !json.Valid([]byte(c.Arguments)) {
			input = c.Arguments
		}
		blocks = append(blocks, map[string]any{"type": "tool_use", "id": s.nextID("toolu_fake_") + "_" + string(rune('a'+i)),
			"name": c.Name, "input": input})
		args = append(args, c.Arguments)
	}

	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content":     blocks,
			"stop_reason": stop, "stop_sequence": nil,
			"usage": map[string]int{"input_tokens": input, "output_tokens": output},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	sse(w, "message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": input, "output_tokens": 1},
	}})
	sse(w, "ping", map[string]any{"type": "ping"})
	// Each block as Anthropic streams it: text in word deltas, a tool_use's input as JSON
	// text in two parts.
	for i, b := range blocks {
		start := map[string]any{"type": b["type"], "text": ""}
		if b["type"] == "tool_use" {
			start = map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}
		}
		sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": start})
		if b["type"] == "text" {
			for _, p := range pieces(reply) {
				sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
					"delta": map[string]any{"type": "text_delta", "text": p}})
			}
		} else {
			a := args[i-(len(blocks)-len(args))]
			half := len(a) / 2
			for _, part := range []string{a[:half], a[half:]} {
				sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
					"delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
			}
		}
		sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	sse(w, "message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": output}})
	sse(w, "message_stop", map[string]any{"type": "message_stop"})
}
