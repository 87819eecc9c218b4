package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

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

// errGuardBlocked ends a stream whose text the route's guard policy blocks.
var errGuardBlocked = errors.New("the streamed answer was blocked by the route's guard policy")

// guardStream checks a streamed chat answer's content deltas with the route's policy as
// they flow (policy.Stream), rewriting redacted text and ending the stream with an error
// event when a step blocks; a choice's whole text is judged (the whole-text steps) when it
// finishes, before its finish chunk goes out.
type guardStream struct {
	c       *call
	ctx     context.Context
	dst     io.Writer
	name    string
	pol     *policy.Compiled
	streams map[int]*policy.Stream
	last    map[string]json.RawMessage // the last chunk, the template of a final flush
}

// guardStreamWriter wraps dst when the route's policy has output steps.
func (c *call) guardStreamWriter(ctx context.Context, dst io.Writer) io.Writer {
	name, pol := c.policy()
	if pol == nil || !pol.Has(policy.Output) {
		return dst
	}
	return &guardStream{c: c, ctx: ctx, dst: dst, name: name, pol: pol, streams: map[int]*policy.Stream{}}
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
				return s.block(st, r, err)
			}
			out = o
		}
		var finish *string
		_ = json.Unmarshal(ch["finish_reason"], &finish)
		if finish != nil {
			o, r, err := st.Close(s.ctx)
			s.logFindings(st)
			if err != nil || r != nil {
				return s.block(st, r, err)
			}
			out += o
			delete(s.streams, idx)
		}
		if hasText || out != "" {
			if delta == nil {
				delta = map[string]json.RawMessage{}
			}
			delta["content"] = marshal(out)
			choices[i]["delta"] = marshal(delta)
		}
	}
	chunk["choices"] = marshal(choices)
	return s.pass(sseEvent(chunk), len(ev))
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

// flushAll lets out what choices without a finish reason still hold, before [DONE].
func (s *guardStream) flushAll() error {
	for idx, st := range s.streams {
		o, r, err := st.Close(s.ctx)
		s.logFindings(st)
		if err != nil || r != nil {
			_, err := s.block(st, r, err)
			return err
		}
		delete(s.streams, idx)
		if o == "" || s.last == nil {
			continue
		}
		chunk := map[string]json.RawMessage{}
		for k, v := range s.last {
			chunk[k] = v
		}
		chunk["choices"] = marshal([]map[string]any{{"index": idx, "delta": map[string]string{"content": o}, "finish_reason": nil}})
		delete(chunk, "usage")
		if _, err := s.dst.Write(sseEvent(chunk)); err != nil {
			return err
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

// block ends the stream: an error event in OpenAI's shape, and no [DONE].
func (s *guardStream) block(st *policy.Stream, r *policy.Result, err error) (int, error) {
	e := s.c.streamBlocked(s.name, s.pol, st, r, err)
	_, _ = s.dst.Write(fmt.Appendf(nil, "data: %s\n\n", errorBody(e)))
	return 0, errReported{errGuardBlocked}
}

// streamBlocked records that the guard policy name ended a stream, r its block (err: the
// policy failed), in the call's trace, metrics and review case, and returns what the
// client is told.
func (c *call) streamBlocked(name string, pol *policy.Compiled, st *policy.Stream, r *policy.Result, err error) *apiError {
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
			c.review = &ReviewCase{Stage: StageOutput, Policy: name, Step: r.Step, Text: st.Judged(), Findings: r.Findings}
		}
		c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, c.blocked, string(StageOutput)).Inc()
	}
	c.guardBlockMsg, c.guardBlockCode = e.Message, e.Code
	return e
}
