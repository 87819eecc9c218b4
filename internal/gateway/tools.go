package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// ApprovalStore keeps the tool calls a route's tool policy holds; the store implements it.
type ApprovalStore interface {
	CreateApproval(ctx context.Context, projectID string, a store.NewApproval) (store.Approval, error)
}

// HeaderApprovals lists the ids of the approvals an answer's held tool calls wait for,
// comma-separated.
const HeaderApprovals = "X-Plumb-Approvals"

// HeldCall is one entry of an answer's plumb_approvals: a tool call the gateway took out
// of the answer because it waits for a person's approval (docs/approvals.md).
type HeldCall struct {
	ApprovalID int64  `json:"approval_id"`
	CallID     string `json:"call_id"`
	Tool       string `json:"tool"`
	Arguments  string `json:"arguments"`      // canonical JSON
	ArgsHash   string `json:"arguments_hash"` // SHA-256 of arguments, hex
	Rule       string `json:"rule"`
	Reason     string `json:"reason"`
	Status     string `json:"status"` // pending
	ExpiresAt  string `json:"expires_at"`
	// DecisionURL is the server's path the agent polls (with call_id and arguments_hash).
	DecisionURL string `json:"decision_url"`
}

// errToolBlocked ends a stream whose tool call the policy forbids.
var errToolBlocked = errors.New("a tool call was blocked by the route's tool policy")

// toolCall is a call as an answer carries it.
type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// checkTools applies the route's tool policy to the tools a request offers: a denied
// tool, or one off the allow list, refuses the request.
func (c *call) checkTools() *apiError {
	p := c.route.Tools
	if p.Empty() || c.endpoint != endpointChat {
		return nil
	}
	var tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if raw, ok := c.fields["tools"]; ok && json.Unmarshal(raw, &tools) != nil {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "tools", Code: "invalid_tools",
			Message: "tools must be a list of {type: function, function: {name, ...}}."}
	}
	for i, t := range tools {
		if ok, rule, reason := p.Offer(t.Function.Name); !ok {
			c.blocked = rule
			c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, rule, "tools").Inc()
			return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: fmt.Sprintf("tools[%d]", i), Code: "tool_not_allowed",
				Message: reason + ": remove it from tools."}
		}
	}
	return nil
}

// judged is a call with the policy's decision.
type judged struct {
	call toolCall
	d    toolpolicy.Decision
}

// judge applies the policy to calls; the first denied one comes back as an error.
func (c *call) judge(calls []toolCall) ([]judged, *apiError) {
	out := make([]judged, len(calls))
	for i, tc := range calls {
		d := c.route.Tools.Evaluate(tc.Function.Name, tc.Function.Arguments)
		if d.Action == toolpolicy.ActionDeny {
			c.blocked = d.Rule
			c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, d.Rule, "tool_calls").Inc()
			return nil, &apiError{Status: http.StatusForbidden, Type: typePermission, Code: "tool_call_blocked", Message: d.Reason + "."}
		}
		out[i] = judged{call: tc, d: d}
	}
	return out, nil
}

// hold stores an approval for a held call.
func (c *call) hold(ctx context.Context, j judged) (HeldCall, *apiError) {
	if c.g.approvals == nil {
		return HeldCall{}, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "approvals_unavailable",
			Message: "A tool call needs approval but this gateway has no approval store; the call was not passed on."}
	}
	var user string
	_ = json.Unmarshal(c.fields["user"], &user)
	ap, err := c.g.approvals.CreateApproval(ctx, c.key.project, store.NewApproval{
		Tool: j.call.Function.Name, CallID: j.call.ID, Args: j.d.Args, ArgsHash: j.d.Hash, Rule: j.d.Rule, RuleReason: j.d.Reason,
		RuleSpec: string(j.d.Spec), Requester: "gateway key " + c.key.name, OnBehalfOf: user, Route: c.route.Name,
		TraceID: c.traceID, ExpiresAt: c.g.now().Add(j.d.TTL)})
	if errors.Is(err, store.ErrConflict) {
		// The model reused a call id the project holds with other arguments: the agent
		// could not tell the two calls apart when it polls, so neither is passed on.
		c.blocked = j.d.Rule
		return HeldCall{}, &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "tool_call_blocked",
			Message: fmt.Sprintf("The model's tool call %q needs approval, but %s. The call was not passed on.", j.call.ID, conflictReason(err))}
	}
	if err != nil {
		c.g.log.Error("gateway: store an approval", "route", c.route.Name, "tool", j.call.Function.Name, "err", err)
		return HeldCall{}, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "approvals_unavailable",
			Message: "A tool call needs approval but the approval could not be stored; the call was not passed on. Retry shortly."}
	}
	c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, j.d.Rule, "held").Inc()
	c.held = append(c.held, ap.ID)
	return HeldCall{ApprovalID: ap.ID, CallID: ap.CallID, Tool: ap.Tool, Arguments: ap.Args, ArgsHash: ap.ArgsHash,
		Rule: ap.Rule, Reason: ap.RuleReason, Status: ap.Status, ExpiresAt: ap.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
		DecisionURL: fmt.Sprintf("/api/v1/projects/%s/approvals/%d/decision", c.key.project, ap.ID)}, nil
}

// conflictReason is the store's refusal of a reused call id, told of "its id".
func conflictReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " is approval #"); i >= 0 {
		return "its id" + msg[i:]
	}
	return "its id is held already with other arguments"
}

// heldText is the content an answer whose calls are all held gets, for people reading it.
func heldText(held []HeldCall) string {
	parts := make([]string, len(held))
	for i, h := range held {
		parts[i] = fmt.Sprintf("%s (approval #%d)", h.Tool, h.ApprovalID)
	}
	return "Held for human approval: " + strings.Join(parts, ", ") + "."
}

func setApprovalHeader(h http.Header, held []HeldCall) {
	ids := make([]string, len(held))
	for i, x := range held {
		ids[i] = strconv.FormatInt(x.ApprovalID, 10)
	}
	h.Set(HeaderApprovals, strings.Join(ids, ","))
}

// toolsOutput applies the route's tool policy to a plain chat answer: a forbidden call
// blocks the answer; a call that needs approval is stored and taken out of the answer,
// which lists it under plumb_approvals (and its id in X-Plumb-Approvals).
func (c *call) toolsOutput(ctx context.Context, body []byte, h http.Header) ([]byte, *apiError) {
	if c.route.Tools.Empty() || c.endpoint != endpointChat {
		return body, nil
	}
	// The body goes to the client as it came when nothing is held: a text the client's
	// parser could read otherwise than this one (a tool_calls or name key written twice)
	// would let it run a call the policy did not judge.
	if err := toolpolicy.CheckJSON(string(body)); err != nil {
		c.blocked = "malformed tool calls"
		return nil, &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "tool_call_blocked",
			Message: fmt.Sprintf("The answer could not be read unambiguously (%v); its tool calls were blocked.", err)}
	}
	var resp map[string]json.RawMessage
	var choices []map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil || json.Unmarshal(resp["choices"], &choices) != nil {
		return body, nil
	}
	var allHeld []HeldCall
	changed := false
	for i, ch := range choices {
		var msg map[string]json.RawMessage
		if json.Unmarshal(ch["message"], &msg) != nil || len(msg["tool_calls"]) == 0 || string(msg["tool_calls"]) == "null" {
			continue
		}
		var calls []toolCall
		if json.Unmarshal(msg["tool_calls"], &calls) != nil {
			return nil, &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "tool_call_blocked",
				Message: "The model's tool calls could not be read; they were blocked."}
		}
		js, aerr := c.judge(calls)
		if aerr != nil {
			return nil, aerr
		}
		var keep []json.RawMessage
		var raws []json.RawMessage
		_ = json.Unmarshal(msg["tool_calls"], &raws)
		var held []HeldCall
		for k, j := range js {
			if j.d.Action != toolpolicy.ActionApprove {
				keep = append(keep, raws[k])
				continue
			}
			hc, aerr := c.hold(ctx, j)
			if aerr != nil {
				return nil, aerr
			}
			held = append(held, hc)
		}
		if len(held) == 0 {
			continue
		}
		changed = true
		allHeld = append(allHeld, held...)
		if len(keep) == 0 {
			delete(msg, "tool_calls")
			ch["finish_reason"] = marshal("stop")
			var content string
			if json.Unmarshal(msg["content"], &content) != nil || content == "" {
				msg["content"] = marshal(heldText(held))
			}
		} else {
			msg["tool_calls"] = marshal(keep)
		}
		choices[i]["message"] = marshal(msg)
	}
	if !changed {
		return body, nil
	}
	resp["choices"] = marshal(choices)
	resp["plumb_approvals"] = marshal(allHeld)
	setApprovalHeader(h, allHeld)
	return marshal(resp), nil
}

// toolStream applies the route's tool policy to a streamed chat answer. Content passes
// through as it arrives; tool call deltas are gathered until the choice finishes, then
// judged: a forbidden call ends the stream with an error event; allowed calls are sent
// whole, in one chunk; held calls are stored and listed in a chunk's plumb_approvals.
type toolStream struct {
	c     *call
	ctx   context.Context
	dst   io.Writer
	calls callParts
	said  map[int]bool // the choices whose content is not empty
}

// toolStreamWriter wraps dst when the route has a tool policy; an Anthropic client's
// stream is judged by messagesStream instead.
func (c *call) toolStreamWriter(ctx context.Context, dst io.Writer) io.Writer {
	if c.route.Tools.Empty() || c.anthropic {
		return dst
	}
	return &toolStream{c: c, ctx: ctx, dst: dst, calls: callParts{}, said: map[int]bool{}}
}

// Write takes one whole event (copySSE and the translators write events whole).
func (t *toolStream) Write(ev []byte) (int, error) {
	data, ok := eventData(ev)
	if !ok || bytes.Equal(data, doneData) {
		return t.pass(ev, len(ev))
	}
	var chunk map[string]json.RawMessage
	var choices []map[string]json.RawMessage
	if json.Unmarshal(data, &chunk) != nil || json.Unmarshal(chunk["choices"], &choices) != nil || len(choices) == 0 {
		return t.pass(ev, len(ev))
	}
	changed := false
	var out [][]byte
	for i, ch := range choices {
		var idx int
		_ = json.Unmarshal(ch["index"], &idx)
		var delta map[string]json.RawMessage
		_ = json.Unmarshal(ch["delta"], &delta)
		var text string
		if json.Unmarshal(delta["content"], &text) == nil && text != "" {
			t.said[idx] = true
		}
		if hasCalls(delta) {
			if _, ok := t.calls.add(idx, delta["tool_calls"]); !ok {
				return t.block(&apiError{Type: typePermission, Code: "tool_call_blocked", Message: "The model's tool calls could not be read; they were blocked."})
			}
			delete(delta, "tool_calls")
			choices[i]["delta"] = marshal(delta)
			changed = true
		}
		var finish *string
		_ = json.Unmarshal(ch["finish_reason"], &finish)
		if finish != nil && len(t.calls[idx]) > 0 {
			extra, reason, aerr := t.release(idx, chunk)
			if aerr != nil {
				return t.block(aerr)
			}
			out = append(out, extra...)
			choices[i]["finish_reason"] = marshal(reason)
			changed = true
		}
	}
	if !changed {
		return t.pass(ev, len(ev))
	}
	for _, b := range out {
		if _, err := t.dst.Write(b); err != nil {
			return 0, err
		}
	}
	if emptyChunk(chunk, choices) {
		return len(ev), nil // it only carried tool call deltas
	}
	chunk["choices"] = marshal(choices)
	return t.pass(sseEvent(chunk), len(ev))
}

func (t *toolStream) pass(b []byte, n int) (int, error) {
	if _, err := t.dst.Write(b); err != nil {
		return 0, err
	}
	return n, nil
}

// release judges a finished choice's calls and returns the events that carry them, and
// the choice's finish reason.
func (t *toolStream) release(idx int, tmpl map[string]json.RawMessage) ([][]byte, string, *apiError) {
	_, calls := t.calls.take(idx, math.MaxInt)
	js, aerr := t.c.judge(calls)
	if aerr != nil {
		return nil, "", aerr
	}
	var keep []map[string]any
	var held []HeldCall
	for _, j := range js {
		if j.d.Action == toolpolicy.ActionApprove {
			hc, aerr := t.c.hold(t.ctx, j)
			if aerr != nil {
				return nil, "", aerr
			}
			held = append(held, hc)
			continue
		}
		keep = append(keep, map[string]any{"index": len(keep), "id": j.call.ID, "type": "function",
			"function": map[string]string{"name": j.call.Function.Name, "arguments": j.call.Function.Arguments}})
	}
	var out [][]byte
	reason := "tool_calls"
	if len(keep) > 0 {
		out = append(out, choiceChunk(tmpl, idx, map[string]any{"tool_calls": keep}, nil))
	}
	if len(held) > 0 {
		delta := map[string]any{}
		if len(keep) == 0 {
			reason = "stop"
			if !t.said[idx] {
				delta["content"] = heldText(held)
			}
		}
		out = append(out, choiceChunk(tmpl, idx, delta, map[string]any{"plumb_approvals": held}))
	}
	return out, reason, nil
}

// block ends the stream with an error event.
func (t *toolStream) block(e *apiError) (int, error) {
	_, _ = t.dst.Write(fmt.Appendf(nil, "data: %s\n\n", errorBody(e)))
	t.c.toolBlockMsg = e.Message
	return 0, errReported{errToolBlocked}
}

func eventData(ev []byte) ([]byte, bool) {
	for _, line := range bytes.Split(ev, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if d, ok := bytes.CutPrefix(line, dataPrefix); ok {
			return bytes.TrimSpace(d), true
		}
	}
	return nil, false
}

func sseEvent(v any) []byte {
	return append(append([]byte("data: "), marshal(v)...), '\n', '\n')
}

// callParts gathers a stream's tool call deltas into whole calls, by choice and by call
// index.
type callParts map[int]map[int]*toolCall

// add adds a delta's tool_calls to choice idx's calls. It returns the call indexes they
// name, or false when they cannot be read.
func (c callParts) add(idx int, raw json.RawMessage) ([]int, bool) {
	var parts []struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return nil, false
	}
	if c[idx] == nil {
		c[idx] = map[int]*toolCall{}
	}
	var named []int
	for _, p := range parts {
		tc := c[idx][p.Index]
		if tc == nil {
			tc = &toolCall{Type: "function"}
			c[idx][p.Index] = tc
		}
		if p.ID != "" {
			tc.ID = p.ID
		}
		tc.Function.Name += p.Function.Name
		tc.Function.Arguments += p.Function.Arguments
		named = append(named, p.Index)
	}
	return named, true
}

// take removes choice idx's calls whose index is below below and returns them in index
// order, with their indexes.
func (c callParts) take(idx, below int) ([]int, []toolCall) {
	var keys []int
	for k := range c[idx] {
		if k < below {
			keys = append(keys, k)
		}
	}
	sort.Ints(keys)
	calls := make([]toolCall, len(keys))
	for i, k := range keys {
		calls[i] = *c[idx][k]
		delete(c[idx], k)
	}
	if len(c[idx]) == 0 {
		delete(c, idx)
	}
	return keys, calls
}

// hasCalls reports whether a chat stream's delta carries tool call deltas.
func hasCalls(delta map[string]json.RawMessage) bool {
	return len(delta["tool_calls"]) > 0 && string(delta["tool_calls"]) != "null"
}

// emptyChunk reports whether a chunk whose choices' deltas were rewritten has nothing left
// for the client: no delta but a role, no finish reason, no usage.
func emptyChunk(chunk map[string]json.RawMessage, choices []map[string]json.RawMessage) bool {
	for _, ch := range choices {
		var delta map[string]json.RawMessage
		_ = json.Unmarshal(ch["delta"], &delta)
		delete(delta, "role")
		if len(delta) > 0 || (len(ch["finish_reason"]) > 0 && string(ch["finish_reason"]) != "null") {
			return false
		}
	}
	return len(chunk["usage"]) == 0 || string(chunk["usage"]) == "null"
}

// choiceChunk is a chunk of the gateway's own for choice idx, with tmpl's id, model and
// the like (not its usage), delta, and extra's fields.
func choiceChunk(tmpl map[string]json.RawMessage, idx int, delta map[string]any, extra map[string]any) []byte {
	m := map[string]json.RawMessage{}
	for k, v := range tmpl {
		if k != "choices" && k != "usage" {
			m[k] = v
		}
	}
	m["choices"] = marshal([]map[string]any{{"index": idx, "delta": delta, "finish_reason": nil}})
	for k, v := range extra {
		m[k] = marshal(v)
	}
	return sseEvent(m)
}
