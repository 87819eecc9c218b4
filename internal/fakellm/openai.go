package fakellm

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// embeddingDims is the size of the fake embedding vectors.
const embeddingDims = 64

// content is a message content: a string, or a list of parts with text.
type content string

func (c *content) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = content(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Text != "" {
			if sb.Len() > 0 {
				sb.WriteString("\n")
			}
			sb.WriteString(p.Text)
		}
	}
	*c = content(sb.String())
	return nil
}

type chatMessage struct {
	Role    string  `json:"role"`
	Content content `json:"content"`
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// lastUser is the last user message's text, which rules match against.
func lastUser(msgs []chatMessage) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return string(msgs[i].Content)
		}
	}
	return ""
}

// chat answers POST /v1/chat/completions, plain or as a server-sent event stream.
func (s *Server) chat(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, openAIShape, http.StatusBadRequest, "", "We could not parse the JSON body of your request. ("+err.Error()+")")
		return
	}
	if req.Model == "" {
		writeError(w, openAIShape, http.StatusBadRequest, "", "you must provide a model parameter")
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, openAIShape, http.StatusBadRequest, "", "[] is too short - 'messages'")
		return
	}
	reply, calls := s.answer(lastUser(req.Messages))
	if last := req.Messages[len(req.Messages)-1]; last.Role == "tool" {
		reply, calls = "tool result: "+string(last.Content), nil
	}
	finish := "stop"
	var toolCalls []map[string]any
	for i, c := range calls {
		finish = "tool_calls"
		toolCalls = append(toolCalls, map[string]any{"id": s.nextID("call_fake_") + "_" + string(rune('a'+i)), "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": c.Arguments}})
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += words(string(m.Content))
	}
	usage := chatUsage{PromptTokens: prompt, CompletionTokens: words(reply)}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	id := s.nextID("chatcmpl-fake-")
	created := time.Now().Unix()

	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": reply}
		if toolCalls != nil {
			msg["tool_calls"] = toolCalls
			if reply == "" {
				msg["content"] = nil
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []map[string]any{{
				"index":         0,
				"message":       msg,
				"finish_reason": finish,
			}},
			"usage": usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	sse(w, "", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for _, p := range pieces(reply) {
		sse(w, "", chunk(map[string]any{"content": p}, nil))
	}
	// Each call as OpenAI streams it: id and name first, then the arguments in two parts.
	for i, tc := range toolCalls {
		fn := tc["function"].(map[string]any)
		args := fn["arguments"].(string)
		half := len(args) / 2
		sse(w, "", chunk(map[string]any{"tool_calls": []map[string]any{{"index": i, "id": tc["id"], "type": "function",
			"function": map[string]any{"name": fn["name"], "arguments": ""}}}}, nil))
		for _, part := range []string{args[:half], args[half:]} {
			sse(w, "", chunk(map[string]any{"tool_calls": []map[string]any{{"index": i, "function": map[string]any{"arguments": part}}}}, nil))
		}
	}
	sse(w, "", chunk(map[string]any{}, finish))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		sse(w, "", map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": usage,
		})
	}
	w.Write([]byte("data: [DONE]\n\n"))
}

// embeddings answers POST /v1/embeddings with deterministic vectors.
func (s *Server) embeddings(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, openAIShape, http.StatusBadRequest, "", "We could not parse the JSON body of your request. ("+err.Error()+")")
		return
	}
	var inputs []string
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &inputs); err != nil || len(inputs) == 0 {
		writeError(w, openAIShape, http.StatusBadRequest, "", "'input' must be a string or a non-empty list of strings")
		return
	}
	if req.Model == "" {
		writeError(w, openAIShape, http.StatusBadRequest, "", "you must provide a model parameter")
		return
	}
	data := make([]map[string]any, len(inputs))
	tokens := 0
	for i, in := range inputs {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": Embed(in)}
		tokens += words(in)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// Embed is the fake embedding of text: its lower-cased words hashed into 64 signed buckets and
// normalised to unit length, so texts that share words have a higher cosine similarity. Text
// with no words gets the zero vector.
func Embed(text string) []float64 {
	v := make([]float64, embeddingDims)
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, f := range fields {
		h := fnv.New64a()
		h.Write([]byte(f))
		sum := h.Sum64()
		sign := 1.0
		if sum>>63 == 1 {
			sign = -1
		}
		v[sum%embeddingDims] += sign
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm > 0 {
		norm = math.Sqrt(norm)
		for i := range v {
			v[i] /= norm
		}
	}
	return v
}
