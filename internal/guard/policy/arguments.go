package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/guard"
)

// CheckArguments runs the output steps over the arguments of a tool call a model made,
// as it runs them over an answer's text, but without the whole-text steps (json_schema,
// length, language, llm_classifier), which judge the answer's text.
//
// Arguments that are one JSON value are checked on their strings, object keys and string
// values alike, decoded, and their numbers, one per line (so that a key is context for its
// value), and a redact step rewrites those only: the arguments stay valid JSON, re-encoded
// compactly in their order (a redacted number becomes a string). Arguments that are not
// JSON are checked and redacted as text.
// Result.Text is the arguments as they go on: args itself when nothing was redacted.
func (c *Compiled) CheckArguments(ctx context.Context, args string) (*Result, error) {
	return c.CheckArgumentsAt(ctx, Output, args)
}

// CheckArgumentsAt is CheckArguments with the steps of stage: Input checks the arguments
// of the tool calls a conversation sent back (an earlier answer's calls).
func (c *Compiled) CheckArgumentsAt(ctx context.Context, stage Stage, args string) (*Result, error) {
	strs, build := ArgumentStrings(args)
	r := &Result{Decision: DecisionAllow, Text: args, Findings: []Finding{}}
	changed := false
	for _, s := range c.steps(stage) {
		if slices.Contains(wholeText, s.Detector) {
			continue
		}
		fs, err := s.det.Detect(ctx, strings.Join(strs, "\n"))
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.Name, err)
		}
		if len(fs) == 0 {
			continue
		}
		for _, f := range fs {
			r.Findings = append(r.Findings, Finding{Finding: f, Step: s.Name, Action: s.Action})
		}
		switch s.Action {
		case ActionRedact:
			if redactLines(strs, fs, s.How) {
				changed = true
			}
		case ActionBlock, ActionReview:
			r.Decision, r.Step, r.Message, r.Text = s.Action, s.Name, s.message(stage, fs), ""
			return r, nil
		}
	}
	if changed {
		r.Decision, r.Text = DecisionRedact, build(strs)
	}
	return r, nil
}

// redactLines rewrites, in place, the parts of the lines the findings span, the findings'
// offsets being into the lines joined with "\n". A finding across lines is redacted in
// each. It reports whether a line changed.
func redactLines(lines []string, fs []guard.Finding, how string) bool {
	changed := false
	start := 0
	for i, line := range lines {
		end := start + len(line)
		var in []guard.Finding
		for _, f := range fs {
			if f.End <= start || f.Start >= end {
				continue
			}
			f.Start, f.End = max(f.Start, start)-start, min(f.End, end)-start
			in = append(in, f)
		}
		if len(in) > 0 {
			if t := Redact(line, in, how); t != line {
				lines[i], changed = t, true
			}
		}
		start = end + 1
	}
	return changed
}

// ArgumentStrings splits a tool call's arguments into the strings a check reads, as
// CheckArguments does: a JSON value's strings and numbers, or the arguments themselves when
// they are not JSON; build writes the arguments again with others in their places.
func ArgumentStrings(args string) (strs []string, build func([]string) string) {
	strs, build, ok := jsonStrings(args)
	if !ok {
		strs, build = []string{args}, func(s []string) string { return s[0] }
	}
	return strs, build
}

// jsonStrings reads text as one JSON value and returns its strings (object keys and string
// values) and numbers (as written), in order, and a function that encodes the value again
// with others in their places. ok is false when text is not one JSON value. Every string is
// returned, also a repeated key's, which a decoder into a map would drop.
func jsonStrings(text string) (strs []string, build func([]string) string, ok bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var toks []json.Token
	depth := 0
	for {
		t, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || (depth == 0 && len(toks) > 0) {
			return nil, nil, false // malformed, or a second value
		}
		switch v := t.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			strs = append(strs, v)
		case json.Number:
			strs = append(strs, v.String())
		}
		toks = append(toks, t)
	}
	if len(toks) == 0 || depth != 0 {
		return nil, nil, false
	}
	return strs, func(strs []string) string { return encodeTokens(toks, strs) }, true
}

// encodeTokens writes a JSON value from its tokens, the strings and numbers taken from strs
// in order; a number strs changed is written as a string.
func encodeTokens(toks []json.Token, strs []string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	str := func(s string) {
		_ = enc.Encode(s)       // a string always encodes
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	type frame struct {
		object bool
		n      int // the keys and values (object) or elements (array) written
	}
	var stack []frame
	next := 0
	for _, t := range toks {
		if d, ok := t.(json.Delim); ok && (d == '}' || d == ']') {
			b.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				b.WriteByte(':')
			case top.n > 0:
				b.WriteByte(',')
			}
			top.n++
		}
		switch v := t.(type) {
		case json.Delim:
			b.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
		case string:
			str(strs[next])
			next++
		case json.Number:
			if strs[next] == v.String() {
				b.WriteString(v.String())
			} else {
				str(strs[next])
			}
			next++
		case bool:
			fmt.Fprint(&b, v)
		case nil:
			b.WriteString("null")
		}
	}
	return b.String()
}
