// Package assert scores one model output against the suite's assertions: deterministic
// checks, text metrics, embedding similarity, LLM judges and sandboxed expressions.
package assert

import (
	"context"
	"regexp"
	"sync"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/report"
)

// Input is what an assertion sees of one sample.
type Input struct {
	Output    string
	Vars      map[string]any
	Prompt    string // the rendered prompt as sent
	LatencyMS float64
	Cost      float64
	Tokens    report.Tokens
}

// Checker evaluates one compiled assertion. Implementations are safe for concurrent use.
type Checker interface {
	Check(ctx context.Context, in *Input) report.Assertion
}

// Env holds what model-graded and embedding assertions need. A model-graded assertion with
// neither a Judge nor a provider of its own is a compile error, never a silent default to
// some vendor; likewise `similar` without an Embedder.
type Env struct {
	Judge        provider.Provider // the suite's judge
	Embedder     provider.Embedder // the suite's embedding provider for `similar`
	JudgePrompts map[string]string // assertion base type -> prompt template overriding the shipped one
	// Build makes the provider that an assertion names in its own `provider:` key.
	Build func(spec *config.ProviderSpec) (provider.Provider, error)
	// BuildEmbedder makes the embedding provider that a `similar` assertion names in its own
	// `provider:` key. When nil, Build is used and its provider must implement Embedder.
	BuildEmbedder func(spec *config.ProviderSpec) (provider.Embedder, error)

	// regexps holds the regular expressions compiled so far: a suite often gives the same
	// pattern to every test (through defaultTest), and a compiled regexp is safe to share.
	mu      sync.Mutex
	regexps map[string]*regexp.Regexp
}

// regexp compiles pat once per Env.
func (e *Env) regexp(pat string) (*regexp.Regexp, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if re, ok := e.regexps[pat]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	if e.regexps == nil {
		e.regexps = map[string]*regexp.Regexp{}
	}
	e.regexps[pat] = re
	return re, nil
}
