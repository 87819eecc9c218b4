package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/gateway/anthropic"
	"github.com/plumbhq/plumb/internal/guard/policy"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// messagesStream applies the route's guard policy and tool policy to the stream an
// Anthropic client gets, event by event, whether its Anthropic upstream's events pass
// through or an OpenAI upstream's chunks were translated. Text deltas go through a
// policy.Stream, as a chat stream's content does (guardStream): redacted text is rewritten
// in content_block_delta, and a block ends the stream with an error event. tool_use blocks
// are held back until the message ends (message_delta), then judged as toolStream judges a
// chat stream's calls: a forbidden call ends the stream with an error event; allowed calls
// are sent whole, one block each; held calls are stored and listed in message_delta's
// plumb_approvals. Blocks keep their order, renumbered as they reach the client so that
// held blocks leave no gap. With a guard policy, a tool_use block's input is checked
// (policy.CheckArguments) before it goes out, redacted or ending the stream as a blocked
// text does; without a tool policy the block is held only until its content_block_stop.
type messagesStream struct {
	c   *call
	ctx context.Context
	dst io.Writer
	// The route's guard policy, when it has output steps (st nil otherwise).
	name  string
	pol   *policy.Compiled
	st    *policy.Stream
	tools bool // the route has a tool policy: tool_use blocks are held to the message's end

	index map[int]int        // upstream block index -> the client's, for blocks let through
	next  int                // the client's next block index
	text  map[int]bool       // upstream indexes of text blocks
	held  map[int]*toolBlock // tool_use blocks held back, by upstream index
	order []*toolBlock       // the same, in order, until the message's end (tools)
	sent  map[int]bool       // tool_use blocks checked and sent at their content_block_stop
	said  bool               // text reached the client
	ended bool               // the message's end was judged
	err   error              // what ended the stream: every later write fails with it
}

// toolBlock is a tool_use block held back until the message ends.
type toolBlock struct {
	start    map[string]json.RawMessage // its content_block_start's content_block
	id, name string
	args     strings.Builder // the input_json_delta parts
}

// messagesStreamWriter is the checker of an Anthropic client's stream, or nil when the
// route has neither a guard policy with output steps nor a tool policy.
func (c *call) messagesStreamWriter(ctx context.Context, dst io.Writer) *messagesStream {
	name, pol := c.policy()
	guarded := pol != nil && pol.Has(policy.Output)
	if !guarded && c.route.Tools.Empty() {
		return nil
	}
	m := &messagesStream{c: c, ctx: ctx, dst: dst, tools: !c.route.Tools.Empty(),
		index: map[int]int{}, text: map[int]bool{}, held: map[int]*toolBlock{}, sent: map[int]bool{}}
	if guarded {
		m.name, m.pol, m.st = name, pol, pol.Stream()
	}
	return m
}

// Write takes one whole event.
func (m *messagesStream) Write(ev []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	data, ok := eventData(ev)
	var f map[string]json.RawMessage
	if !ok || json.Unmarshal(data, &f) != nil {
		// A comment, or a malformed event the translation reports.
		return len(ev), m.write(ev)
	}
	var typ string
	var idx int
	_ = json.Unmarshal(f["type"], &typ)
	_ = json.Unmarshal(f["index"], &idx)
	var err error
	switch typ {
	case "content_block_start":
		err = m.blockStart(idx, f, ev)
	case "content_block_delta":
		err = m.blockDelta(idx, f, ev)
	case "content_block_stop":
		err = m.blockStop(idx, f, ev)
	case "message_delta":
		err = m.end(f, ev)
	case "message_stop":
		if !m.ended {
			err = m.end(nil, nil)
		}
		if err == nil {
			err = m.write(ev)
		}
	default: // message_start, ping, error, and event types added later
		err = m.write(ev)
	}
	if err != nil {
		return 0, err
	}
	return len(ev), nil
}

func (m *messagesStream) blockStart(idx int, f map[string]json.RawMessage, ev []byte) error {
	var b map[string]json.RawMessage
	_ = json.Unmarshal(f["content_block"], &b)
	var typ, text string
	_ = json.Unmarshal(b["type"], &typ)
	switch {
	case typ == "tool_use" && (m.tools || m.st != nil):
		tb := &toolBlock{start: b}
		_ = json.Unmarshal(b["id"], &tb.id)
		_ = json.Unmarshal(b["name"], &tb.name)
		m.held[idx] = tb
		m.order = append(m.order, tb)
		return nil
	case typ == "text":
		m.text[idx] = true
		if json.Unmarshal(b["text"], &text) == nil && text != "" {
			out, err := m.check(text)
			if err != nil {
				return err
			}
			if out != text {
				b["text"] = marshal(out)
				f["content_block"], ev = marshal(b), nil
			}
			m.said = m.said || out != ""
		}
	}
	m.index[idx] = m.next
	m.next++
	return m.relay(idx, "content_block_start", f, ev)
}

func (m *messagesStream) blockDelta(idx int, f map[string]json.RawMessage, ev []byte) error {
	if tb := m.held[idx]; tb != nil {
		var d struct {
			PartialJSON string `json:"partial_json"`
		}
		_ = json.Unmarshal(f["delta"], &d)
		tb.args.WriteString(d.PartialJSON)
		return nil
	}
	if m.sent[idx] {
		// More input for a call already checked and sent: it would reach the client unchecked.
		return m.fail(m.c.uncheckedCalls(m.name, "The model's stream went on with a tool call after it ended; the guard policy could not check it whole, so it was blocked."), errGuardBlocked)
	}
	var d map[string]json.RawMessage
	_ = json.Unmarshal(f["delta"], &d)
	var typ, text string
	_ = json.Unmarshal(d["type"], &typ)
	if typ == "text_delta" && json.Unmarshal(d["text"], &text) == nil {
		out, err := m.check(text)
		if err != nil {
			return err
		}
		if out == "" && m.st != nil {
			return nil // held back, or nothing
		}
		if out != text {
			d["text"] = marshal(out)
			f["delta"], ev = marshal(d), nil
		}
		m.said = m.said || out != ""
	}
	return m.relay(idx, "content_block_delta", f, ev)
}

func (m *messagesStream) blockStop(idx int, f map[string]json.RawMessage, ev []byte) error {
	if tb := m.held[idx]; tb != nil {
		if m.tools {
			return nil // judged at the message's end
		}
		// Only the guard policy holds it: it is whole.
		delete(m.held, idx)
		m.sent[idx] = true
		m.order = slices.DeleteFunc(m.order, func(b *toolBlock) bool { return b == tb })
		args, err := m.checkArgs(tb)
		if err != nil {
			return err
		}
		return m.sendTool(tb, args)
	}
	if m.text[idx] && m.st != nil {
		// What the policy holds back belongs to this block: out before it ends.
		out, r, err := m.st.Flush(m.ctx)
		m.logStream()
		if err != nil || r != nil {
			return m.blockGuard(m.st.Judged(), r, err)
		}
		if out != "" {
			if err := m.write(msgEvent("content_block_delta", textDelta(m.index[idx], out))); err != nil {
				return err
			}
			m.said = true
		}
	}
	return m.relay(idx, "content_block_stop", f, ev)
}

// end judges the message as it ends, before its message_delta (f, as the event ev) goes
// out: the guard policy's whole-text steps, then the held tool calls. f is nil at a
// message_stop without a message_delta.
func (m *messagesStream) end(f map[string]json.RawMessage, ev []byte) error {
	m.ended = true
	if m.st != nil {
		out, r, err := m.st.Close(m.ctx)
		m.logStream()
		if err != nil || r != nil {
			return m.blockGuard(m.st.Judged(), r, err)
		}
		if out != "" { // the text of a block the upstream never ended
			if err := m.textBlock(out); err != nil {
				return err
			}
		}
	}
	held, kept, err := m.releaseTools()
	if err != nil {
		return err
	}
	if len(held) > 0 && kept == 0 && !m.said {
		if err := m.textBlock(heldText(held)); err != nil {
			return err
		}
	}
	if f == nil {
		return nil
	}
	if len(held) > 0 {
		if kept == 0 {
			var d map[string]json.RawMessage
			_ = json.Unmarshal(f["delta"], &d)
			if d == nil {
				d = map[string]json.RawMessage{}
			}
			d["stop_reason"] = marshal("end_turn")
			f["delta"] = marshal(d)
		}
		f["plumb_approvals"] = marshal(held)
		return m.write(msgEvent("message_delta", f))
	}
	return m.write(ev)
}

// releaseTools judges the held tool_use blocks: it stores the approvals of those that need
// one, then sends the allowed ones whole, and returns the held calls and how many were
// sent. A forbidden call, or an approval that cannot be stored, ends the stream.
func (m *messagesStream) releaseTools() ([]HeldCall, int, error) {
	if len(m.order) == 0 {
		return nil, 0, nil
	}
	calls := make([]toolCall, len(m.order))
	for i, tb := range m.order {
		args, err := m.checkArgs(tb)
		if err != nil {
			return nil, 0, err
		}
		calls[i] = toolCall{ID: tb.id, Type: "function"}
		calls[i].Function.Name, calls[i].Function.Arguments = tb.name, args
	}
	if !m.tools { // blocks the upstream never ended, held by the guard policy
		for i, tb := range m.order {
			if err := m.sendTool(tb, calls[i].Function.Arguments); err != nil {
				return nil, 0, err
			}
		}
		return nil, len(calls), nil
	}
	js, aerr := m.c.judge(calls)
	if aerr != nil {
		return nil, 0, m.blockTools(aerr)
	}
	var held []HeldCall
	for _, j := range js {
		if j.d.Action != toolpolicy.ActionApprove {
			continue
		}
		hc, aerr := m.c.hold(m.ctx, j)
		if aerr != nil {
			return nil, 0, m.blockTools(aerr)
		}
		held = append(held, hc)
	}
	kept := 0
	for i, j := range js {
		if j.d.Action == toolpolicy.ActionApprove {
			continue
		}
		kept++
		if err := m.sendTool(m.order[i], j.call.Function.Arguments); err != nil {
			return nil, 0, err
		}
	}
	return held, kept, nil
}

// checkArgs returns a held tool_use block's input as it may go out: checked by the guard
// policy, if the route has one, and redacted; a block ends the stream. The input is the
// input_json_delta parts, else the content_block_start's input.
func (m *messagesStream) checkArgs(tb *toolBlock) (string, error) {
	args := tb.args.String()
	if in := tb.start["input"]; args == "" && len(in) > 0 && !bytes.Equal(in, []byte("{}")) {
		args = string(in)
	}
	if m.st == nil {
		return args, nil
	}
	out, r, err := m.c.guardArgs(m.ctx, m.name, m.pol, args)
	if err != nil || r != nil {
		return "", m.blockGuard(args, r, err)
	}
	return out, nil
}

// sendTool sends a held tool_use block whole, its input args in one input_json_delta.
func (m *messagesStream) sendTool(tb *toolBlock, args string) error {
	ci := m.next
	m.next++
	start := maps.Clone(tb.start)
	if len(start["input"]) > 0 {
		start["input"] = json.RawMessage("{}") // the input is args, in the delta
	}
	if err := m.write(msgEvent("content_block_start", map[string]any{"type": "content_block_start", "index": ci, "content_block": start})); err != nil {
		return err
	}
	if args != "" {
		if err := m.write(msgEvent("content_block_delta", map[string]any{"type": "content_block_delta", "index": ci,
			"delta": map[string]string{"type": "input_json_delta", "partial_json": args}})); err != nil {
			return err
		}
	}
	return m.write(msgEvent("content_block_stop", map[string]any{"type": "content_block_stop", "index": ci}))
}

// check passes a text delta through the guard policy's stream and returns what to let out.
func (m *messagesStream) check(text string) (string, error) {
	if m.st == nil {
		return text, nil
	}
	out, r, err := m.st.Write(m.ctx, text)
	m.logStream()
	if err != nil || r != nil {
		return "", m.blockGuard(m.st.Judged(), r, err)
	}
	return out, nil
}

// textBlock sends a text block of the gateway's own.
func (m *messagesStream) textBlock(text string) error {
	ci := m.next
	m.next++
	m.said = true
	for _, ev := range [][]byte{
		msgEvent("content_block_start", map[string]any{"type": "content_block_start", "index": ci, "content_block": map[string]string{"type": "text", "text": ""}}),
		msgEvent("content_block_delta", textDelta(ci, text)),
		msgEvent("content_block_stop", map[string]any{"type": "content_block_stop", "index": ci}),
	} {
		if err := m.write(ev); err != nil {
			return err
		}
	}
	return nil
}

func textDelta(index int, text string) map[string]any {
	return map[string]any{"type": "content_block_delta", "index": index, "delta": map[string]string{"type": "text_delta", "text": text}}
}

// relay sends a block's event with the block's index as the client knows it: ev as it
// came when nothing changed, else f re-encoded.
func (m *messagesStream) relay(idx int, name string, f map[string]json.RawMessage, ev []byte) error {
	ci, ok := m.index[idx]
	if ev != nil && (!ok || ci == idx) {
		return m.write(ev)
	}
	if ok {
		f["index"] = marshal(ci)
	}
	return m.write(msgEvent(name, f))
}

func (m *messagesStream) logStream() {
	policyGuard{name: m.name, log: m.c.g.log}.logStream(m.st)
}

func (m *messagesStream) blockGuard(judged string, r *policy.Result, err error) error {
	return m.fail(m.c.streamBlocked(m.name, m.pol, judged, r, err), errGuardBlocked)
}

func (m *messagesStream) blockTools(e *apiError) error {
	m.c.toolBlockMsg = e.Message
	return m.fail(e, errToolBlocked)
}

// fail ends the stream with an error event in Anthropic's shape, and no message_stop.
func (m *messagesStream) fail(e *apiError, cause error) error {
	_ = m.write(fmt.Appendf(nil, "event: error\ndata: %s\n\n", anthropic.ErrorToAnthropic(e.Status, errorBody(e))))
	m.err = errReported{cause}
	return m.err
}

func (m *messagesStream) write(b []byte) error {
	_, err := m.dst.Write(b)
	return err
}

// msgEvent is an Anthropic server-sent event.
func msgEvent(name string, v any) []byte {
	b := append([]byte("event: "+name+"\ndata: "), marshal(v)...)
	return append(b, '\n', '\n')
}

// eventSplitter hands the bytes written to it on to w one whole event at a time: an
// Anthropic upstream's stream passes through in pieces of any size. Close hands on what is
// left.
type eventSplitter struct {
	w       io.Writer
	buf     []byte
	scanned int // how much of buf holds no event end, so that a long event is scanned once
}

func (s *eventSplitter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	rest, from := s.buf, max(0, s.scanned-2) // an end may start in what was scanned
	for {
		i, n := eventEnd(rest[from:])
		if i < 0 {
			break
		}
		end := from + i + n
		if _, err := s.w.Write(rest[:end]); err != nil {
			return 0, err
		}
		rest, from = rest[end:], 0
	}
	if len(rest) > maxEventBytes {
		return 0, fmt.Errorf("an event of the upstream's stream is larger than %d bytes", maxEventBytes)
	}
	s.buf = append(s.buf[:0], rest...)
	s.scanned = len(s.buf)
	return len(p), nil
}

// Close hands on an event the stream ended without its blank line.
func (s *eventSplitter) Close() error {
	if len(bytes.TrimSpace(s.buf)) == 0 {
		return nil
	}
	ev := append(bytes.TrimRight(s.buf, "\r\n"), '\n', '\n')
	s.buf = nil
	_, err := s.w.Write(ev)
	return err
}

// eventEnd finds the blank line that ends the first event of b: its offset and length, or
// -1.
func eventEnd(b []byte) (int, int) {
	i := bytes.Index(b, []byte("\n\n"))
	j := bytes.Index(b, []byte("\n\r\n"))
	switch {
	case j >= 0 && (i < 0 || j < i):
		return j, 3
	case i >= 0:
		return i, 2
	}
	return -1, 0
}
