// Package guard holds Plumb's guardrail detectors: each looks at one text (a prompt, a model's
// answer) and reports findings — personal data, secrets, prompt injections, leaks of the system
// prompt, denied topics, answers of the wrong shape, length or language, and a model's own
// safety verdict. A policy (YAML) or an eval assertion names a detector and its options as a
// Spec; New builds it. Redact rewrites a text without what the findings point at.
//
// Detectors hold no mutable state after New and may be used concurrently.
package guard

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Finding is one thing a detector found in a text.
type Finding struct {
	// Detector is the detector's name ("pii", "secrets", ...).
	Detector string `json:"detector"`
	// Type is what was found: "credit_card", "email", "prompt_injection", "canary", ...
	Type string `json:"type"`
	// Start and End are byte offsets in the text checked; a finding about the whole text
	// (length, language, json_schema, llm_classifier) spans all of it.
	Start int `json:"start"`
	End   int `json:"end"`
	// Score in [0, 1] is how sure the detector is.
	Score float64 `json:"score"`
	// Reason is for a human; it never holds the full secret or personal value.
	Reason string `json:"reason"`
	// Decoding names the decoding that revealed the finding when the text was obfuscated
	// ("base64", "hex", "rot13", "leetspeak", "unicode_tags", "homoglyphs"); empty when the
	// plain text matched.
	Decoding string `json:"decoding,omitempty"`
}

// Detector checks a text.
type Detector interface {
	Name() string
	Detect(ctx context.Context, text string) ([]Finding, error)
}

// Spec is one detector as a policy file or an assertion names it: a name and its options,
// decoded from YAML or JSON by the caller.
type Spec struct {
	Name    string
	Options map[string]any
}

// builder makes a detector from its options; o reports unknown or ill-typed options.
type builder func(o *options) (Detector, error)

// builders is the table of built-in detectors, in the order Names lists them.
var builders = []struct {
	name  string
	build builder
}{
	{"pii", newPII},
	{"secrets", newSecrets},
	{"injection", newInjection},
	{"leakage", newLeakage},
	{"denied_topics", newDeniedTopics},
	{"banned_words", newBannedWords},
	{"json_schema", newJSONSchema},
	{"length", newLength},
	{"language", newLanguage},
	{"llm_classifier", newLLMClassifier},
}

// Names returns the built-in detector names.
func Names() []string {
	out := make([]string, len(builders))
	for i, b := range builders {
		out[i] = b.name
	}
	return out
}

// New builds the detector spec names. An unknown name is an error that lists the
// detectors; an unknown option or an option of the wrong type is OptionErrors, which say
// which option and how to fix it.
func New(spec Spec) (Detector, error) {
	for _, b := range builders {
		if b.name != spec.Name {
			continue
		}
		o := &options{detector: spec.Name, m: spec.Options}
		d, err := b.build(o)
		if oe, ok := err.(*OptionError); ok {
			return nil, OptionErrors{oe}
		}
		if err != nil {
			return nil, err
		}
		if err := o.unknown(); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("guard: unknown detector %q: use one of %s", spec.Name, strings.Join(Names(), ", "))
}

// sortFindings orders findings by Start, then End, then Type, so output is stable.
func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.End, b.End); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
}
