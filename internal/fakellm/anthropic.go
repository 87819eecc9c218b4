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
	reply := s.reply(lastUser(req.Messages))
	input := words(string(system))
	for _, m := range req.Messages {
		input += words(string(m.Content))
	}
	output := words(reply)
	id := s.nextID("msg_fake_")

	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content":     []map[string]any{{"type": "text", "text": reply}},
			"stop_reason": "end_turn", "stop_sequence": nil,
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
	sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})
	sse(w, "ping", map[string]any{"type": "ping"})
	for _, p := range pieces(reply) {
		sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": p}})
	}
	sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	sse(w, "message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": output}})
	sse(w, "message_stop", map[string]any{"type": "message_stop"})
}
