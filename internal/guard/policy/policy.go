// Package policy runs guard policies: ordered steps on a text, each a detector from
// internal/guard and an action for what it finds (allow and log, redact, block, or send to
// human review). A policy file is YAML (Load, Parse); the gateway's config embeds the same
// shape under policies:. docs/guard.md is the reference.
package policy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/guard"
)

// Policy is a policy as written: its steps on the input (what a client sends) and on the
// output (what a model answers).
type Policy struct {
	Input  []Step `yaml:"input" json:"input,omitempty"`
	Output []Step `yaml:"output" json:"output,omitempty"`
	// StreamWindow is how many bytes of already streamed text each new delta is checked
	// with (default 1024).
	StreamWindow int `yaml:"stream_window" json:"stream_window,omitempty"`
	// StreamHold is how many bytes of a stream are held back before they reach the client,
	// so that a value split across deltas can still be redacted (default 64, only when an
	// output step redacts).
	StreamHold int `yaml:"stream_hold" json:"stream_hold,omitempty"`
	// ReviewQueue names the review queue the cases of this policy's review steps go to in
	// plumb serve and plumb gateway --db (default guard-review); a step's queue: wins.
	ReviewQueue string `yaml:"review_queue" json:"review_queue,omitempty"`
}

// Step is one detector and what to do with its findings.
type Step struct {
	// Name labels the step in results and logs (default: the detector's name).
	Name     string         `yaml:"name" json:"name,omitempty"`
	Detector string         `yaml:"detector" json:"detector"`
	Options  map[string]any `yaml:"options" json:"options,omitempty"`
	// Action is allow (log the finding), redact, block or review.
	Action string `yaml:"action" json:"action"`
	// How a redact step rewrites a finding: replace (default), mask, hash or remove.
	How string `yaml:"how" json:"how,omitempty"`
	// Message is what a blocked caller is told.
	Message string `yaml:"message" json:"message,omitempty"`
	// Queue names the review queue a review step's cases go to (default: the policy's
	// review_queue).
	Queue string `yaml:"queue" json:"queue,omitempty"`
}

// Actions.
const (
	ActionAllow  = "allow"
	ActionRedact = "redact"
	ActionBlock  = "block"
	ActionReview = "review"
)

// Decisions a check returns: allow (nothing or only logged findings), redact (the text was
// rewritten), block, or review (blocked, and the case needs a person's review).
const (
	DecisionAllow  = "allow"
	DecisionRedact = "redact"
	DecisionBlock  = "block"
	DecisionReview = "review"
)

// Stage is the side of a call a policy checks.
type Stage string

// The stages.
const (
	Input  Stage = "input"
	Output Stage = "output"
)

var (
	actions = []string{ActionAllow, ActionRedact, ActionBlock, ActionReview}
	hows    = []string{"replace", "mask", "hash", "remove"}
)

// Defaults.
const (
	DefaultStreamWindow = 1024
	DefaultStreamHold   = 64
)

// Problem is a mistake in a policy, at a path relative to the policy ("input[0].action").
type Problem struct {
	Path, Msg, Hint string
}

// Options are what compiling needs from its caller.
type Options struct {
	// Classify is the model llm_classifier steps ask when Classifier is nil; both nil:
	// such steps are a problem.
	Classify guard.Classify
	// Classifier builds the model an llm_classifier step asks from the step's options
	// (provider, model, base_url, api_key_env); its error is a problem at the step's
	// options. The gateway and plumb guard check each give one (see classifier.go).
	Classifier func(ClassifierConfig) (guard.Classify, error)
}

// Compiled is a policy ready to run. It is safe for concurrent use.
type Compiled struct {
	input, output []*step
	window, hold  int
	reviewQueue   string
}

type step struct {
	Step
	det        guard.Detector
	classifier *classifierStep // llm_classifier steps: timeout and on_error
}

// Compile checks the policy and builds its detectors. Every problem is returned at once.
func (p *Policy) Compile(opt Options) (*Compiled, []Problem) {
	var probs []Problem
	c := &Compiled{window: p.StreamWindow, hold: p.StreamHold, reviewQueue: p.ReviewQueue}
	if c.window == 0 {
		c.window = DefaultStreamWindow
	}
	if c.hold == 0 {
		c.hold = DefaultStreamHold
	}
	if p.StreamWindow < 0 || p.StreamWindow > 1<<20 {
		probs = append(probs, Problem{"stream_window", "stream_window must be between 1 and 1048576 bytes", "write e.g. stream_window: 1024"})
	}
	if p.StreamHold < 0 || p.StreamHold > 1<<16 {
		probs = append(probs, Problem{"stream_hold", "stream_hold must be between 1 and 65536 bytes", "write e.g. stream_hold: 64"})
	}
	if len(p.Input) == 0 && len(p.Output) == 0 {
		probs = append(probs, Problem{"", "the policy has no steps", "add input: or output: with steps {detector, action}"})
	}
	if p.ReviewQueue != "" && !queueNameRe.MatchString(p.ReviewQueue) {
		probs = append(probs, Problem{"review_queue", fmt.Sprintf("review_queue %q is not a queue name", p.ReviewQueue), queueNameHint})
	}
	build := func(stage string, steps []Step) []*step {
		var out []*step
		for i, s := range steps {
			path := fmt.Sprintf("%s[%d]", stage, i)
			if s.Name == "" {
				s.Name = s.Detector
			}
			ok := true
			switch s.Action {
			case ActionAllow, ActionBlock, ActionReview:
			case ActionRedact:
				if s.How == "" {
					s.How = "replace"
				}
				if !slices.Contains(hows, s.How) {
					probs = append(probs, Problem{path + ".how", fmt.Sprintf("unknown redaction %q", s.How), hint(s.How, hows, "use replace, mask, hash or remove")})
					ok = false
				}
			case "":
				probs = append(probs, Problem{path, fmt.Sprintf("step %d has no action", i+1), "add action: allow, redact, block or review"})
				ok = false
			default:
				probs = append(probs, Problem{path + ".action", fmt.Sprintf("unknown action %q", s.Action), hint(s.Action, actions, "use allow, redact, block or review")})
				ok = false
			}
			if s.How != "" && s.Action != ActionRedact {
				probs = append(probs, Problem{path + ".how", "how: is for redact steps only", "remove how:, or write action: redact"})
			}
			switch {
			case s.Queue != "" && s.Action != ActionReview:
				probs = append(probs, Problem{path + ".queue", "queue: is for review steps only", "remove queue:, or write action: review"})
			case s.Queue != "" && !queueNameRe.MatchString(s.Queue):
				probs = append(probs, Problem{path + ".queue", fmt.Sprintf("queue %q is not a queue name", s.Queue), queueNameHint})
			}
			if s.Detector == "" {
				probs = append(probs, Problem{path, fmt.Sprintf("step %d has no detector", i+1), "add detector: one of " + strings.Join(guard.Names(), ", ")})
				continue
			}
			spec := guard.Spec{Name: s.Detector, Options: s.Options}
			var cl *classifierStep
			if s.Detector == "llm_classifier" {
				var p *Problem
				spec, cl, p = classifierSpec(path, s, opt)
				if p != nil {
					probs = append(probs, *p)
					continue
				}
			}
			d, err := guard.New(spec)
			if oes, isOpt := err.(guard.OptionErrors); isOpt {
				probs = append(probs, optionProblems(path, oes)...)
				continue
			}
			if err != nil {
				where := path + ".detector"
				if slices.Contains(guard.Names(), s.Detector) {
					where = path + ".options"
				}
				h := "see docs/guard.md for the detectors and their options"
				if !slices.Contains(guard.Names(), s.Detector) {
					h = hint(s.Detector, guard.Names(), h)
				}
				probs = append(probs, Problem{where, strings.TrimPrefix(err.Error(), "guard: "), h})
				continue
			}
			if ok {
				out = append(out, &step{Step: s, det: d, classifier: cl})
			}
		}
		return out
	}
	c.input = build("input", p.Input)
	c.output = build("output", p.Output)
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

// optionProblems are a step's option mistakes, each at the option it is about. An
// llm_classifier step's options include those the policy reads itself (model, timeout_ms,
// ...), which the detector never sees.
func optionProblems(path string, oes guard.OptionErrors) []Problem {
	var probs []Problem
	for _, e := range oes {
		h := "see docs/guard.md for the detectors and their options"
		if e.Msg == "" && e.Detector == "llm_classifier" {
			e.Known = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(e.Known), classifierKeys...))))
		}
		if e.Msg == "" {
			h = hint(e.Option, e.Known, h)
		}
		probs = append(probs, Problem{path + ".options." + e.Option, strings.TrimPrefix(e.Error(), "guard: "), h})
	}
	return probs
}

// queueNameRe is what a review queue's name may be (the store's rule for queue names).
var queueNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

const queueNameHint = "use letters, digits, -, _ and ., with / between parts (e.g. support/guard-review), each part starting with a letter or digit"

// ReviewQueue is the review queue named for the cases the review step called step of stage
// holds: the step's queue:, else the policy's review_queue:, else "" (the caller's default).
func (c *Compiled) ReviewQueue(stage Stage, step string) string {
	for _, s := range c.steps(stage) {
		if s.Name == step && s.Queue != "" {
			return s.Queue
		}
	}
	return c.reviewQueue
}

func hint(s string, candidates []string, fallback string) string {
	if sug := config.Suggest(s, candidates); sug != "" {
		return fmt.Sprintf("did you mean %q?", sug)
	}
	return fallback
}

// Finding is a detector's finding with the step that acted on it.
type Finding struct {
	guard.Finding
	Step   string `json:"step"`
	Action string `json:"action"`
}

// Result is what a check decided.
type Result struct {
	// Decision is allow, redact, block or review.
	Decision string `json:"decision"`
	// Findings are every step's findings, in step order. Their spans are offsets into the
	// text as the step saw it (after earlier redactions).
	Findings []Finding `json:"findings"`
	// Text is the text as the steps left it (redacted); empty when blocked.
	Text string `json:"text"`
	// Step and Message say which step blocked and what the caller is told.
	Step    string `json:"step,omitempty"`
	Message string `json:"message,omitempty"`
	// Errors are the failures of llm_classifier steps (the model could not be asked or
	// its reply not read), whose on_error decided what happened.
	Errors []StepError `json:"errors,omitempty"`
}

// StepError is a step that failed and what its on_error made of it.
type StepError struct {
	Step    string `json:"step"`
	Error   string `json:"error"`
	OnError string `json:"on_error"`
}

// Blocked reports whether the text must not go on (block or review).
func (r *Result) Blocked() bool {
	return r.Decision == DecisionBlock || r.Decision == DecisionReview
}

// Has reports whether the stage has steps.
func (c *Compiled) Has(stage Stage) bool { return len(c.steps(stage)) > 0 }

func (c *Compiled) steps(stage Stage) []*step {
	if stage == Output {
		return c.output
	}
	return c.input
}

// Check runs the stage's steps over text in order; each step sees the text as the steps
// before it left it, and the first block or review ends the check.
func (c *Compiled) Check(ctx context.Context, stage Stage, text string) (*Result, error) {
	r := &Result{Decision: DecisionAllow, Text: text, Findings: []Finding{}}
	for _, s := range c.steps(stage) {
		stop, err := s.apply(ctx, stage, r)
		if err != nil {
			return nil, err
		}
		if stop {
			break
		}
	}
	return r, nil
}

// apply runs the step over r.Text and adds what it found and decided to r. It reports
// whether the step ended the check: a block or review, or a failed llm_classifier step
// whose on_error blocks.
func (s *step) apply(ctx context.Context, stage Stage, r *Result) (bool, error) {
	fs, err := s.detect(ctx, r.Text)
	if err != nil && s.classifier != nil && ctx.Err() == nil {
		r.Errors = append(r.Errors, StepError{Step: s.Name, Error: err.Error(), OnError: s.classifier.onError})
		if s.classifier.onError == ActionAllow {
			return false, nil
		}
		r.Decision, r.Step, r.Text = DecisionBlock, s.Name, ""
		r.Message = fmt.Sprintf("The %s was blocked: the guard policy's step %q could not check it.", stage, s.Name)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("step %s: %w", s.Name, err)
	}
	if len(fs) == 0 {
		return false, nil
	}
	for _, f := range fs {
		r.Findings = append(r.Findings, Finding{Finding: f, Step: s.Name, Action: s.Action})
	}
	switch s.Action {
	case ActionRedact:
		if t := Redact(r.Text, fs, s.How); t != r.Text {
			r.Text, r.Decision = t, DecisionRedact
		}
	case ActionBlock, ActionReview:
		r.Decision, r.Step, r.Message, r.Text = s.Action, s.Name, s.message(stage, fs), ""
		return true, nil
	}
	return false, nil
}

func (s *step) message(stage Stage, fs []guard.Finding) string {
	if s.Message != "" {
		return s.Message
	}
	kinds := []string{}
	for _, f := range fs {
		if !slices.Contains(kinds, f.Type) {
			kinds = append(kinds, f.Type)
		}
	}
	verb := "blocked"
	if s.Action == ActionReview {
		verb = "held for human review"
	}
	return fmt.Sprintf("The %s was %s by the guard policy's step %q (%s).", stage, verb, s.Name, strings.Join(kinds, ", "))
}

// Redact rewrites what the findings span; how is replace, mask, hash or remove.
func Redact(text string, fs []guard.Finding, how string) string {
	if how == "remove" {
		how = "redact"
	}
	return guard.Redact(text, fs, how)
}
