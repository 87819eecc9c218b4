// Package provider holds the LLM clients Plumb calls, behind one interface: OpenAI-compatible
// chat and embeddings, Anthropic Messages, exec (any program), generic HTTP and replay
// cassettes. Each call reports its output, token usage, latency and cost. API keys are read
// from the environment at call time and never stored in any value this package returns.
package provider

import (
	"context"
	"time"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one call to a provider.
type Request struct {
	// Messages is the rendered prompt as a chat. A plain-text prompt is one user message.
	Messages []Message
	// Prompt is the rendered prompt as text (for exec and http providers, and for hashing).
	Prompt string
	// Vars are the test's variables, available to exec and http providers.
	Vars map[string]any
	// Repeat is which sample of a repeated test this is (from 0). Caches and cassettes key on
	// it, so that N repeats are N independent answers that replay as recorded.
	Repeat int
}

// Usage counts tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
}

// Response is a provider's answer.
type Response struct {
	Output  string
	Usage   Usage
	Cost    float64 // USD, from the price table; 0 when the model has no known price
	Latency time.Duration
	// Replayed is true when the answer came from a cassette rather than the network.
	Replayed bool
	// ToolCalls are the calls the model made to the tools it was given (Config.Tools), in
	// the order it made them. A model that only calls tools answers with an empty Output.
	ToolCalls []ToolCall
}

// ToolCall is one call a model made to a tool it was given.
type ToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, as the model wrote it (untrusted)
}

// Tool is a function the model may call, as OpenAI's function tools describe it. The
// Anthropic provider sends it as a tool with Parameters as its input_schema.
type Tool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  map[string]any `json:"parameters,omitempty"` // a JSON Schema of the arguments
}

// Provider answers prompts.
type Provider interface {
	// Label is the provider's id in results (the config's label, or its id).
	Label() string
	// Call sends one request. Errors are *Error values where the failure is classified.
	Call(ctx context.Context, req *Request) (*Response, error)
}

// Embedder turns text into a vector (OpenAI-compatible embeddings).
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float64, Usage, error)
}

// Params are the generation parameters sent with every call.
type Params struct {
	Temperature *float64       `json:"temperature,omitempty"`
	MaxTokens   *int           `json:"max_tokens,omitempty"`
	TopP        *float64       `json:"top_p,omitempty"`
	Seed        *int           `json:"seed,omitempty"`
	Stop        []string       `json:"stop,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"` // passed through to the request body as is
}

// Price is a model's price in USD per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
	Cached float64 `json:"cached,omitempty"` // cached input tokens; 0 means the input price
}

// Config describes one provider. It never holds a secret: only the names of environment
// variables that do.
type Config struct {
	Label     string // id in results; defaults to the id
	Type      string // openai, openai-embedding, anthropic, exec, http
	Model     string
	BaseURL   string
	APIKeyEnv string // name of the env var holding the key; "" for the type's default
	Headers   map[string]string
	Params    Params
	Stream    bool // use server-sent events for OpenAI-compatible chat
	// Tools are the functions an openai or anthropic model may call; its calls come back in
	// Response.ToolCalls. A tools key in Params.Extra, sent as is, takes their place.
	Tools []Tool

	Timeout     time.Duration // per attempt; default 60s
	MaxRetries  int           // attempts after the first; default 3
	RetryBudget time.Duration // total time across attempts; default 2m

	// exec: the command line, run through no shell; the request arrives as JSON on stdin.
	// The program runs in Dir (the suite's folder), so relative paths in it work from
	// wherever plumb was started.
	Command []string
	Dir     string
	// http: URL, method, body template (JSON with {{var}} and {{prompt}}), and the path of
	// the output in the JSON response (e.g. "choices.0.message.content" or "$.output").
	URL        string
	Method     string
	Body       any
	OutputPath string

	Price *Price // overrides the default price table
	RPM   int    // requests per minute across the run; 0 means unlimited
}
