package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/guard"
)

// streamAll writes the deltas and closes the stream; it returns the text let out and the
// result that blocked it, if any.
func streamAll(t *testing.T, s *Stream, deltas ...string) (string, *Result) {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	for _, d := range deltas {
		o, r, err := s.Write(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil {
			return out.String(), r
		}
		out.WriteString(o)
	}
	o, r, err := s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString(o)
	return out.String(), r
}

func TestStreamWholeText(t *testing.T) {
	classify := func(_ context.Context, prompt string) (string, error) {
		switch {
		case strings.Contains(prompt, "steal"):
			return "unsafe\nS2", nil
		case strings.Contains(prompt, "down"):
			return "", errors.New("upstream down")
		}
		return "safe", nil
	}
	parse := func(yaml string) *Compiled {
		t.Helper()
		c, err := Parse([]byte(yaml), "p.yaml", Options{Classify: classify})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	jsonPolicy := parse("output:\n  - detector: json_schema\n    options: {schema: {type: object, required: [answer]}}\n    action: block\n")
	classifier := parse("output:\n  - detector: pii\n    options: {types: [email]}\n    action: redact\n  - detector: llm_classifier\n    options: {role: agent}\n    action: review\n")
	lengthPolicy := parse("output:\n  - detector: length\n    options: {max_chars: 20}\n    action: block\n    message: Too long.\n")
	for _, tc := range []struct {
		name   string
		c      *Compiled
		deltas []string
		// out is what is let out; step the step that blocked ("" for none); judged what it saw.
		out, step, judged string
	}{
		{"json whole", jsonPolicy, []string{`{"ans`, `wer": 42}`}, `{"answer": 42}`, "", ""},
		// The text went out as it came; the schema fails only on the whole answer.
		{"json violation at the end", jsonPolicy, []string{`{"resp`, `onse": 42}`}, `{"response": 42}`, "json_schema", `{"response": 42}`},
		{"json cut", jsonPolicy, []string{`{"answer": `}, `{"answer": `, "json_schema", `{"answer": `},
		// An answer without text (tool calls only) is not judged whole.
		{"no text", jsonPolicy, nil, "", "", ""},
		// The classifier judges the answer as the client would get it: redacted. The redact
		// step held the last 64 bytes back: a block at the end keeps them from the client.
		{"classifier", classifier, []string{"how to steal", " a car: mail bob@example.com"}, "", "llm_classifier", "how to steal a car: mail <EMAIL>"},
		{"classifier safe", classifier, []string{"the weather ", "is fine"}, "the weather is fine", "", ""},
		{"classifier down: on_error block", classifier, []string{"server is down"}, "", "llm_classifier", "server is down"},
		// length with a max blocks before the text that passes it goes out.
		{"length", lengthPolicy, []string{"0123456789", "0123456789", "X"}, "01234567890123456789", "length", "01234567890123456789X"},
		{"length within", lengthPolicy, []string{"0123456789", "0123456789"}, "01234567890123456789", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.c.Stream()
			out, r := streamAll(t, s, tc.deltas...)
			step := ""
			if r != nil {
				step = r.Step
				if !r.Blocked() || r.Message == "" {
					t.Fatalf("result %+v", r)
				}
			}
			if out != tc.out || step != tc.step || s.Judged() != tc.judged {
				t.Fatalf("out %q step %q judged %q, want %q %q %q", out, step, s.Judged(), tc.out, tc.step, tc.judged)
			}
		})
	}

	// A failed classifier is reported with its on_error.
	s := classifier.Stream()
	if _, r := streamAll(t, s, "server is down"); r == nil || !strings.Contains(r.Message, "could not check it") {
		t.Fatalf("%+v", r)
	}
	if es := s.DrainErrors(); len(es) != 1 || es[0].OnError != "block" || !strings.Contains(es[0].Error, "upstream down") {
		t.Fatalf("errors %+v", es)
	}

	// An allow step's whole-text finding is drained once, after Close.
	s = parse("output:\n  - detector: language\n    options: {allowed: [fr]}\n    action: allow\n").Stream()
	if out, r := streamAll(t, s, "This is the answer and it is written in plain English for you."); r != nil || out == "" {
		t.Fatalf("%q %+v", out, r)
	}
	if fs := s.Drain(); len(fs) != 1 || fs[0].Type != "language" || fs[0].Action != ActionAllow {
		t.Fatalf("findings %+v", fs)
	}
}

// A redact whole-text step rewrites nothing, on a stream as in Check.
func TestStreamWholeTextRedact(t *testing.T) {
	c, err := Parse([]byte("output:\n  - detector: length\n    options: {max_chars: 5}\n    action: redact\n"), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Check(context.Background(), Output, "far too long")
	if err != nil || r.Decision != DecisionAllow || r.Text != "far too long" || len(r.Findings) != 1 {
		t.Fatalf("check: %+v %v", r, err)
	}
	s := c.Stream()
	if out, r := streamAll(t, s, "far ", "too long"); r != nil || out != "far too long" {
		t.Fatalf("stream: %q %+v", out, r)
	}
	if fs := s.Drain(); len(fs) != 1 || fs[0].Type != "too_long" {
		t.Fatalf("findings %+v", fs)
	}
}

func TestStreamLengthTokens(t *testing.T) {
	c, err := Parse([]byte("output:\n  - detector: length\n    options: {max_tokens: 10}\n    action: review\n"), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Words split across deltas are counted once: ten one-token words pass, though the
	// deltas' own counts add up to 12.
	s := c.Stream()
	out, r := streamAll(t, s, "one two si", "x ten red b", "ig cat dog sun sky")
	if r != nil || guard.EstimateTokens(out) != 10 {
		t.Fatalf("%q (%d tokens) %+v", out, guard.EstimateTokens(out), r)
	}
	s = c.Stream()
	out, r = streamAll(t, s, "one two six ten red ", "big cat dog sun sky ", "end now")
	if r == nil || r.Decision != DecisionReview || out != "one two six ten red big cat dog sun sky " {
		t.Fatalf("%q %+v", out, r)
	}
}

// Past MaxStreamText a stream with a whole-text step that blocks is blocked; one whose
// whole-text steps only log goes on without them.
func TestStreamWholeTextBound(t *testing.T) {
	chunk := strings.Repeat("a", 64<<10)
	many := make([]string, MaxStreamText/len(chunk)+1)
	for i := range many {
		many[i] = chunk
	}
	c, err := Parse([]byte("output:\n  - detector: language\n    options: {allowed: [en]}\n    action: block\n"), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, r := streamAll(t, c.Stream(), many...)
	if r == nil || len(out) != MaxStreamText || !strings.Contains(r.Message, "longer than 1048576 bytes") {
		t.Fatalf("%d bytes let out, %+v", len(out), r)
	}
	c, err = Parse([]byte("output:\n  - detector: language\n    options: {allowed: [en]}\n    action: allow\n"), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out, r = streamAll(t, c.Stream(), many...); r != nil || len(out) != len(many)*len(chunk) {
		t.Fatalf("%d bytes let out, %+v", len(out), r)
	}
}

// Judged is the window a window step blocked on.
func TestStreamJudgedWindow(t *testing.T) {
	c, err := Parse([]byte(sample), "p.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Stream()
	_, r := streamAll(t, s, "hello there, ", "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123")
	if r == nil || r.Decision != DecisionReview || s.Judged() != "hello there, the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123" {
		t.Fatalf("%+v judged %q", r, s.Judged())
	}
}
