package provider

import (
	"regexp"
	"strings"
)

// modelPrice is one row of the default price table.
type modelPrice struct {
	model string
	price Price
}

// defaultPrices is the vendors' published list prices in USD per million tokens (standard
// tier, as of late 2025). Suites override them with `prices:` when a vendor changes a price
// or a contract differs; a model not listed costs 0 rather than a guess.
func defaultPrices() []modelPrice {
	return []modelPrice{
		// OpenAI
		{"gpt-5", Price{Input: 1.25, Output: 10, Cached: 0.125}},
		{"gpt-5-mini", Price{Input: 0.25, Output: 2, Cached: 0.025}},
		{"gpt-5-nano", Price{Input: 0.05, Output: 0.40, Cached: 0.005}},
		{"gpt-5-pro", Price{Input: 15, Output: 120}},
		{"gpt-5-chat-latest", Price{Input: 1.25, Output: 10, Cached: 0.125}},
		{"gpt-4.1", Price{Input: 2, Output: 8, Cached: 0.50}},
		{"gpt-4.1-mini", Price{Input: 0.40, Output: 1.60, Cached: 0.10}},
		{"gpt-4.1-nano", Price{Input: 0.10, Output: 0.40, Cached: 0.025}},
		{"gpt-4o", Price{Input: 2.50, Output: 10, Cached: 1.25}},
		{"gpt-4o-2024-05-13", Price{Input: 5, Output: 15}},
		{"gpt-4o-mini", Price{Input: 0.15, Output: 0.60, Cached: 0.075}},
		{"gpt-4-turbo", Price{Input: 10, Output: 30}},
		{"gpt-4", Price{Input: 30, Output: 60}},
		{"gpt-3.5-turbo", Price{Input: 0.50, Output: 1.50}},
		{"o1", Price{Input: 15, Output: 60, Cached: 7.50}},
		{"o1-mini", Price{Input: 1.10, Output: 4.40, Cached: 0.55}},
		{"o1-pro", Price{Input: 150, Output: 600}},
		{"o3", Price{Input: 2, Output: 8, Cached: 0.50}},
		{"o3-mini", Price{Input: 1.10, Output: 4.40, Cached: 0.55}},
		{"o3-pro", Price{Input: 20, Output: 80}},
		{"o4-mini", Price{Input: 1.10, Output: 4.40, Cached: 0.275}},
		{"text-embedding-3-small", Price{Input: 0.02}},
		{"text-embedding-3-large", Price{Input: 0.13}},
		{"text-embedding-ada-002", Price{Input: 0.10}},
		// Anthropic (Cached is the cache-read price)
		{"claude-opus-4-5", Price{Input: 5, Output: 25, Cached: 0.50}},
		{"claude-opus-4-1", Price{Input: 15, Output: 75, Cached: 1.50}},
		{"claude-opus-4", Price{Input: 15, Output: 75, Cached: 1.50}},
		{"claude-sonnet-4-5", Price{Input: 3, Output: 15, Cached: 0.30}},
		{"claude-sonnet-4", Price{Input: 3, Output: 15, Cached: 0.30}},
		{"claude-haiku-4-5", Price{Input: 1, Output: 5, Cached: 0.10}},
		{"claude-3-7-sonnet", Price{Input: 3, Output: 15, Cached: 0.30}},
		{"claude-3-5-sonnet", Price{Input: 3, Output: 15, Cached: 0.30}},
		{"claude-3-5-haiku", Price{Input: 0.80, Output: 4, Cached: 0.08}},
		{"claude-3-opus", Price{Input: 15, Output: 75, Cached: 1.50}},
		{"claude-3-haiku", Price{Input: 0.25, Output: 1.25, Cached: 0.03}},
	}
}

// variantSuffix is what may follow a listed name in a variant with the same price: dates and
// snapshot numbers ("-2024-07-18", "-20241022", "@20240620", "-0613"), "-latest", a Bedrock
// version ("-v1:0") or an Ollama tag (":8b"). Anything else ("gpt-4o-realtime-preview") is
// another product with its own price, so it is left unpriced rather than priced wrong.
var variantSuffix = regexp.MustCompile(`^(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest))*(?:-v\d+(?::\d+)?)?(?::.*)?$`)

// DefaultPrice looks a model up in the default price table. Dated variants match their base
// name ("gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-latest", "claude-3-5-sonnet@20240620"),
// the longest listed name wins ("gpt-4o-mini" before "gpt-4o"), and a router prefix such as
// "openai/" is ignored.
func DefaultPrice(model string) (Price, bool) {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	if m == "" {
		return Price{}, false
	}
	best, bestLen := Price{}, 0
	for _, row := range defaultPrices() {
		rest, ok := strings.CutPrefix(m, row.model)
		if !ok || len(row.model) <= bestLen {
			continue
		}
		if variantSuffix.MatchString(rest) {
			best, bestLen = row.price, len(row.model)
		}
	}
	return best, bestLen > 0
}

// Cost is the USD cost of a call: uncached input at the input price, cached input at the
// cached price (the input price when none is set), output at the output price.
func Cost(p Price, u Usage) float64 {
	cached := min(max(u.CachedTokens, 0), max(u.PromptTokens, 0))
	uncached := max(u.PromptTokens, 0) - cached
	cachedPrice := p.Cached
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	return (float64(uncached)*p.Input + float64(cached)*cachedPrice + float64(max(u.CompletionTokens, 0))*p.Output) / 1e6
}
