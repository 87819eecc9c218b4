package policy

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/guard"
)

// wholeText are the detectors that judge a whole text; a stream is checked through a
// window, so they are not run on streams.
var wholeText = []string{"json_schema", "length", "language", "llm_classifier"}

// Stream checks a streamed output as it flows. Each delta is checked together with the
// last window bytes already streamed; a block or review step's finding ends the stream.
// When an output step redacts, the last hold bytes are held back, so that a value split
// across deltas is whole before it is let out; a value longer than that, or one that
// starts in text already let out, is only partly redacted. All steps see the same window
// text (redactions do not feed later steps), and json_schema, length, language and
// llm_classifier steps do not run on streams.
type Stream struct {
	c          *Compiled
	steps      []*step
	hold       int
	tail, held string // raw text already let out (its last window bytes), and held back
	// found are the allow and redact steps' findings in text let out, for Drain.
	found []Finding
}

// Drain returns the allow and redact steps' findings in the text let out since the last
// Drain, each once, with offsets into the window it was found in (for logs, not for
// pointing into the whole answer).
func (s *Stream) Drain() []Finding {
	fs := s.found
	s.found = nil
	return fs
}

type streamFinding struct {
	f    guard.Finding
	step *step
}

// Stream starts checking one streamed output.
func (c *Compiled) Stream() *Stream {
	s := &Stream{c: c}
	for _, st := range c.output {
		if !slices.Contains(wholeText, st.Detector) {
			s.steps = append(s.steps, st)
			if st.Action == ActionRedact {
				s.hold = c.hold
			}
		}
	}
	return s
}

// Write takes the next delta and returns the text to let out now, or a blocked result.
func (s *Stream) Write(ctx context.Context, delta string) (string, *Result, error) {
	s.held += delta
	return s.emit(ctx, false)
}

// Close lets out what is held back, checked.
func (s *Stream) Close(ctx context.Context) (string, *Result, error) {
	return s.emit(ctx, true)
}

func (s *Stream) emit(ctx context.Context, final bool) (string, *Result, error) {
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
