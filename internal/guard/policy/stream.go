package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/guard"
)

// wholeText are the detectors that judge a whole text; a stream runs them on the whole
// answer when it ends (Close), not on a window.
var wholeText = []string{"json_schema", "length", "language", "llm_classifier"}

// MaxStreamText bounds the answer a stream keeps for its whole-text steps. An answer longer
// than that cannot be judged whole: when a whole-text step would block or review it, the
// stream is blocked as it passes the bound; otherwise those steps are not run.
const MaxStreamText = 1 << 20

// Stream checks a streamed output as it flows. Each delta is checked together with the
// last window bytes already streamed; a block or review step's finding ends the stream.
// When an output step redacts, the last hold bytes are held back, so that a value split
// across deltas is whole before it is let out; a value longer than that, or one that
// starts in text already let out, is only partly redacted. All window steps see the same
// window text (redactions do not feed later steps).
//
// The whole-text steps (json_schema, length, language, llm_classifier) judge the answer as
// it was let out (redacted), kept up to MaxStreamText, when Close ends it: a block then
// comes after the client has the text, but before the stream's normal end. A length step
// with a maximum that blocks or reviews ends the stream as soon as the text let out would
// pass it. A whole-text step that redacts rewrites nothing, as in Check (its findings are
// about the whole text): it logs its findings like allow.
type Stream struct {
	c          *Compiled
	steps      []*step // window steps
	whole      []*step // whole-text steps, run by Close
	early      []lengthMax
	hold       int
	tail, held string // raw text already let out (its last window bytes), and held back
	// text is the answer let out, for the whole-text steps; over: it passed MaxStreamText.
	text strings.Builder
	over bool
	seen bool // a delta was written: an answer without text is not judged whole
	// chars and tokens are upper bounds of text's characters and estimated tokens.
	chars, tokens int
	// found are the allow and redact steps' findings in text let out, for Drain.
	found  []Finding
	errs   []StepError
	judged string
}

// lengthMax is a length step with a maximum whose findings end the stream.
type lengthMax struct {
	*step
	chars, tokens int
}

// Drain returns the allow and redact steps' findings in the text let out since the last
// Drain, each once, with offsets into the window it was found in (for logs, not for
// pointing into the whole answer); a whole-text step's span the whole answer.
func (s *Stream) Drain() []Finding {
	fs := s.found
	s.found = nil
	return fs
}

// DrainErrors returns the failures of llm_classifier steps since the last DrainErrors,
// with what their on_error made of them.
func (s *Stream) DrainErrors() []StepError {
	es := s.errs
	s.errs = nil
	return es
}

// Judged is the text the step that blocked the stream judged: the window (the last deltas
// with the text before them) for most steps, the answer let out so far for a whole-text
// step. It is empty until a block.
func (s *Stream) Judged() string { return s.judged }

type streamFinding struct {
	f    guard.Finding
	step *step
}

// Stream starts checking one streamed output.
func (c *Compiled) Stream() *Stream {
	s := &Stream{c: c}
	for _, st := range c.output {
		if slices.Contains(wholeText, st.Detector) {
			s.whole = append(s.whole, st)
			if l, ok := lengthLimit(st); ok {
				s.early = append(s.early, l)
			}
			continue
		}
		s.steps = append(s.steps, st)
		if st.Action == ActionRedact {
			s.hold = c.hold
		}
	}
	return s
}

// lengthLimit is a length step's maximum, when it has one and blocks or reviews.
func lengthLimit(st *step) (lengthMax, bool) {
	if st.Detector != "length" || (st.Action != ActionBlock && st.Action != ActionReview) {
		return lengthMax{}, false
	}
	// guard.New checked the options: what is set is a whole number.
	chars, _ := wholeNumber(st.Options["max_chars"])
	tokens, _ := wholeNumber(st.Options["max_tokens"])
	l := lengthMax{step: st, chars: int(chars), tokens: int(tokens)}
	return l, l.chars > 0 || l.tokens > 0
}

// Write takes the next delta and returns the text to let out now, or a blocked result.
func (s *Stream) Write(ctx context.Context, delta string) (string, *Result, error) {
	if delta != "" {
		s.seen = true
	}
	s.held += delta
	return s.emit(ctx, false)
}

// Flush lets out what is held back, checked, without ending the answer: where a text block
// ends and another kind of content follows.
func (s *Stream) Flush(ctx context.Context) (string, *Result, error) {
	return s.emit(ctx, true)
}

// Close lets out what is held back, checked, and runs the whole-text steps on the answer:
// the stream's answer has ended. Further deltas are checked by the window steps only.
func (s *Stream) Close(ctx context.Context) (string, *Result, error) {
	out, r, err := s.emit(ctx, true)
	if err != nil || r != nil {
		return "", r, err
	}
	whole := s.whole
	s.whole, s.early = nil, nil
	if len(whole) == 0 || !s.seen || s.over {
		return out, nil, nil
	}
	text := s.text.String()
	res := &Result{Decision: DecisionAllow, Text: text, Findings: []Finding{}}
	for _, st := range whole {
		stop, err := st.apply(ctx, Output, res)
		if err != nil {
			return "", nil, err
		}
		if stop {
			break
		}
	}
	s.errs = append(s.errs, res.Errors...)
	if res.Blocked() {
		s.judged = text
		return "", res, nil
	}
	s.found = append(s.found, res.Findings...)
	return out, nil, nil
}

func (s *Stream) emit(ctx context.Context, final bool) (string, *Result, error) {
	out, r, err := s.window(ctx, final)
	if err != nil || r != nil {
		return "", r, err
	}
	if r := s.keep(ctx, out); r != nil {
		return "", r, nil
	}
	return out, nil, nil
}

// keep adds text about to be let out to the answer the whole-text steps judge, and checks
// the length maximums; a result is a block, and the text must not go out.
func (s *Stream) keep(ctx context.Context, out string) *Result {
	if len(s.whole) == 0 || s.over || out == "" {
		return nil
	}
	if s.text.Len()+len(out) > MaxStreamText {
		for _, st := range s.whole {
			if st.Action == ActionBlock || st.Action == ActionReview {
				s.judged = s.text.String()
				return &Result{Decision: DecisionBlock, Step: st.Name, Findings: []Finding{},
					Message: fmt.Sprintf("The output was blocked: it is longer than %d bytes, more than the guard policy's step %q can check on a stream.", MaxStreamText, st.Name)}
			}
		}
		s.over = true
		s.text = strings.Builder{}
		return nil
	}
	s.text.WriteString(out)
	s.chars += utf8.RuneCountInString(out)
	// Counted delta by delta, a word split across deltas counts once in each: an upper
	// bound, checked against the whole text when it passes a maximum.
	s.tokens += guard.EstimateTokens(out)
	for _, l := range s.early {
		if (l.chars == 0 || s.chars <= l.chars) && (l.tokens == 0 || s.tokens <= l.tokens) {
			continue
		}
		text := s.text.String()
		// The length detector cannot fail; a too_short finding says nothing yet.
		fs, _ := l.det.Detect(ctx, text)
		fs = slices.DeleteFunc(fs, func(f guard.Finding) bool { return f.Type != "too_long" })
		if len(fs) == 0 {
			s.tokens = guard.EstimateTokens(text)
			continue
		}
		s.judged = text
		r := &Result{Decision: l.Action, Step: l.Name, Message: l.message(Output, fs)}
		for _, f := range fs {
			r.Findings = append(r.Findings, Finding{Finding: f, Step: l.Name, Action: l.Action})
		}
		return r
	}
	return nil
}

// window runs the window steps over what is held back and returns the part to let out.
func (s *Stream) window(ctx context.Context, final bool) (string, *Result, error) {
	if len(s.steps) == 0 {
		out := s.held
		s.held = ""
		return out, nil, nil
	}
	if s.held == "" {
		return "", nil, nil
	}
	text := s.tail + s.held
	base := len(s.tail)
	var redact, seen []streamFinding
	for _, st := range s.steps {
		fs, err := st.det.Detect(ctx, text)
		if err != nil {
			return "", nil, err
		}
		if len(fs) > 0 && (st.Action == ActionBlock || st.Action == ActionReview) {
			// Anywhere in the window: a finding in text already let out is new too (words
			// after it raised its score), else it would have ended the stream before.
			s.judged = text
			r := &Result{Decision: st.Action, Step: st.Name, Message: st.message(Output, fs)}
			for _, f := range fs {
				r.Findings = append(r.Findings, Finding{Finding: f, Step: st.Name, Action: st.Action})
			}
			return "", r, nil
		}
		for _, f := range fs {
			if f.End <= base {
				continue // wholly let out already: reported, and too late to redact
			}
			seen = append(seen, streamFinding{f, st})
			if st.Action == ActionRedact {
				redact = append(redact, streamFinding{f, st})
			}
		}
	}
	cut := len(s.held)
	if !final {
		cut = max(0, len(s.held)-s.hold)
		for cut > 0 && cut < len(s.held) && !utf8.RuneStart(s.held[cut]) {
			cut--
		}
		// A finding that crosses the cut goes out whole, redacted.
		for _, r := range redact {
			if r.f.Start-base < cut && r.f.End-base > cut {
				cut = r.f.End - base
			}
		}
	}
	out := s.held[:cut]
	// Rewrite the findings within what goes out, from the last to the first so that the
	// earlier offsets hold.
	for _, sf := range seen {
		if sf.f.End-base <= cut {
			s.found = append(s.found, Finding{Finding: sf.f, Step: sf.step.Name, Action: sf.step.Action})
		}
	}
	slices.SortFunc(redact, func(a, b streamFinding) int {
		return b.f.Start - a.f.Start
	})
	end := len(out)
	for _, r := range redact {
		f := r.f
		f.Start, f.End = max(f.Start-base, 0), f.End-base
		// Clip to what goes out, and to before a later finding already rewritten.
		f.End = min(f.End, len(out), end)
		if f.Start >= f.End {
			continue
		}
		out = Redact(out, []guard.Finding{f}, r.step.How)
		end = f.Start
	}
	s.tail = lastBytes(s.tail+s.held[:cut], s.c.window)
	s.held = s.held[cut:]
	return out, nil, nil
}

// lastBytes is the last n bytes of s, starting at a rune.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}
