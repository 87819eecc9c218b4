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
      - type: not-guard:llm_classifier
        value: {provider: openai:chat:llama-guard3}
`}, nil)
	for _, want := range []string{
		`plumb.yaml:6:15: unknown guard detector "pi"`, `did you mean "guard:pii"?`,
		`plumb.yaml:7:9: no judge provider configured: not-guard:llm_classifier needs one`,
		`plumb.yaml:9:9: provider does not apply to guard:pii`,
		// The model named inside value: is the mistake to report, not the missing judge.
		"plumb.yaml:10:9: provider is not an option of value: the model to ask is the assertion's provider\n\thint: write provider: beside value:",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
	if strings.Count(errs, "no judge provider configured") != 1 {
		t.Errorf("the assertion with value.provider is also reported as lacking a judge:\n%s", errs)
	}
}

// TestProviderTools: tools, inline or from a file, reach the provider's config; tool_choice
// is passed through; tools on a provider that cannot take them are an error at the key.
func TestProviderTools(t *testing.T) {
	const suite = `prompts: ["{{q}}"]
tests: [{vars: {q: hi}}]
providers:
  - id: openai:chat:gpt-4o-mini
    config:
      tools:
        - type: function
          function: {name: lookup_order, description: Find an order, parameters: {type: object}}
      tool_choice: auto
  - id: anthropic:messages:claude-3-5-haiku-latest
    config: {tools: file://tools.json}
`
	tools := `[{"name": "refund", "parameters": {"type": "object"}}]`
	_, errs := load(t, map[string]string{"plumb.yaml": suite + "  - id: echo\n    config: {tools: [{name: x}]}\n", "tools.json": tools}, nil)
	if !strings.Contains(errs, "plumb.yaml:13:21: tools apply to openai and anthropic chat providers only") {
		t.Errorf("errors: %s", errs)
	}
	s, errs := load(t, map[string]string{"plumb.yaml": suite, "tools.json": tools}, nil)
	if errs != "" {
		t.Fatal(errs)
	}
	p0, p1 := s.Providers[0].Config, s.Providers[1].Config
	if len(p0.Tools) != 1 || p0.Tools[0].Name != "lookup_order" || p0.Tools[0].Description != "Find an order" || p0.Params.Extra["tool_choice"] != "auto" {
		t.Errorf("openai: %+v", p0)
	}
	if len(p1.Tools) != 1 || p1.Tools[0].Name != "refund" || p1.Tools[0].Parameters["type"] != "object" {
		t.Errorf("anthropic: %+v", p1.Tools)
	}
}
