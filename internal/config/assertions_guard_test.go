package config

import (
	"strings"
	"testing"
)

func TestGuardAssertionTypes(t *testing.T) {
	s, errs := load(t, map[string]string{"plumb.yaml": `prompts: ["{{q}}"]
providers: [echo]
tests:
  - vars: {q: hi}
    assert:
      - type: not-guard:pii
        value: {types: [email]}
      - type: guard:injection
`}, nil)
	if errs != "" {
		t.Fatal(errs)
	}
	as := s.Tests[0].Assert
	if len(as) != 2 || as[0].Base != "guard:pii" || !as[0].Negate || as[1].Base != "guard:injection" || as[1].Negate {
		t.Fatalf("assertions: %+v", as)
	}
	if v, ok := as[0].Value.(map[string]any); !ok || v["types"] == nil {
		t.Fatalf("value: %#v", as[0].Value)
	}
	_, errs = load(t, map[string]string{"plumb.yaml": `prompts: ["{{q}}"]
providers: [echo]
tests:
  - vars: {q: hi}
    assert:
      - type: guard:pi
      - type: not-guard:llm_classifier
      - type: guard:pii
        provider: openai:chat:gpt-4o-mini
`}, nil)
	for _, want := range []string{
		`plumb.yaml:6:15: unknown guard detector "pi"`, `did you mean "guard:pii"?`,
		`plumb.yaml:7:9: no judge provider configured: not-guard:llm_classifier needs one`,
		`plumb.yaml:9:9: provider does not apply to guard:pii`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
}
