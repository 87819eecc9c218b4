package gateway

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/plumbhq/plumb/internal/guard/policy"
)

// guardInput runs the pipeline on the request's texts, and on the arguments of the tool
// calls its conversation sends back, and writes what the steps modified back.
func (c *call) guardInput(ctx context.Context) *apiError {
	if len(c.guardSteps()) == 0 {
		return nil
	}
	in := inputTexts(c.endpoint, c.fields)
	if len(in.texts) == 0 && len(in.args) == 0 {
		return nil
	}
	origTexts, origArgs := slices.Clone(in.texts), slices.Clone(in.args)
	texts, changed := in.texts, false
	if len(texts) > 0 {
		var step, reason string
		var err error
		texts, changed, step, reason, err = c.runGuards(ctx, StageInput, texts)
		if err != nil || step != "" {
			return c.guardError(StageInput, step, reason, err)
		}
	}
	args, argsChanged, aerr := c.guardInputArgs(ctx, in.args)
	if aerr != nil {
		return aerr
	}
	if changed || argsChanged {
		in.set(texts, args)
		c.raw = marshal(c.fields)
		c.guarded = true
		if c.anthropic && c.native != nil {
			c.nativeRewritten = c.rewriteNative(origTexts, texts, origArgs, args)
		}
	}
	return nil
}

// guardInputArgs runs the input pipeline over the arguments of tool calls a conversation
// sends back. The gateway's and the embedder's steps see each argument's strings (a JSON
// value's strings and numbers, policy.ArgumentStrings) as texts; the call's guard policy
// checks the arguments as it checks an answer's (policy.CheckArgumentsAt), with its input
// steps. Redacted JSON arguments stay valid JSON.
func (c *call) guardInputArgs(ctx context.Context, args []string) ([]string, bool, *apiError) {
	name, pol := c.policy()
	out := append([]string(nil), args...)
	changed := false
	for i, a := range args {
		strs, build := policy.ArgumentStrings(a)
		strs, ch, step, reason, err := c.runSteps(ctx, c.g.guards, StageInput, strs)
		if err != nil || step != "" {
			return nil, false, c.guardError(StageInput, step, reason, err)
		}
		if ch {
			a = build(strs)
		}
		if pol != nil && pol.Has(policy.Input) {
			r, err := pol.CheckArgumentsAt(ctx, policy.Input, a)
			if err != nil {
				return nil, false, c.guardError(StageInput, "policy "+name, "", err)
			}
			pg := policyGuard{name: name, c: pol, log: c.g.log}
			pg.logFindings(StageInput, r.Findings)
			if r.Blocked() {
				if r.Decision == policy.DecisionReview {
					c.review = &ReviewCase{Stage: StageInput, Policy: name, Step: r.Step, Text: a, Findings: r.Findings}
				}
				return nil, false, c.guardError(StageInput, pg.stepLabel(r.Step, r.Decision), r.Message, nil)
			}
			a = r.Text
		}
		if a != args[i] {
			out[i], changed = a, true
		}
	}
	return out, changed, nil
}

// requestText is what a request gives the input steps: texts (the messages' text contents
// and text parts, the tools' descriptions; or the embedding inputs) and args (the
// arguments of the tool calls of the conversation's assistant messages); set writes
// replacements back, leaving what is not text (a null content) as it was.
type requestText struct {
	texts, args []string
	set         func(texts, args []string)
}

// textAt is where a text sits in a chat request: at msg's content (part < 0) or its
// content part, or, when call >= 0, at the arguments of the message's tool call (asString:
// written as a string of JSON, else as the JSON itself); or at a tool's description (msg < 0).
type textAt struct {
	msg, part, call int
	asString        bool
}

// inputTexts finds the texts of a request and returns a function that writes replacements
// back.
func inputTexts(endpoint string, fields map[string]json.RawMessage) requestText {
	if endpoint == endpointEmbeddings {
		var one string
		if json.Unmarshal(fields["input"], &one) == nil {
			return requestText{texts: []string{one}, set: func(t, _ []string) { fields["input"] = marshal(t[0]) }}
		}
		var many []string
		if json.Unmarshal(fields["input"], &many) == nil {
			return requestText{texts: many, set: func(t, _ []string) { fields["input"] = marshal(t) }}
		}
		return requestText{}
	}
	var r requestText
	var locs, argLocs []textAt
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(fields["messages"], &msgs) != nil {
		msgs = nil
	}
	parts := make([][]map[string]json.RawMessage, len(msgs))
	calls := make([][]map[string]json.RawMessage, len(msgs))
	fns := make([][]map[string]json.RawMessage, len(msgs))
	for i, m := range msgs {
		var s string
		switch {
		case isNull(m["content"]):
		case json.Unmarshal(m["content"], &s) == nil:
			r.texts, locs = append(r.texts, s), append(locs, textAt{msg: i, part: -1, call: -1})
		case json.Unmarshal(m["content"], &parts[i]) == nil:
			for j, p := range parts[i] {
				var typ, text string
				_ = json.Unmarshal(p["type"], &typ)
				if typ == "text" && json.Unmarshal(p["text"], &text) == nil {
					r.texts, locs = append(r.texts, text), append(locs, textAt{msg: i, part: j, call: -1})
				}
			}
		}
		if isNull(m["tool_calls"]) || json.Unmarshal(m["tool_calls"], &calls[i]) != nil {
			continue
		}
		fns[i] = make([]map[string]json.RawMessage, len(calls[i]))
		for j, tc := range calls[i] {
			if json.Unmarshal(tc["function"], &fns[i][j]) != nil || isNull(fns[i][j]["arguments"]) {
				continue
			}
			// Arguments are a string of JSON; some clients send the JSON itself.
			args := string(fns[i][j]["arguments"])
			asString := json.Unmarshal(fns[i][j]["arguments"], &args) == nil
			r.args, argLocs = append(r.args, args), append(argLocs, textAt{msg: i, call: j, asString: asString})
		}
	}
	var tools []map[string]json.RawMessage
	if json.Unmarshal(fields["tools"], &tools) != nil {
		tools = nil
	}
	toolFns := make([]map[string]json.RawMessage, len(tools))
	for i, t := range tools {
		var d string
		if json.Unmarshal(t["function"], &toolFns[i]) == nil && !isNull(toolFns[i]["description"]) && json.Unmarshal(toolFns[i]["description"], &d) == nil {
			r.texts, locs = append(r.texts, d), append(locs, textAt{msg: -1, part: i})
		}
	}
	texts, args := r.texts, r.args
	r.set = func(t, a []string) {
		msgsDirty, toolsDirty := false, false
		for k, l := range locs {
			if t[k] == texts[k] {
				continue
			}
			switch {
			case l.msg < 0:
				toolFns[l.part]["description"] = marshal(t[k])
				tools[l.part]["function"] = marshal(toolFns[l.part])
				toolsDirty = true
			case l.part < 0:
				msgs[l.msg]["content"] = marshal(t[k])
				msgsDirty = true
			default:
				parts[l.msg][l.part]["text"] = marshal(t[k])
				msgs[l.msg]["content"] = marshal(parts[l.msg])
				msgsDirty = true
			}
		}
		for k, l := range argLocs {
			if a[k] == args[k] {
				continue
			}
			fn := fns[l.msg][l.call]
			if l.asString {
				fn["arguments"] = marshal(a[k])
			} else {
				fn["arguments"] = json.RawMessage(a[k]) // still JSON: redaction keeps it so
			}
			calls[l.msg][l.call]["function"] = marshal(fn)
			msgs[l.msg]["tool_calls"] = marshal(calls[l.msg])
			msgsDirty = true
		}
		if msgsDirty {
			fields["messages"] = marshal(msgs)
		}
		if toolsDirty {
			fields["tools"] = marshal(tools)
		}
	}
	return r
}

// isNull tells whether a JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
