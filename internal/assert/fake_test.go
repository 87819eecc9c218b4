package assert

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/report"
)

// fakeJudge is a provider.Provider that answers every call with a fixed output or error and
// records the prompts it was sent.
type fakeJudge struct {
	label string
	out   string
	err   error

	mu       sync.Mutex
	prompts  []string
	messages [][]provider.Message
}

func (f *fakeJudge) Label() string { return f.label }

func (f *fakeJudge) Call(_ context.Context, req *provider.Request) (*provider.Response, error) {
	f.mu.Lock()
	f.prompts = append(f.prompts, req.Prompt)
	f.messages = append(f.messages, req.Messages)
	f.mu.Unlock()
	if len(req.Messages) == 0 || req.Prompt == "" {
		return nil, errors.New("fake judge: empty request")
	}
	if f.err != nil {
		return nil, f.err
	}
	return &provider.Response{Output: f.out}, nil
}

func (f *fakeJudge) lastPrompt() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.prompts) == 0 {
		return ""
	}
	return f.prompts[len(f.prompts)-1]
}

// fakeEmbedder embeds text as a bag of a few words, so that texts sharing words are similar,
// and counts its calls per text.
type fakeEmbedder struct {
	fakeJudge
	err   error
	calls map[string]int
}

var embedVocabulary = []string{"refund", "order", "days", "weather", "sunny", "cat"}

func (e *fakeEmbedder) Embed(_ context.Context, text string) ([]float64, provider.Usage, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls == nil {
		e.calls = map[string]int{}
	}
	e.calls[text]++
	if e.err != nil {
		return nil, provider.Usage{}, e.err
	}
	v := make([]float64, len(embedVocabulary))
	for i, w := range embedVocabulary {
		v[i] = float64(strings.Count(strings.ToLower(text), w))
	}
	return v, provider.Usage{}, nil
}

func (e *fakeEmbedder) callsFor(text string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[text]
}

func num(f float64) *float64 { return &f }

// mustCompile compiles an assertion or fails the test.
func mustCompile(t *testing.T, a *config.Assertion, env *Env) Checker {
	t.Helper()
	c, err := Compile(a, env)
	if err != nil {
		t.Fatalf("Compile(%s): %v", a.Type, err)
	}
	return c
}

// negated is a copy of a with the not- prefix.
func negated(a config.Assertion) *config.Assertion {
	a.Type = "not-" + a.Base
	a.Negate = true
	return &a
}

// check runs one checker on one input.
func check(c Checker, in Input) report.Assertion {
	return c.Check(context.Background(), &in)
}
