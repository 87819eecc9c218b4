package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/plumbhq/plumb/internal/guard"
	"github.com/plumbhq/plumb/internal/guard/policy"
	"github.com/plumbhq/plumb/internal/provider"
)

// guardClassifier builds the model an llm_classifier step asks in plumb guard check from
// an eval-style provider id: openai or anthropic with model:, or openai:chat:MODEL,
// openai:MODEL, anthropic:messages:MODEL; base_url and api_key_env as in an eval's
// provider config (the defaults: $OPENAI_BASE_URL, $OPENAI_API_KEY and so on).
func guardClassifier(getenv func(string) string) func(policy.ClassifierConfig) (guard.Classify, error) {
	return func(cc policy.ClassifierConfig) (guard.Classify, error) {
		parts := strings.Split(cc.Provider, ":")
		typ, model := parts[0], ""
		switch {
		case len(parts) == 2:
			model = parts[1]
		case len(parts) == 3 && (typ == "openai" && parts[1] == "chat" || typ == "anthropic" && parts[1] == "messages"):
			model = parts[2]
		case len(parts) > 1:
			return nil, fmt.Errorf("provider %q: use openai:chat:MODEL, anthropic:messages:MODEL, or openai or anthropic with model: MODEL", cc.Provider)
		}
		if typ != "openai" && typ != "anthropic" {
			return nil, fmt.Errorf("provider %q: plumb guard check asks openai (any OpenAI-compatible server, with base_url) or anthropic models", cc.Provider)
		}
		switch {
		case model != "" && cc.Model != "" && model != cc.Model:
			return nil, fmt.Errorf("provider %q names model %q and model: says %q: write the model once", cc.Provider, model, cc.Model)
		case model == "":
			model = cc.Model
		}
		if model == "" {
			return nil, fmt.Errorf("provider %q: llm_classifier needs options.model (or write %s:MODEL)", cc.Provider, map[string]string{"openai": "openai:chat", "anthropic": "anthropic:messages"}[typ])
		}
		p, err := provider.New(provider.Config{Type: typ, Model: model, BaseURL: cc.BaseURL, APIKeyEnv: cc.APIKeyEnv, MaxRetries: -1,
			Params: provider.Params{MaxTokens: guardPtr(64), Temperature: guardPtr(0.0)}}, provider.Options{Getenv: getenv})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, prompt string) (string, error) {
			resp, err := p.Call(ctx, &provider.Request{Messages: []provider.Message{{Role: "user", Content: prompt}}, Prompt: prompt})
			if err != nil {
				return "", err
			}
			if resp == nil {
				return "", errors.New("no answer")
			}
			return resp.Output, nil
		}, nil
	}
}

func guardPtr[T any](v T) *T { return &v }
