package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"

	"github.com/plumbhq/plumb/internal/guard/policy"
)

// policyGuard runs a route's guard policy (policies: in the config) as a guard step.
type policyGuard struct {
	name string
	c    *policy.Compiled
	log  *slog.Logger
}

func (p policyGuard) Name() string { return "policy " + p.name }

// Check runs the stage's steps over each text. Findings of allow steps are logged (type,
// span and score, never the value); a block or review step blocks the call, and its step
// names the policy's step, with "(review)" when a person should look at it.
func (p policyGuard) Check(ctx context.Context, stage Stage, texts []string) (Verdict, error) {
	if !p.c.Has(policy.Stage(stage)) {
		return Verdict{}, nil
	}
	var out []string
	for i, t := range texts {
		r, err := p.c.Check(ctx, policy.Stage(stage), t)
		if err != nil {
			return Verdict{}, err
		}
		p.logFindings(stage, r.Findings)
		p.logErrors(stage, r.Errors)
		if r.Blocked() {
			v := Verdict{Action: Block, Reason: r.Message, Step: p.stepLabel(r.Step, r.Decision)}
			if r.Decision == policy.DecisionReview {
				v.Review = &ReviewCase{Stage: stage, Policy: p.name, Step: r.Step, Text: t, Findings: r.Findings}
			}
			return v, nil
		}
		if r.Decision == policy.DecisionRedact {
			if out == nil {
				out = append([]string(nil), texts...)
			}
			out[i] = r.Text
		}
	}
	if out != nil {
		return Verdict{Action: Modify, Texts: out}, nil
	}
	return Verdict{}, nil
}

func (p policyGuard) stepLabel(step, decision string) string {
	label := p.name + "/" + step
	if decision == policy.DecisionReview {
		label += " (review)"
	}
	return label
}

func (p policyGuard) logFindings(stage Stage, fs []policy.Finding) {
	for _, f := range fs {
		p.log.Info("gateway: guard finding", "policy", p.name, "stage", string(stage), "step", f.Step, "action", f.Action,
			"detector", f.Detector, "type", f.Type, "start", f.Start, "end", f.End, "score", f.Score)
	}
}

func (p policyGuard) logErrors(stage Stage, es []policy.StepError) {
	for _, e := range es {
		p.log.Warn("gateway: guard step failed", "policy", p.name, "stage", string(stage), "step", e.Step, "on_error", e.OnError, "error", e.Error)
	}
}

// policy is the call's guard policy: its route's, else its project's, else the default.
func (c *call) policy() (string, *policy.Compiled) {
	project := ""
	if c.key != nil {
		project = c.key.project
	}
	return c.g.cfg.policyFor(c.route.Route, project)
}

// guardSteps are the steps a call runs: the config's regex steps and the embedder's, then
// the call's policy.
func (c *call) guardSteps() []Guard {
	name, pol := c.policy()
	if pol == nil {
		return c.g.guards
	}
	return append(append([]Guard(nil), c.g.guards...), policyGuard{name: name, c: pol, log: c.g.log})
}

// guardToolCalls runs the route's guard policy's output steps over the arguments of a plain
// answer's tool calls (msg: a choice's message) and rewrites redacted arguments in msg. A
// block or review refuses the call as a blocked text does. It reports whether msg changed.
func (c *call) guardToolCalls(ctx context.Context, msg map[string]json.RawMessage) (bool, *apiError) {
	name, pol := c.policy()
	raw := msg["tool_calls"]
	if pol == nil || !pol.Has(policy.Output) || len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var calls []map[string]json.RawMessage
	if json.Unmarshal(raw, &calls) != nil {
		return false, c.uncheckedCalls(name, errUnreadableCalls)
	}
	changed := false
	for _, tc := range calls {
		var fn map[string]json.RawMessage
		if json.Unmarshal(tc["function"], &fn) != nil || len(fn["arguments"]) == 0 || string(fn["arguments"]) == "null" {
			continue
		}
		// Arguments are a string of JSON; some upstreams send the JSON itself.
		args := string(fn["arguments"])
		asString := json.Unmarshal(fn["arguments"], &args) == nil
		out, r, err := c.guardArgs(ctx, name, pol, args)
		if err != nil {
			return false, c.guardError(StageOutput, "policy "+name, "", err)
		}
		if r != nil {
			pg := policyGuard{name: name, c: pol, log: c.g.log}
			pg.logFindings(StageOutput, r.Findings)
			if r.Decision == policy.DecisionReview {
				c.review = &ReviewCase{Stage: StageOutput, Policy: name, Step: r.Step, Text: args, Findings: r.Findings}
			}
			return false, c.guardError(StageOutput, pg.stepLabel(r.Step, r.Decision), r.Message, nil)
		}
		if out == args {
			continue
		}
		if asString {
			fn["arguments"] = marshal(out)
		} else {
			fn["arguments"] = json.RawMessage(out) // still JSON: CheckArguments keeps it so
		}
		tc["function"] = marshal(fn)
		changed = true
	}
	if changed {
		msg["tool_calls"] = marshal(calls)
	}
	return changed, nil
}

// errUnreadableCalls is what a client is told when its answer's tool calls cannot be read.
const errUnreadableCalls = "The model's tool calls could not be read, so the guard policy could not check them; they were blocked."

// uncheckedCalls records that the guard policy name could not check an answer's tool calls
// and blocked them, and returns what the client is told: msg.
func (c *call) uncheckedCalls(name, msg string) *apiError {
	e := &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "content_blocked", Message: msg}
	c.blocked = "policy " + name
	c.guardBlockMsg, c.guardBlockCode = e.Message, e.Code
	return e
}

// guardArgs checks a tool call's arguments with the guard policy pol, called name: it
// returns the arguments to pass on (redacted), or the check's block (r) or failure (err).
// The findings of what passes are logged; a block's are the caller's to log.
func (c *call) guardArgs(ctx context.Context, name string, pol *policy.Compiled, args string) (string, *policy.Result, error) {
	r, err := pol.CheckArguments(ctx, args)
	if err != nil {
		return "", nil, err
	}
	if r.Blocked() {
		return "", r, nil
	}
	policyGuard{name: name, log: c.g.log}.logFindings(StageOutput, r.Findings)
	return r.Text, nil, nil
}

// errGuardBlocked ends a stream whose text or tool call the route's guard policy blocks.
var errGuardBlocked = errors.New("the streamed answer was blocked by the route's guard policy")

// guardStream checks a streamed chat answer's content deltas with the route's policy as
// they flow (policy.Stream), rewriting redacted text and ending the stream with an error
// event when a step blocks; a choice's whole text is judged (the whole-text steps) when it
// finishes, before its finish chunk goes out. Tool call deltas are held back until their
// call is whole (the next call starts, or the choice finishes), then its arguments are
// checked (policy.CheckArguments) and the call goes out in one chunk, its arguments
// redacted, or the stream ends as for a blocked text. The content keeps flowing meanwhile.
type guardStream struct {
	c       *call
	ctx     context.Context
	dst     io.Writer
	name    string
	pol     *policy.Compiled
	streams map[int]*policy.Stream
	calls   callParts
	sent    map[int]int                // by choice: how many of its calls went out (the calls below that index)
	last    map[string]json.RawMessage // the last chunk, the template of a final flush
}

// guardStreamWriter wraps dst when the route's policy has output steps.
func (c *call) guardStreamWriter(ctx context.Context, dst io.Writer) io.Writer {
	name, pol := c.policy()
	if pol == nil || !pol.Has(policy.Output) {
		return dst
	}
	return newGuardStream(ctx, c, dst, name, pol)
}

func newGuardStream(ctx context.Context, c *call, dst io.Writer, name string, pol *policy.Compiled) *guardStream {
	return &guardStream{c: c, ctx: ctx, dst: dst, name: name, pol: pol, streams: map[int]*policy.Stream{}, calls: callParts{}, sent: map[int]int{}}
}

// Write takes one whole event.
func (s *guardStream) Write(ev []byte) (int, error) {
	data, ok := eventData(ev)
	if !ok {
		return s.pass(ev, len(ev))
	}
	if bytes.Equal(data, doneData) {
		if err := s.flushAll(); err != nil {
			return 0, err
		}
		return s.pass(ev, len(ev))
	}
	var chunk map[string]json.RawMessage
	var choices []map[string]json.RawMessage
	if json.Unmarshal(data, &chunk) != nil || json.Unmarshal(chunk["choices"], &choices) != nil || len(choices) == 0 {
		return s.pass(ev, len(ev))
	}
	s.last = chunk
	var calls [][]byte // whole calls, out before this chunk
	for i, ch := range choices {
		var idx int
		_ = json.Unmarshal(ch["index"], &idx)
		st := s.stream(idx)
		var delta map[string]json.RawMessage
		_ = json.Unmarshal(ch["delta"], &delta)
		var text string
		hasText := json.Unmarshal(delta["content"], &text) == nil
		out := ""
		if hasText && text != "" {
			o, r, err := st.Write(s.ctx, text)
			s.logFindings(st)
			if err != nil || r != nil {
				return s.block(st.Judged(), r, err)
			}
			out = o
		}
		if hasCalls(delta) {
			if len(s.calls[idx]) == 0 {
				// The text before a call is whole: what the policy holds back goes out now.
				o, r, err := st.Flush(s.ctx)
				s.logFindings(st)
				if err != nil || r != nil {
					return s.block(st.Judged(), r, err)
				}
				out += o
				hasText = hasText || o != ""
			}
			named, ok := s.calls.add(idx, delta["tool_calls"])
			if !ok {
				return s.fail(s.c.uncheckedCalls(s.name, errUnreadableCalls))
			}
			if slices.Min(append(named, math.MaxInt)) < s.sent[idx] {
				// A part of a call already checked and sent: it would reach the client unchecked.
				return s.fail(s.c.uncheckedCalls(s.name, "The model's stream went on with a tool call after the next one had begun; the guard policy could not check it whole, so it was blocked."))
			}
			// A call is whole when a later one starts.
			evs, err := s.release(idx, slices.Max(append(named, 0)), chunk)
			if err != nil {
				return 0, err
			}
			calls = append(calls, evs...)
			delete(delta, "tool_calls")
			choices[i]["delta"] = marshal(delta)
		}
		var finish *string
		_ = json.Unmarshal(ch["finish_reason"], &finish)
		if finish != nil {
			o, r, err := st.Close(s.ctx)
			s.logFindings(st)
			if err != nil || r != nil {
				return s.block(st.Judged(), r, err)
			}
			out += o
			delete(s.streams, idx)
			evs, err := s.release(idx, math.MaxInt, chunk)
			if err != nil {
				return 0, err
			}
			calls = append(calls, evs...)
		}
		if hasText || out != "" {
			if delta == nil {
				delta = map[string]json.RawMessage{}
			}
			delta["content"] = marshal(out)
			choices[i]["delta"] = marshal(delta)
		}
	}
	for _, b := range calls {
		if _, err := s.dst.Write(b); err != nil {
			return 0, err
		}
	}
	if emptyChunk(chunk, choices) || onlyEmptyText(chunk, choices) {
		return len(ev), nil // it only carried tool call deltas, or text the policy holds back
	}
	chunk["choices"] = marshal(choices)
	return s.pass(sseEvent(chunk), len(ev))
}

// onlyEmptyText tells whether a chunk carries nothing but empty content deltas (text the
// policy holds back): no role, finish reason, usage, tool calls or other field.
func onlyEmptyText(chunk map[string]json.RawMessage, choices []map[string]json.RawMessage) bool {
	if !isNull(chunk["usage"]) {
		return false
	}
	for _, ch := range choices {
		for k, v := range ch {
			if k != "index" && k != "delta" && !isNull(v) {
				return false
			}
		}
		var delta map[string]json.RawMessage
		if json.Unmarshal(ch["delta"], &delta) != nil || len(delta) != 1 || string(delta["content"]) != `""` {
			return false
		}
	}
	return true
}

// release checks the held calls of choice idx whose index is below below, and returns the
// chunks that carry them whole, one call each; a block ends the stream.
func (s *guardStream) release(idx, below int, tmpl map[string]json.RawMessage) ([][]byte, error) {
	ks, calls := s.calls.take(idx, below)
	if len(ks) > 0 {
		s.sent[idx] = ks[len(ks)-1] + 1
	}
	var out [][]byte
	for i, tc := range calls {
		args, r, err := s.c.guardArgs(s.ctx, s.name, s.pol, tc.Function.Arguments)
		if err != nil || r != nil {
			_, err := s.block(tc.Function.Arguments, r, err)
			return nil, err
		}
		out = append(out, choiceChunk(tmpl, idx, map[string]any{"tool_calls": []map[string]any{{"index": ks[i], "id": tc.ID, "type": "function",
			"function": map[string]string{"name": tc.Function.Name, "arguments": args}}}}, nil))
	}
	return out, nil
}

func (s *guardStream) logFindings(st *policy.Stream) {
	policyGuard{name: s.name, log: s.c.g.log}.logStream(st)
}

// logStream logs the findings and step failures a stream has let out since the last call.
func (p policyGuard) logStream(st *policy.Stream) {
	p.logFindings(StageOutput, st.Drain())
	p.logErrors(StageOutput, st.DrainErrors())
}

func (s *guardStream) stream(idx int) *policy.Stream {
	st := s.streams[idx]
	if st == nil {
		st = s.pol.Stream()
		s.streams[idx] = st
	}
	return st
}

// flushAll lets out what choices without a finish reason still hold, text and tool calls,
// before [DONE].
func (s *guardStream) flushAll() error {
	for idx, st := range s.streams {
		o, r, err := st.Close(s.ctx)
		s.logFindings(st)
		if err != nil || r != nil {
			_, err := s.block(st.Judged(), r, err)
			return err
		}
		delete(s.streams, idx)
		if o == "" || s.last == nil {
			continue
		}
		if _, err := s.dst.Write(choiceChunk(s.last, idx, map[string]any{"content": o}, nil)); err != nil {
			return err
		}
	}
	for idx := range s.calls {
		evs, err := s.release(idx, math.MaxInt, s.last)
		if err != nil {
			return err
		}
		for _, b := range evs {
			if _, err := s.dst.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *guardStream) pass(b []byte, n int) (int, error) {
	if _, err := s.dst.Write(b); err != nil {
		return 0, err
	}
	return n, nil
}

// block ends the stream for the policy's block r (or its failure err) of the text judged.
func (s *guardStream) block(judged string, r *policy.Result, err error) (int, error) {
	return s.fail(s.c.streamBlocked(s.name, s.pol, judged, r, err))
}

// fail ends the stream: an error event in OpenAI's shape, and no [DONE].
func (s *guardStream) fail(e *apiError) (int, error) {
	_, _ = s.dst.Write(fmt.Appendf(nil, "data: %s\n\n", errorBody(e)))
	return 0, errReported{errGuardBlocked}
}

// streamBlocked records that the guard policy name ended a stream, r its block of the text
// judged (err: the policy failed), in the call's trace, metrics and review case, and
// returns what the client is told.
func (c *call) streamBlocked(name string, pol *policy.Compiled, judged string, r *policy.Result, err error) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "content_blocked"}
	if err != nil {
		c.g.log.Error("gateway: guard policy failed on a stream", "policy", name, "err", err)
		e.Status, e.Type, e.Code = http.StatusInternalServerError, typeServer, "guard_error"
		e.Message = fmt.Sprintf("The gateway's guard policy %q failed; the answer was cut off.", name)
		c.blocked = "policy " + name
	} else {
		e.Message = r.Message
		pg := policyGuard{name: name, c: pol, log: c.g.log}
		pg.logFindings(StageOutput, r.Findings)
		c.blocked = pg.stepLabel(r.Step, r.Decision)
		if r.Decision == policy.DecisionReview {
			c.review = &ReviewCase{Stage: StageOutput, Policy: name, Step: r.Step, Text: judged, Findings: r.Findings}
		}
		c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, c.blocked, string(StageOutput)).Inc()
	}
	c.guardBlockMsg, c.guardBlockCode = e.Message, e.Code
	return e
}
