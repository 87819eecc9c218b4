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
