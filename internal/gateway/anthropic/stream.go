package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// maxEventBytes bounds one server-sent event; a longer one is malformed.
const maxEventBytes = 16 << 20

// sseReader reads server-sent events one at a time, as their bytes arrive.
type sseReader struct {
	r *bufio.Reader
}

func newSSEReader(src io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(src, 16<<10)} }

// next returns the next event's name and data (data lines joined by newlines). At the end
// of the input it returns io.EOF; an event cut off by the end is still returned.
func (s *sseReader) next() (event string, data []byte, err error) {
	var buf []byte
	have := false
	for {
		line, err := s.readLine()
		if err != nil && len(line) == 0 {
			if err == io.EOF && have {
				return event, buf, nil
			}
			return "", nil, err
		}
		switch {
		case len(line) == 0:
			if have {
				return event, buf, nil
			}
			event = "" // an event with no data is not dispatched
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			d := line[len("data:"):]
			if len(d) > 0 && d[0] == ' ' {
				d = d[1:]
			}
			if have {
				buf = append(buf, '\n')
			}
			buf, have = append(buf, d...), true
			if len(buf) > maxEventBytes {
				return "", nil, fmt.Errorf("an event is longer than %d bytes", maxEventBytes)
			}
		}
		if err != nil { // a last line without its newline
			if have {
				return event, buf, nil
			}
			return "", nil, err
		}
	}
}

// readLine reads one line without its line ending.
func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		part, err := s.r.ReadSlice('\n')
		line = append(line, part...)
		if err == bufio.ErrBufferFull {
			if len(line) > maxEventBytes {
				return nil, fmt.Errorf("a line is longer than %d bytes", maxEventBytes)
			}
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		return line, err
	}
}

// Chunk shapes.
type (
	chatChunk struct {
		ID      string        `json:"id"`
		Object  string        `json:"object"`
		Created int64         `json:"created"`
		Model   string        `json:"model"`
		Choices []chunkChoice `json:"choices"`
		Usage   *chatUsage    `json:"usage,omitempty"`
	}
	chunkChoice struct {
		Index        int        `json:"index"`
		Delta        chunkDelta `json:"delta"`
		Logprobs     *struct{}  `json:"logprobs"`
		FinishReason *string    `json:"finish_reason"`
	}
	chunkDelta struct {
		Role      string         `json:"role,omitempty"`
		Content   *string        `json:"content,omitempty"`
		ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
	}
	msgEventIn struct {
		Type    string `json:"type"`
		Message *struct {
			ID    string    `json:"id"`
			Usage *msgUsage `json:"usage"`
		} `json:"message"`
		Index        int         `json:"index"`
		ContentBlock *msgBlockIn `json:"content_block"`
		Delta        *struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			PartialJSON string `json:"partial_json"`
			StopReason  string `json:"stop_reason"`
		} `json:"delta"`
		Usage *msgUsage           `json:"usage"`
		Error *anthropicErrorBody `json:"error"`
	}
)

// MessagesStreamToChat translates an Anthropic Messages event stream into OpenAI chat
// completion chunks named model, writing and flushing each chunk as soon as the event that
// makes it has arrived; it ends with data: [DONE]. With includeUsage a last chunk carries the
// usage (stream_options.include_usage). An error event, a malformed event or a stream that
// ends before message_stop is written as an OpenAI error chunk and returned.
func MessagesStreamToChat(dst io.Writer, flush func(), src io.Reader, model string, includeUsage bool) (Usage, error) {
	return messagesStreamToChat(dst, flush, src, model, includeUsage, nowFunc)
}

func messagesStreamToChat(dst io.Writer, flush func(), src io.Reader, model string, includeUsage bool, now func() time.Time) (Usage, error) {
	w := &sseWriter{dst: dst, flush: flush}
	var usage msgUsage
	chunk := chatChunk{Object: "chat.completion.chunk", Created: now().Unix(), Model: model}
	started := false
	toolIndex := map[int]int{} // Anthropic block index -> OpenAI tool call index
	emit := func(d chunkDelta, finish *string) error {
		c := chunk
		c.Choices = []chunkChoice{{Delta: d, FinishReason: finish}}
		return w.data(mustJSON(c))
	}
	fail := func(kind, code string, err error) (Usage, error) {
		typ, _ := openAIType(kind, 502)
		_ = w.data(mustJSON(openAIError{Error: openAIErrorBody{Message: err.Error(), Type: typ, Code: strPtr(code)}}))
		return usage.usage(), err
	}
	r := newSSEReader(src)
	for {
		_, data, err := r.next()
		if err == io.EOF {
			return fail("", "stream_cut", malformed("the stream ended before message_stop"))
		}
		if err != nil {
			return fail("", "stream_error", err)
		}
		var ev msgEventIn
		if err := json.Unmarshal(data, &ev); err != nil {
			return fail("", "bad_upstream_response", malformed("an event is not JSON (%s): %s", jsonErr(err), oneLine(string(data), 120)))
		}
		if !started && ev.Type != "message_start" && ev.Type != "ping" && ev.Type != "error" {
			return fail("", "bad_upstream_response", malformed("the stream starts with %q, not message_start", ev.Type))
		}
		switch ev.Type {
		case "message_start":
			if started {
				return fail("", "bad_upstream_response", malformed("a second message_start"))
			}
			started = true
			if ev.Message != nil {
				chunk.ID = ev.Message.ID
				if ev.Message.Usage != nil {
					usage = *ev.Message.Usage
				}
			}
			empty := ""
			err = emit(chunkDelta{Role: "assistant", Content: &empty}, nil)
		case "content_block_start":
			b := ev.ContentBlock
			switch {
			case b == nil:
				return fail("", "bad_upstream_response", malformed("content_block_start without a content_block"))
			case b.Type == "text" && b.Text != "":
				err = emit(chunkDelta{Content: &b.Text}, nil)
			case b.Type == "tool_use":
				i := len(toolIndex)
				toolIndex[ev.Index] = i
				tc := chatToolCall{Index: &i, ID: b.ID, Type: "function"}
				tc.Function.Name = b.Name
				err = emit(chunkDelta{ToolCalls: []chatToolCall{tc}}, nil)
			}
		case "content_block_delta":
			d := ev.Delta
			if d == nil {
				return fail("", "bad_upstream_response", malformed("content_block_delta without a delta"))
			}
			switch d.Type {
			case "text_delta":
				err = emit(chunkDelta{Content: &d.Text}, nil)
			case "input_json_delta":
				if d.PartialJSON == "" {
					break
				}
				i, ok := toolIndex[ev.Index]
				if !ok {
					return fail("", "bad_upstream_response", malformed("input_json_delta for block %d, which is not a tool_use block", ev.Index))
				}
				tc := chatToolCall{Index: &i}
				tc.Function.Arguments = d.PartialJSON
				err = emit(chunkDelta{ToolCalls: []chatToolCall{tc}}, nil)
			}
			// thinking_delta, signature_delta and citations_delta have no OpenAI counterpart.
		case "message_delta":
			if u := ev.Usage; u != nil {
				// output_tokens is cumulative; the input counts are repeated only by some
				// API versions, so they are kept from message_start unless given again.
				usage.OutputTokens = u.OutputTokens
				if u.InputTokens > 0 {
					usage.InputTokens = u.InputTokens
				}
				if u.CacheReadInputTokens != nil {
					usage.CacheReadInputTokens = u.CacheReadInputTokens
				}
				if u.CacheCreationInputTokens != nil {
					usage.CacheCreationInputTokens = u.CacheCreationInputTokens
				}
			}
			if ev.Delta != nil && ev.Delta.StopReason != "" {
				f := finishReason(ev.Delta.StopReason)
				err = emit(chunkDelta{}, &f)
			}
		case "message_stop":
			if includeUsage {
				c := chunk
				c.Choices = []chunkChoice{}
				c.Usage = toChatUsage(usage.usage())
				if err := w.data(mustJSON(c)); err != nil {
					return usage.usage(), err
				}
			}
			return usage.usage(), w.data([]byte("[DONE]"))
		case "error":
			kind, msg := "", "the upstream reported an error in the stream"
			if ev.Error != nil {
				kind = ev.Error.Type
				if ev.Error.Message != "" {
					msg = ev.Error.Message
				}
			}
			_, code := openAIType(kind, 502)
			if code == "" {
				code = kind
			}
			return fail(kind, code, &Error{Status: 502, Message: msg})
		}
		// ping, content_block_stop and event types added later carry nothing to translate.
		if err != nil {
			return usage.usage(), err
		}
	}
}

// sseWriter writes events and flushes each one.
type sseWriter struct {
	dst   io.Writer
	flush func()
}

func (w *sseWriter) data(b []byte) error {
	buf := make([]byte, 0, len(b)+8)
	buf = append(append(append(buf, "data: "...), b...), "\n\n"...)
	return w.write(buf)
}

func (w *sseWriter) event(name string, v any) error {
	b := mustJSON(v)
	buf := make([]byte, 0, len(b)+len(name)+16)
	buf = append(append(append(append(append(buf, "event: "...), name...), "\ndata: "...), b...), "\n\n"...)
	return w.write(buf)
}

func (w *sseWriter) write(b []byte) error {
	if _, err := w.dst.Write(b); err != nil {
		return err
	}
	if w.flush != nil {
		w.flush()
	}
	return nil
}

// chatChunkIn is an OpenAI chunk, as read.
type chatChunkIn struct {
	ID      string `json:"id"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string        `json:"content"`
			Refusal   *string        `json:"refusal"`
			ToolCalls []chatToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage       `json:"usage"`
	Error *openAIErrorBody `json:"error"`
}

// Anthropic event shapes, as written.
type (
	msgStartEvent struct {
		Type    string      `json:"type"`
		Message msgResponse `json:"message"`
	}
	blockStartEvent struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}
	textStart struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	blockDeltaEvent struct {
		Type  string     `json:"type"`
		Index int        `json:"index"`
		Delta blockDelta `json:"delta"`
	}
	blockDelta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
	}
	indexEvent struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	msgDeltaEvent struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage msgUsage `json:"usage"`
	}
	typeEvent struct {
		Type string `json:"type"`
	}
)

// ChatStreamToMessages translates an OpenAI chat completion chunk stream into Anthropic
// Messages events for model, writing and flushing each event as soon as the chunk that makes
// it has arrived. Only the first choice is kept. The usage is reported in message_delta
// (the upstream must be asked for it with stream_options.include_usage, as MessagesToChat
// does). An error chunk, a malformed chunk or a stream that ends before its finish_reason is
// written as an Anthropic error event and returned.
func ChatStreamToMessages(dst io.Writer, flush func(), src io.Reader, model string) (Usage, error) {
	w := &sseWriter{dst: dst, flush: flush}
	var usage Usage
	started, finish := false, ""
	block := -1            // the open content block's index, or -1
	text := false          // whether the open block is a text block
	blocks := 0            // content blocks started so far
	tools := map[int]int{} // OpenAI tool call index -> Anthropic block index
	fail := func(status int, err error) (Usage, error) {
		_ = w.event("error", anthropicError{Type: "error", Error: anthropicErrorBody{Type: anthropicType(status), Message: err.Error()}})
		return usage, err
	}
	start := func(id string) error {
		started = true
		return w.event("message_start", msgStartEvent{Type: "message_start", Message: msgResponse{
			ID: id, Type: "message", Role: "assistant", Model: model, Content: []msgBlock{}}})
	}
	closeBlock := func() error {
		if block < 0 {
			return nil
		}
		i := block
		block = -1
		return w.event("content_block_stop", indexEvent{Type: "content_block_stop", Index: i})
	}
	openBlock := func(b any) error {
		if err := closeBlock(); err != nil {
			return err
		}
		_, text = b.(textStart)
		block = blocks
		blocks++
		return w.event("content_block_start", blockStartEvent{Type: "content_block_start", Index: block, ContentBlock: b})
	}
	end := func() (Usage, error) {
		if !started {
			if err := start(""); err != nil {
				return usage, err
			}
		}
		if err := closeBlock(); err != nil {
			return usage, err
		}
		ev := msgDeltaEvent{Type: "message_delta", Usage: toMsgUsage(usage)}
		ev.Delta.StopReason = stopReason(finish)
		if err := w.event("message_delta", ev); err != nil {
			return usage, err
		}
		return usage, w.event("message_stop", typeEvent{Type: "message_stop"})
	}
	r := newSSEReader(src)
	for {
		_, data, err := r.next()
		if err == io.EOF {
			if finish != "" { // some servers end without [DONE]
				return end()
			}
			return fail(502, malformed("the stream ended before its finish_reason"))
		}
		if err != nil {
			return fail(502, err)
		}
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			return end()
		}
		var c chatChunkIn
		if err := json.Unmarshal(data, &c); err != nil {
			return fail(502, malformed("a chunk is not JSON (%s): %s", jsonErr(err), oneLine(string(data), 120)))
		}
		if c.Error != nil {
			status := 502
			switch c.Error.Type {
			case "rate_limit_error", "rate_limit_exceeded", "requests", "tokens":
				status = 429
			case "invalid_request_error":
				status = 400
			}
			return fail(status, &Error{Status: status, Message: c.Error.Message})
		}
		if !started {
			if err := start(c.ID); err != nil {
				return usage, err
			}
		}
		if c.Usage != nil {
			usage = c.Usage.usage()
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			d := ch.Delta
			for _, s := range []*string{d.Content, d.Refusal} {
				if s == nil || *s == "" {
					continue
				}
				if block < 0 || !text {
					if err := openBlock(textStart{Type: "text"}); err != nil {
						return usage, err
					}
				}
				if err := w.event("content_block_delta", blockDeltaEvent{Type: "content_block_delta", Index: block,
					Delta: blockDelta{Type: "text_delta", Text: s}}); err != nil {
					return usage, err
				}
			}
			for pos, tc := range d.ToolCalls {
				ti := pos
				if tc.Index != nil {
					ti = *tc.Index
				}
				bi, seen := tools[ti]
				if !seen {
					if tc.ID == "" || tc.Function.Name == "" {
						return fail(502, malformed("tool call %d starts without an id and a name", ti))
					}
					if err := openBlock(msgBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage(`{}`)}); err != nil {
						return usage, err
					}
					tools[ti], bi = block, block
				} else if bi != block {
					return fail(502, malformed("tool call %d continues after another block started", ti))
				}
				if args := tc.Function.Arguments; args != "" {
					if err := w.event("content_block_delta", blockDeltaEvent{Type: "content_block_delta", Index: bi,
						Delta: blockDelta{Type: "input_json_delta", PartialJSON: &args}}); err != nil {
						return usage, err
					}
				}
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finish = *ch.FinishReason
				if err := closeBlock(); err != nil {
					return usage, err
				}
			}
		}
	}
}
