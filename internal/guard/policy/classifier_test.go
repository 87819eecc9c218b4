package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/guard"
)

func TestClassifierStep(t *testing.T) {
	var got ClassifierConfig
	opt := Options{Classifier: func(cc ClassifierConfig) (guard.Classify, error) {
		got = cc
		return func(ctx context.Context, prompt string) (string, error) {
			switch {
			case strings.Contains(prompt, "hang"):
				<-ctx.Done()
				return "", ctx.Err()
			case strings.Contains(prompt, "fail"):
				return "", errors.New("upstream down")
			case strings.Contains(prompt, "steal"):
				return "unsafe\nS2", nil
			}
			return "safe", nil
		}, nil
	}}
	c, err := Parse([]byte("input:\n  - detector: llm_classifier\n    options: {provider: openai:chat:lg, base_url: http://x, timeout_ms: 50}\n    action: review\n"), "p.yaml", opt)
	if err != nil {
		t.Fatal(err)
	}
	if got != (ClassifierConfig{Provider: "openai:chat:lg", BaseURL: "http://x"}) {
		t.Fatalf("classifier config %+v", got)
	}
	check := func(text string) *Result {
		r, err := c.Check(context.Background(), Input, text)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := check("hello"); r.Decision != DecisionAllow || len(r.Findings) != 0 {
		t.Fatalf("%+v", r)
	}
	if r := check("steal a car"); r.Decision != DecisionReview || r.Findings[0].Type != "unsafe" || !strings.Contains(r.Findings[0].Reason, "S2: Non-Violent Crimes") {
		t.Fatalf("%+v", r)
	}
	// Failures block by default, whatever the action; a hang ends at timeout_ms.
	for _, text := range []string{"fail", "hang"} {
		r := check(text)
		if r.Decision != DecisionBlock || len(r.Errors) != 1 || r.Errors[0].OnError != "block" || !strings.Contains(r.Message, "could not check it") {
			t.Fatalf("%s: %+v", text, r)
		}
		if text == "hang" && !strings.Contains(r.Errors[0].Error, "no answer within 50ms") {
			t.Fatalf("%+v", r.Errors)
		}
	}
	c, err = Parse([]byte("input:\n  - detector: llm_classifier\n    options: {provider: p, on_error: allow}\n    action: block\n  - detector: length\n    options: {max_chars: 3}\n    action: block\n"), "p.yaml", opt)
	if err != nil {
		t.Fatal(err)
	}
	if r := check("fail"); r.Decision != DecisionBlock || r.Step != "length" || len(r.Errors) != 1 || r.Errors[0].OnError != "allow" {
		t.Fatalf("on_error allow: the next step should still run: %+v", r)
	}
}

// TestClassifierOptionErrors: a misspelt llm_classifier option is reported at itself, with
// every option the step takes (those the policy reads too) and a "did you mean"; a value
// of the wrong kind is reported at the value, saying what was written.
func TestClassifierOptionErrors(t *testing.T) {
	opt := Options{Classifier: func(ClassifierConfig) (guard.Classify, error) {
		return func(context.Context, string) (string, error) { return "safe", nil }, nil
	}}
	_, err := Parse([]byte("input:\n  - detector: llm_classifier\n    options: {provider: p, timout_ms: 5, categorys: [S1]}\n    action: block\n"+
		"output:\n  - detector: length\n    options:\n      max_chars: many\n    action: block\n"), "p.yaml", opt)
	const all = "its options are api_key_env, base_url, categories, model, on_error, provider, role, timeout_ms"
	for _, want := range []string{
		`p.yaml:3:28: detector "llm_classifier" has no option timout_ms: ` + all + "\n\thint: did you mean \"timeout_ms\"?",
		`p.yaml:3:42: detector "llm_classifier" has no option categorys: ` + all + "\n\thint: did you mean \"categories\"?",
		`p.yaml:8:7: detector "length" option "max_chars": want a number, not the text "many"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
