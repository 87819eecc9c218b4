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

// GuardClassifier is the guard assertion graded by a model (a Llama Guard classifier): like
// llm-rubric it takes the assertion's provider or the suite's judge.
const GuardClassifier = GuardPrefix + "llm_classifier"

// The mistake of a guard:llm_classifier assertion that names its model inside value: (the
// detector's options) rather than beside it.
const (
	ClassifierProviderMsg  = "provider is not an option of value: the model to ask is the assertion's provider"
	ClassifierProviderHint = "write provider: beside value: on the assertion (e.g. provider: openai:chat:llama-guard3), or set the suite's judge"
)

// classifierProviderInValue is whether a guard:llm_classifier assertion names its model
// inside value:.
func classifierProviderInValue(a *Assertion) bool {
	m, ok := a.Value.(map[string]any)
	_, set := m["provider"]
	return ok && set && a.Base == GuardClassifier
}

// GuardDetectors are the detectors guard: assertions accept: every built-in.
func GuardDetectors() []string { return guard.Names() }

func (l *loader) checkGuardType(detector string, pos Pos) bool {
	if slices.Contains(GuardDetectors(), detector) {
		return true
	}
	hint := "the detectors are " + strings.Join(GuardDetectors(), ", ")
	if sug := Suggest(detector, GuardDetectors()); sug != "" {
		hint = fmt.Sprintf("did you mean %q?", GuardPrefix+sug)
	}
	l.fail(pos, hint, "unknown guard detector %q", detector)
	return false
}
