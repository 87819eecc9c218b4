package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// dialect speaks one kind of upstream API for the gateway's OpenAI-shaped calls: it turns an
// OpenAI request body into the upstream's request, and the upstream's answer back into
// OpenAI's shape. The gateway's fallback, retries, limits and recording do not depend on it.
type dialect interface {
	// request builds the upstream request for an endpoint ("chat.completions",
	// "embeddings") from the OpenAI-shaped body, whose model is already the target's.
	request(ctx context.Context, p *Provider, endpoint string, body []byte) (*http.Request, error)
	// plain turns a successful plain answer into OpenAI's shape.
	plain(endpoint string, body []byte, model string) ([]byte, error)
	// stream copies a successful streamed answer to dst in OpenAI's SSE shape, event by
	// event, calling flush after each; it returns the usage the stream reported.
	stream(dst io.Writer, flush func(), src io.Reader, model string, includeUsage bool) (usage, error)
	// errorBody turns an upstream error body into OpenAI's error shape.
	errorBody(status int, body []byte) []byte
}

// newDialect is the seam where upstream types plug in.
func newDialect(typ string) (dialect, error) {
	switch typ {
	case TypeOpenAI:
		return openAIDialect{}, nil
	case TypeAnthropic:
		return anthropicDialect{}, nil
	}
	return nil, fmt.Errorf("unknown provider type %q", typ)
}

// openAIDialect is any OpenAI-compatible API: the body passes through as it is.
type openAIDialect struct{}

func (openAIDialect) request(ctx context.Context, p *Provider, endpoint string, body []byte) (*http.Request, error) {
	u := p.chatURL
	if endpoint == endpointEmbeddings {
		u = p.embedURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case p.apiKey == "":
	case p.Auth == "api-key":
		req.Header.Set("Api-Key", p.apiKey)
	default:
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
	}
	return req, nil
}

func (openAIDialect) plain(_ string, body []byte, _ string) ([]byte, error) { return body, nil }

func (openAIDialect) stream(dst io.Writer, flush func(), src io.Reader, _ string, includeUsage bool) (usage, error) {
	return copySSE(dst, flush, src, includeUsage)
}

func (openAIDialect) errorBody(_ int, body []byte) []byte { return body }
