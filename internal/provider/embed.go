package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// embedder is an OpenAI-compatible /embeddings client.
type embedder struct {
	cfg    Config
	url    string
	azure  bool
	getenv func(string) string
	t      transport
}

func newEmbedder(cfg Config, opts Options) (*embedder, error) {
	label := labelOf(&cfg)
	if cfg.Model == "" {
		return nil, fmt.Errorf("provider %s: an embedding provider needs a model (such as text-embedding-3-small)", label)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = defaultBaseURL(opts.Getenv, OpenAIBaseURLEnv, OpenAIBaseURL)
	}
	if cfg.APIKeyEnv == "" {
		cfg.APIKeyEnv = OpenAIKeyEnv
	}
	u, azure, err := openAIEndpoint(cfg.BaseURL, "/embeddings")
	if err != nil {
		return nil, fmt.Errorf("provider %s: %s", label, err.(*Error).Msg)
	}
	return &embedder{
		cfg: cfg, url: u, azure: azure, getenv: opts.Getenv,
		t: transport{
			site:   callSite{label: label, keyEnv: cfg.APIKeyEnv, model: cfg.Model, baseURL: publicURL(cfg.BaseURL)},
			client: opts.HTTPClient, policy: policyOf(&cfg),
		},
	}, nil
}

// Embed returns the embedding of text.
func (e *embedder) Embed(ctx context.Context, text string) ([]float64, Usage, error) {
	body := map[string]any{"model": e.cfg.Model, "input": text}
	for k, v := range e.cfg.Params.Extra {
		body[k] = v
	}
	call, err := buildCall(&e.t.site, e.cfg.Headers, e.cfg.BaseURL, e.getenv, e.url, body, func(h http.Header, key string) {
		if e.azure {
			h.Set("api-key", key)
		} else {
			h.Set("Authorization", "Bearer "+key)
		}
	})
	if err != nil {
		return nil, Usage{}, err
	}
	var vec []float64
	var usage Usage
	_, err = e.t.do(ctx, call, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		if err != nil {
			return err
		}
		var r struct {
			Data []struct {
				Embedding []float64 `json:"embedding"`
			} `json:"data"`
			Usage *openAIUsage `json:"usage"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return e.t.site.malformed("the embeddings answer is not valid JSON (%s): %s", err, oneLine(string(data), 120))
		}
		if len(r.Data) == 0 || len(r.Data[0].Embedding) == 0 {
			return e.t.site.malformed("the embeddings answer has no vector: %s", oneLine(string(data), 120))
		}
		vec = r.Data[0].Embedding
		if r.Usage != nil {
			usage = r.Usage.usage()
		}
		return nil
	})
	if err != nil {
		return nil, Usage{}, err
	}
	if usage.TotalTokens == 0 {
		usage.TotalTokens = usage.PromptTokens
	}
	return vec, usage, nil
}
