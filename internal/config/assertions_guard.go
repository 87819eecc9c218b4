package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plumbhq/plumb/internal/guard"
)

// GuardPrefix starts the assertion types that run a guard detector on the output:
// guard:<detector> passes when the detector finds something, not-guard:<detector> when it
// finds nothing. The value, optional, is the detector's options.
const GuardPrefix = "guard:"

// GuardDetectors are the detectors guard: assertions accept: every built-in but
// llm_classifier, which needs a model an assertion cannot give it yet.
func GuardDetectors() []string {
	var out []string
	for _, n := range guard.Names() {
		if n != "llm_classifier" {
			out = append(out, n)
		}
	}
	return out
}

func (l *loader) checkGuardType(detector string, pos Pos) bool {
	if slices.Contains(GuardDetectors(), detector) {
		return true
	}
	if detector == "llm_classifier" {
		l.fail(pos, "use `llm-rubric` with a safety rubric, or another detector",
			"guard:llm_classifier is not supported in assertions yet: it needs a model to ask")
		return false
	}
	hint := "the detectors are " + strings.Join(GuardDetectors(), ", ")
	if sug := Suggest(detector, GuardDetectors()); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", GuardPrefix+sug)
	}
	l.fail(pos, hint, "unknown guard detector %q", detector)
	return false
}
