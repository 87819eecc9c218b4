package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// Stage is where a guard step runs: on the client's input or on the model's output.
type Stage string

// The stages.
const (
	StageInput  Stage = "input"
	StageOutput Stage = "output"
)

// Action is a guard step's decision.
type Action int

// The actions: let the text through, replace it, or refuse the call.
const (
	Allow Action = iota
	Modify
	Block
)

// Verdict is a guard step's answer.
type Verdict struct {
	Action Action
	// Texts replace the texts the step was given (Modify), one for one.
	Texts []string
	// Reason is what a blocked client is told.
	Reason string
	// Step, when set, names what blocked more precisely than the guard's Name (a policy's
	// step); the trace and metrics show it.
	Step string
	// Review, with Block, is the case a policy's review step holds for a person.
	Review *ReviewCase
}

// Guard is one step of the guard pipeline. Steps run in order; each sees the texts as the
// steps before it left them; the first Block ends the call. On input the texts are the
// messages' text and the tools' descriptions (chat) or the inputs (embeddings), and, apart,
// the strings of each tool call's arguments the conversation sends back (guard_input.go);
// on output the choices' content of a plain chat answer. Streamed answers (chat and
// Messages), and the arguments of an answer's tool calls, are checked on output by a
// route's guard policy only (guard_policy.go, messages_stream.go), not by Guard steps.
type Guard interface {
	Name() string
	Check(ctx context.Context, stage Stage, texts []string) (Verdict, error)
}

// regexGuard is the configured step: block on a match, or redact the matches.
type regexGuard struct{ s *GuardStep }

func (r regexGuard) Name() string { return r.s.Name }

func (r regexGuard) Check(_ context.Context, stage Stage, texts []string) (Verdict, error) {
	if r.s.On != "both" && r.s.On != string(stage) {
		return Verdict{}, nil
	}
	var out []string
	for i, t := range texts {
		if !r.s.re.MatchString(t) {
			continue
		}
		if r.s.Action == "block" {
			msg := r.s.Message
			if msg == "" {
				msg = fmt.Sprintf("The %s was blocked by the gateway's guard step %q.", stage, r.s.Name)
			}
			return Verdict{Action: Block, Reason: msg}, nil
		}
		if out == nil {
			out = append([]string(nil), texts...)
		}
		out[i] = r.s.re.ReplaceAllLiteralString(t, r.s.Replace)
	}
	if out != nil {
		return Verdict{Action: Modify, Texts: out}, nil
	}
	return Verdict{}, nil
}

// runGuards runs the pipeline over texts. It returns the texts as modified, whether any
// step modified them, and the blocking step's name and reason.
func (c *call) runGuards(ctx context.Context, stage Stage, texts []string) (out []string, changed bool, step, reason string, err error) {
	return c.runSteps(ctx, c.guardSteps(), stage, texts)
}

// runSteps is runGuards with the steps given.
func (c *call) runSteps(ctx context.Context, steps []Guard, stage Stage, texts []string) (out []string, changed bool, step, reason string, err error) {
	out = texts
	for _, s := range steps {
		v, err := s.Check(ctx, stage, out)
		if err != nil {
			return nil, false, s.Name(), "", fmt.Errorf("guard step %s: %w", s.Name(), err)
		}
		switch v.Action {
		case Block:
			c.review = v.Review
			if v.Step != "" {
				return nil, false, v.Step, v.Reason, nil
			}
			return nil, false, s.Name(), v.Reason, nil
		case Modify:
			if len(v.Texts) != len(out) {
				return nil, false, s.Name(), "", fmt.Errorf("guard step %s returned %d texts for %d", s.Name(), len(v.Texts), len(out))
			}
			out, changed = v.Texts, true
		}
	}
	return out, changed, "", "", nil
}

func (c *call) guardError(stage Stage, step, reason string, err error) *apiError {
	if err != nil {
		c.g.log.Error("gateway: guard step failed", "step", step, "err", err)
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "guard_error",
			Message: fmt.Sprintf("The gateway's guard step %q failed; the call was not made.", step)}
	}
	c.blocked = step
	c.g.metrics.blocked.WithLabelValues(c.route.Name, c.key.name, step, string(stage)).Inc()
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "content_blocked", Message: reason}
}

// guardOutput runs the pipeline on a plain chat answer's texts, and the route's guard
// policy on its tool calls' arguments, and returns the answer, modified if a step said so.
func (c *call) guardOutput(ctx context.Context, body []byte) ([]byte, *apiError) {
	if len(c.guardSteps()) == 0 || c.endpoint != endpointChat {
		return body, nil
	}
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil {
		return body, nil
	}
	var choices []map[string]json.RawMessage
	if json.Unmarshal(resp["choices"], &choices) != nil {
		return body, nil
	}
	var texts []string
	var where []int
	msgs := make([]map[string]json.RawMessage, len(choices))
	for i, ch := range choices {
		if json.Unmarshal(ch["message"], &msgs[i]) != nil {
			continue
		}
		var s string
		if !isNull(msgs[i]["content"]) && json.Unmarshal(msgs[i]["content"], &s) == nil {
			texts = append(texts, s)
			where = append(where, i)
		}
	}
	dirty := make([]bool, len(choices))
	if len(texts) > 0 {
		out, changed, step, reason, err := c.runGuards(ctx, StageOutput, texts)
		if err != nil || step != "" {
			return nil, c.guardError(StageOutput, step, reason, err)
		}
		for j, i := range where {
			if changed {
				msgs[i]["content"] = marshal(out[j])
				dirty[i] = true
			}
		}
	}
	for i, msg := range msgs {
		changed, aerr := c.guardToolCalls(ctx, msg)
		if aerr != nil {
			return nil, aerr
		}
		dirty[i] = dirty[i] || changed
	}
	if !slices.Contains(dirty, true) {
		return body, nil
	}
	for i, d := range dirty {
		if d {
			choices[i]["message"] = marshal(msgs[i])
		}
	}
	resp["choices"] = marshal(choices)
	return marshal(resp), nil
}
