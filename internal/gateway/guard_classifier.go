package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/plumbhq/plumb/internal/guard"
	"github.com/plumbhq/plumb/internal/guard/policy"
)

// classifierFor checks an llm_classifier step's provider (one of the config's providers,
// by name) and model, and returns what asks that model through the gateway's upstream
// client. The gateway calls it once it runs (Config.classify).
func (c *Config) classifierFor(cc policy.ClassifierConfig) (guard.Classify, error) {
	if cc.BaseURL != "" || cc.APIKeyEnv != "" {
		return nil, errors.New("base_url and api_key_env are for plumb guard check: the gateway calls the provider as its providers: entry configures it")
	}
	var names []string
	found := false
	for _, p := range c.Providers {
		names = append(names, p.Name)
		found = found || p.Name == cc.Provider
	}
	if !found {
		return nil, fmt.Errorf("unknown provider %q: use one of providers: (%s)", cc.Provider, strings.Join(names, ", "))
	}
	if cc.Model == "" {
		return nil, fmt.Errorf("llm_classifier needs options.model: the model provider %q serves the classifier as (e.g. llama-guard3)", cc.Provider)
	}
	return func(ctx context.Context, prompt string) (string, error) {
		if c.classify == nil {
			return "", errors.New("the gateway is not running")
		}
		return c.classify(ctx, cc.Provider, cc.Model, prompt)
	}, nil
}

// maxClassifierAnswer bounds what a classifier's answer may weigh.
const maxClassifierAnswer = 1 << 20

// classify asks a provider's model with prompt as the one user message (a plain chat
// completion through the gateway's upstream client, no retries, no fallback) and returns
// its answer's text. Errors never carry the upstream's body or the key.
func (g *Gateway) classify(ctx context.Context, provider, model, prompt string) (string, error) {
	up := g.providers[provider]
	if up == nil {
		return "", fmt.Errorf("unknown provider %q", provider)
	}
	body, err := json.Marshal(map[string]any{
		"model":       model,
		"messages":    []map[string]string{{"role": "user", "content": prompt}},
		"max_tokens":  64,
		"temperature": 0,
	})
	if err != nil {
		return "", err
	}
	req, err := up.dialect.request(ctx, up.Provider, endpointChat, body)
	if err != nil {
		return "", fmt.Errorf("provider %s: %w", provider, err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("provider %s: %w", provider, ctx.Err())
		}
		return "", fmt.Errorf("provider %s: the call failed", provider)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxClassifierAnswer))
	if err != nil {
		return "", fmt.Errorf("provider %s: reading the answer: %w", provider, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("provider %s answered HTTP %d", provider, resp.StatusCode)
	}
	if b, err = up.dialect.plain(endpointChat, b, model); err != nil {
		return "", fmt.Errorf("provider %s: the answer is not a chat completion", provider)
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) == 0 {
		return "", fmt.Errorf("provider %s: the answer is not a chat completion", provider)
	}
	return out.Choices[0].Message.Content, nil
}
