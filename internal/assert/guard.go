package assert

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/guard"
	"github.com/plumbhq/plumb/internal/provider"
)

// compileGuard builds guard:<detector>: it passes when the detector finds something in the
// output (not-guard:<detector>: when it finds nothing). The value, optional, is the
// detector's options map. guard:llm_classifier asks the assertion's provider, else the
// suite's judge, with the Llama Guard prompt.
func compileGuard(detector string, a *config.Assertion, env *Env) (checkFunc, error) {
	name := typeName(a)
	if len(a.Config) > 0 {
		return nil, errAt(a, name+" takes no config", "give the detector's options as value: (a map), e.g. value: {types: [email]}")
	}
	if a.Threshold != nil {
		return nil, errAt(a, name+" has no threshold: it passes or fails outright", "remove threshold; the detector's min_score option, where it has one, sets how sure a finding must be")
	}
	if a.Rubric != "" {
		return nil, errAt(a, "rubricPrompt does not apply to "+name, "remove rubricPrompt")
	}
	var opts map[string]any
	switch v := a.Value.(type) {
	case nil:
	case map[string]any:
		opts = v
	default:
		return nil, errAt(a, fmt.Sprintf("the value of %s must be the detector's options, a map, not %T", name, a.Value),
			"write e.g. value: {types: [email, credit_card]}, or leave value out; see docs/guard.md")
	}
	if detector == "llm_classifier" {
		var err error
		if opts, err = classifierOptions(a, env, opts); err != nil {
			return nil, err
		}
	}
	d, err := guard.New(guard.Spec{Name: detector, Options: opts})
	if oes, ok := err.(guard.OptionErrors); ok {
		return nil, optionError(a, oes)
	}
	if err != nil {
		return nil, errAt(a, strings.TrimPrefix(err.Error(), "guard: "), "see docs/guard.md for the detectors and their options")
	}
	want := "the " + detector + " detector to find something"
	wantNot := "the " + detector + " detector to find nothing"
	return func(ctx context.Context, in *Input) outcome {
		fs, err := d.Detect(ctx, in.Output)
		if err != nil {
			return outcome{err: fmt.Sprintf("%s: %s", name, strings.TrimPrefix(strings.TrimPrefix(err.Error(), "guard: "), "llm_classifier: "))}
		}
		if len(fs) == 0 {
			return outcome{pass: false, score: 0, want: want, wantNot: wantNot, got: "no findings"}
		}
		parts := make([]string, 0, len(fs))
		for i, f := range fs {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("and %d more", len(fs)-5))
				break
			}
			parts = append(parts, fmt.Sprintf("%s at %d-%d (%s)", f.Type, f.Start, f.End, f.Reason))
		}
		return outcome{pass: true, score: 1, want: want, wantNot: wantNot,
			got: fmt.Sprintf("%d finding(s): %s", len(fs), strings.Join(parts, "; "))}
	}, nil
}

// optionError is the error of a guard assertion's options, with a "did you mean" for a
// misspelt option. guard:llm_classifier's model is the assertion's provider, not an option.
func optionError(a *config.Assertion, oes guard.OptionErrors) error {
	msgs := make([]string, len(oes))
	hint := "see docs/guard.md for the detectors and their options"
	for i, e := range oes {
		if e.Detector == "llm_classifier" {
			e.Known = slices.DeleteFunc(slices.Clone(e.Known), func(k string) bool { return k == "provider" })
		}
		msgs[i] = strings.TrimPrefix(e.Error(), "guard: ")
		if sug := config.Suggest(e.Option, e.Known); e.Msg == "" && sug != "" && i == 0 {
			hint = fmt.Sprintf("did you mean %q?", sug)
		}
	}
	return errAt(a, strings.Join(msgs, "; "), hint)
}

// classifierOptions are guard:llm_classifier's options with the model to ask filled in: the
// assertion's provider, else the suite's judge. It checks the output, so its role defaults
// to agent (Llama Guard's name for the model's side of a conversation).
func classifierOptions(a *config.Assertion, env *Env, opts map[string]any) (map[string]any, error) {
	if _, set := opts["provider"]; set {
		return nil, errAt(a, config.ClassifierProviderMsg, config.ClassifierProviderHint)
	}
	p, err := judgeFor(a, env)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"role": "agent"}
	for k, v := range opts {
		out[k] = v
	}
	out["provider"] = guard.Classify(func(ctx context.Context, prompt string) (string, error) {
		resp, err := p.Call(ctx, &provider.Request{Messages: []provider.Message{{Role: "user", Content: prompt}}, Prompt: prompt})
		if err != nil {
			return "", fmt.Errorf("the classifier %s: %w", p.Label(), err)
		}
		return resp.Output, nil
	})
	return out, nil
}
