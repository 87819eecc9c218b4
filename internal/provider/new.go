package provider

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Options are the dependencies every provider takes from its caller.
type Options struct {
	Getenv     func(string) string // where API keys come from; os.Getenv in production
	HTTPClient *http.Client        // nil: a new client from NewHTTPClient for this provider
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	return o
}

// Default base URLs and API-key variables per provider type.
const (
	OpenAIBaseURL    = "https://api.openai.com/v1"
	AnthropicBaseURL = "https://api.anthropic.com/v1"
	OpenAIKeyEnv     = "OPENAI_API_KEY"
	AnthropicKeyEnv  = "ANTHROPIC_API_KEY"
	// A provider without a configured base URL takes it from these, as the vendors' SDKs
	// do, so that one suite runs against the vendor, a proxy or a local server (Ollama).
	OpenAIBaseURLEnv    = "OPENAI_BASE_URL"
	AnthropicBaseURLEnv = "ANTHROPIC_BASE_URL"
)

// BaseURL is the endpoint a provider built from cfg calls: its configured base URL, else
// the environment's ($OPENAI_BASE_URL, $ANTHROPIC_BASE_URL), else the vendor's.
func BaseURL(cfg Config, getenv func(string) string) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	switch cfg.Type {
	case "openai", "openai-embedding":
		return defaultBaseURL(getenv, OpenAIBaseURLEnv, OpenAIBaseURL)
	case "anthropic":
		return defaultBaseURL(getenv, AnthropicBaseURLEnv, AnthropicBaseURL)
	}
	return ""
}

// defaultBaseURL is $env when set, else the vendor's URL.
func defaultBaseURL(getenv func(string) string, env, vendor string) string {
	if v := strings.TrimSpace(getenv(env)); v != "" {
		return v
	}
	return vendor
}

// chatTypes lists the provider types New accepts, for its error message.
const chatTypes = "anthropic, echo, exec, http, openai"

// New builds the provider that cfg.Type names. Configuration mistakes are errors here; a
// missing API key is an error at call time (so that replaying a cassette needs no key).
func New(cfg Config, opts Options) (Provider, error) {
	opts = opts.withDefaults()
	switch cfg.Type {
	case "openai":
		return newOpenAI(cfg, opts)
	case "anthropic":
		return newAnthropic(cfg, opts)
	case "exec":
		return newExec(cfg, opts)
	case "http":
		return newHTTP(cfg, opts)
	case "echo":
		return &echo{label: labelOf(&cfg)}, nil
	case "openai-embedding":
		return nil, fmt.Errorf("provider %s: type openai-embedding makes embeddings, not chat answers; use it as the embedding provider", labelOf(&cfg))
	}
	return nil, fmt.Errorf("provider %s: unknown type %q (known: %s)", labelOf(&cfg), cfg.Type, chatTypes)
}

// NewEmbedder builds an OpenAI-compatible embeddings client ("openai-embedding", or "openai"
// with an embedding model).
func NewEmbedder(cfg Config, opts Options) (Embedder, error) {
	opts = opts.withDefaults()
	switch cfg.Type {
	case "openai-embedding", "openai":
		return newEmbedder(cfg, opts)
	}
	return nil, fmt.Errorf("provider %s: type %q cannot make embeddings (use openai-embedding with an OpenAI-compatible server)", labelOf(&cfg), cfg.Type)
}

// labelOf is the provider's id in results.
func labelOf(cfg *Config) string {
	if cfg.Label != "" {
		return cfg.Label
	}
	switch {
	case cfg.Model != "":
		return cfg.Type + ":" + cfg.Model
	case cfg.Type == "exec" && len(cfg.Command) > 0:
		return "exec:" + strings.Join(cfg.Command, " ")
	case cfg.Type == "http" && cfg.URL != "":
		return publicURL(cfg.URL)
	}
	return cfg.Type
}

// priceOf is the configured price, else the default table's, else nil (cost 0).
// PriceOf is the price a provider built from cfg charges: its configured price, else the
// default table's, else nil (its calls cost 0).
func PriceOf(cfg *Config) *Price { return priceOf(cfg) }

func priceOf(cfg *Config) *Price {
	if cfg.Price != nil {
		return cfg.Price
	}
	if p, ok := DefaultPrice(cfg.Model); ok {
		return &p
	}
	return nil
}

// envRef matches {{env.NAME}} (spaces allowed inside the braces).
var envRef = regexp.MustCompile(`\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// expandHeaders resolves {{env.NAME}} in header values at call time. The resolved values are
// returned as secrets so that no error message can echo them.
func expandHeaders(h map[string]string, getenv func(string) string) (http.Header, []string, error) {
	out := make(http.Header, len(h)+2)
	var secrets []string
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := h[k]
		var missing string
		v = envRef.ReplaceAllStringFunc(v, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			val := getenv(name)
			if val == "" && missing == "" {
				missing = name
			}
			secrets = append(secrets, val)
			return val
		})
		if missing != "" {
			return nil, secrets, &Error{Kind: KindAuth, Msg: fmt.Sprintf("header %s uses {{env.%s}} but $%s is not set", k, missing, missing)}
		}
		out.Set(k, v)
	}
	return out, secrets, nil
}
