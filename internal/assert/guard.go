package assert

import (
	"context"
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/guard"
)

// compileGuard builds guard:<detector>: it passes when the detector finds something in the
// output (not-guard:<detector>: when it finds nothing). The value, optional, is the
// detector's options map.
func compileGuard(detector string, a *config.Assertion) (checkFunc, error) {
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
		return nil, errAt(a, "guard:llm_classifier is not supported in assertions yet: it needs a model to ask", "use llm-rubric with a safety rubric, or another detector")
	}
	d, err := guard.New(guard.Spec{Name: detector, Options: opts})
	if err != nil {
		return nil, errAt(a, strings.TrimPrefix(err.Error(), "guard: "), "see docs/guard.md for the detectors and their options")
	}
	want := "the " + detector + " detector to find something"
	wantNot := "the " + detector + " detector to find nothing"
	return func(ctx context.Context, in *Input) outcome {
		fs, err := d.Detect(ctx, in.Output)
		if err != nil {
			return outcome{err: fmt.Sprintf("%s: %v", name, err)}
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
