package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/plumbhq/plumb/internal/gateway/anthropic"
)

// anthropicVersion is the Messages API version the gateway speaks to Anthropic upstreams.
const anthropicVersion = "2023-06-01"

// anthropicDialect is Anthropic's Messages API behind the gateway's OpenAI-shaped calls:
// requests, answers, streams and errors are translated by internal/gateway/anthropic.
type anthropicDialect struct{}

func (anthropicDialect) request(ctx context.Context, p *Provider, endpoint string, body []byte) (*http.Request, error) {
	if endpoint != endpointChat {
		return nil, errors.New("an Anthropic upstream has no embeddings API")
	}
	var model string
	var v struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &v) == nil {
		model = v.Model
	}
	msg, err := anthropic.ChatToMessages(body, model)
	if err != nil {
		return nil, err
	}
	return anthropicRequest(ctx, p, msg)
}

// anthropicRequest is a POST of an Anthropic Messages body to the provider.
func anthropicRequest(ctx context.Context, p *Provider, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.BaseURL+"/messages", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("Anthropic-Version") == "" {
		req.Header.Set("Anthropic-Version", anthropicVersion)
	}
	if p.apiKey != "" {
		req.Header.Set("X-Api-Key", p.apiKey)
	}
	return req, nil
}

func (anthropicDialect) plain(_ string, body []byte, model string) ([]byte, error) {
	out, _, err := anthropic.MessagesResponseToChat(body, model)
	return out, err
}

func (anthropicDialect) stream(dst io.Writer, flush func(), src io.Reader, model string, includeUsage bool) (usage, error) {
	f := &streamErrorFilter{w: dst, prefix: []byte(`data: {"error"`)}
	u, err := anthropic.MessagesStreamToChat(f, flush, src, model, includeUsage)
	return fromAnthropicUsage(u), f.wrap(err)
}

func (anthropicDialect) errorBody(status int, body []byte) []byte {
	return anthropic.ErrorToOpenAI(status, body)
}

func fromAnthropicUsage(u anthropic.Usage) usage {
	return usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, reported: u.InputTokens+u.OutputTokens > 0}
}

// streamErrorFilter sits between a stream translation and the client. The translation ends
// a failed stream with an error event of its own: before anything else reached the client
// the gateway drops it, so that the call can still fall back to the next target; after,
// it lets it through, and the error says so (errReported), so that the gateway does not add
// a second one.
type streamErrorFilter struct {
	w        io.Writer
	prefix   []byte
	wrote    bool
	reported bool
}

func (f *streamErrorFilter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, f.prefix) {
		if !f.wrote {
			return len(p), nil
		}
		f.reported = true
	}
	f.wrote = true
	return f.w.Write(p)
}

func (f *streamErrorFilter) wrap(err error) error {
	if err != nil && f.reported {
		return errReported{err}
	}
	return err
}

// errReported is a stream failure the client was already told about in the stream.
type errReported struct{ error }

func (e errReported) Unwrap() error { return e.error }

// serveMessages is the Anthropic Messages endpoint, POST /v1/messages, in front of any
// route: the request is translated to a chat call for OpenAI upstreams and its answer back;
// an Anthropic upstream gets the client's request as it is, with only the model replaced.
func (g *Gateway) serveMessages(w http.ResponseWriter, r *http.Request) {
	g.serveCall(w, r, endpointChat, true)
}

// readMessages turns an Anthropic client's request into the call's chat request, keeping
// the original for Anthropic upstreams.
func (c *call) readMessages() *apiError {
	if err := json.Unmarshal(c.raw, &c.native); err != nil || c.native == nil {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json",
			Message: "We could not parse the JSON body of your request: send a JSON object, e.g. {\"model\": \"...\", \"max_tokens\": 1024, \"messages\": [...]}."}
	}
	var model string
	if m, ok := c.native["model"]; !ok || json.Unmarshal(m, &model) != nil || model == "" {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "model", Code: "missing_model",
			Message: "model: Field required: one of the gateway's routes (GET /v1/models lists them)."}
	}
	c.nativeRaw = c.raw
	chat, err := anthropic.MessagesToChat(c.raw, model)
	if err != nil {
		var te *anthropic.Error
		if !errors.As(err, &te) {
			te = &anthropic.Error{Status: http.StatusBadRequest, Message: err.Error()}
		}
		if te.Param == "max_tokens" {
			// Anthropic requires it too: no route takes the request without it.
			return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: te.Param, Code: "invalid_max_tokens",
				Message: te.Message + ` (the most tokens the answer may have, e.g. "max_tokens": 1024)`}
		}
		// What OpenAI cannot express (top_k, thinking...) may still pass through to an
		// Anthropic route: checkNative decides once the route is known, and says why not.
		c.untranslatable = &apiError{Status: te.Status, Type: typeInvalidRequest, Param: te.Param, Code: "unsupported_field", Message: te.Message}
		stub := map[string]json.RawMessage{"model": c.native["model"], "messages": json.RawMessage("[]")}
		for _, k := range []string{"max_tokens", "stream"} {
			if v, ok := c.native[k]; ok {
				stub[k] = v
			}
		}
		chat = marshal(stub)
	}
	c.raw = chat
	return nil
}

// checkNative refuses an Anthropic request that could not be translated unless every
// target of its route is an Anthropic upstream (it then passes through as it is), no guard
// step has to read its text and no tool policy its tools; the message says which stands in
// the way. It also refuses embeddings on a route whose targets are all Anthropic upstreams.
func (c *call) checkNative() *apiError {
	all := append([]*target{}, c.route.targets...)
	if c.route.canary != nil {
		all = append(all, c.route.canary)
	}
	allAnthropic := !slices.ContainsFunc(all, func(t *target) bool { return t.up.Type != TypeAnthropic })
	if c.endpoint == endpointEmbeddings && allAnthropic {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "model", Code: "embeddings_unsupported",
			Message: fmt.Sprintf("The route `%s` cannot make embeddings: its targets are Anthropic upstreams, which have no embeddings API. Use a route with an OpenAI-compatible target.", c.route.Name)}
	}
	if c.untranslatable == nil {
		return nil
	}
	var why string
	switch {
	case len(c.guardSteps()) > 0:
		why = "the route's guard steps read the request translated to OpenAI's shape, which cannot express it"
	case !c.route.Tools.Empty():
		why = "the route's tool policy reads the request translated to OpenAI's shape, which cannot express it"
	case !allAnthropic:
		why = "the route has an OpenAI-compatible target, which cannot express it"
	default:
		return nil
	}
	e := *c.untranslatable
	e.Message += " (" + why + ")"
	return &e
}

// nativeBody is an Anthropic client's request for an Anthropic target: as the client sent
// it (with the guard steps' rewrites written in, messages_redact.go) with the target's
// model, or, when the rewrite could not be written in place, the rewritten chat request
// translated back.
func (c *call) nativeBody(t *target) ([]byte, error) {
	if c.guarded && !c.nativeRewritten {
		return anthropic.ChatToMessages(c.upstreamBody(t), t.model)
	}
	f := make(map[string]json.RawMessage, len(c.native))
	for k, v := range c.native {
		f[k] = v
	}
	f["model"], _ = json.Marshal(t.model)
	return marshal(f), nil
}

// passThrough tells whether the target speaks the client's API, so that the call passes
// through untranslated: an Anthropic client in front of an Anthropic upstream.
func (c *call) passThrough(t *target) bool {
	return c.anthropic && t.up.Type == TypeAnthropic
}

// upstreamRequest builds the request for one attempt.
func (c *call) upstreamRequest(ctx context.Context, t *target) (*http.Request, error) {
	if c.passThrough(t) {
		body, err := c.nativeBody(t)
		if err != nil {
			return nil, err
		}
		return anthropicRequest(ctx, t.up.Provider, body)
	}
	return t.up.dialect.request(ctx, t.up.Provider, c.endpoint, c.upstreamBody(t))
}

// translationRefused is an attempt whose request the target's API cannot express: the
// request's own fault, answered with 400 naming the field.
func translationRefused(err error) (result, bool) {
	var te *anthropic.Error
	if !errors.As(err, &te) || te.Status >= 500 {
		return result{}, false
	}
	_, body := anthropic.OpenAIError(err)
	return result{status: te.Status, body: body, translated: true}, true
}

// plainAnswer turns a target's plain answer into OpenAI's shape for the gateway (usage,
// guards); for a pass-through the original is kept too.
func (c *call) plainAnswer(t *target, body []byte) (chat, native []byte, err error) {
	if c.passThrough(t) {
		chat, _, err = anthropic.MessagesResponseToChat(body, t.model)
		return chat, body, err
	}
	chat, err = t.up.dialect.plain(c.endpoint, body, t.model)
	return chat, nil, err
}

// clientAnswer is a plain answer as the client gets it: for an Anthropic client the
// upstream's own answer when it passed through unchanged, else the chat answer translated
// (named as the upstream named it for a pass-through, else after the route).
func (c *call) clientAnswer(chat, native []byte, changed bool) ([]byte, error) {
	if !c.anthropic {
		return chat, nil
	}
	if native != nil && !changed {
		return native, nil
	}
	model := c.clientModel()
	var up struct {
		Model string `json:"model"`
	}
	if native != nil && json.Unmarshal(native, &up) == nil && up.Model != "" {
		model = up.Model // a rewritten pass-through answer keeps the upstream's model, as an untouched one
	}
	out, _, err := anthropic.ChatResponseToMessages(chat, model)
	if err != nil {
		return nil, err
	}
	return withHeldCalls(out, chat), nil
}

// withHeldCalls copies a chat answer's plumb_approvals (the tool calls its route's tool
// policy held, tools.go) into its translation, which has no place for them.
func withHeldCalls(msg, chat []byte) []byte {
	var top struct {
		Held json.RawMessage `json:"plumb_approvals"`
	}
	if json.Unmarshal(chat, &top) != nil || len(top.Held) == 0 || string(top.Held) == "null" {
		return msg
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	m["plumb_approvals"] = top.Held
	return marshal(m)
}

// clientModel is the model the client asked for (the route).
func (c *call) clientModel() string {
	if c.route != nil {
		return c.route.Name
	}
	return ""
}

// streamToClient copies a streamed answer to the client in its API's shape.
func (c *call) streamToClient(dst io.Writer, flush func(), src io.Reader, t *target) (usage, error) {
	switch {
	case c.passThrough(t):
		// The upstream's events reach the client byte for byte as they arrive (event by
		// event through the route's policies, when it has some); the translation reads the
		// same bytes only for the usage and to see the stream end.
		m := c.messagesStreamWriter(c.ctx, dst)
		if m == nil {
			tee := io.TeeReader(src, flushWriter{dst, flush})
			u, err := anthropic.MessagesStreamToChat(io.Discard, nil, tee, t.model, true)
			return fromAnthropicUsage(u), err
		}
		sp := &eventSplitter{w: m}
		tee := io.TeeReader(src, flushWriter{sp, flush})
		u, err := anthropic.MessagesStreamToChat(io.Discard, nil, tee, t.model, true)
		if err == nil {
			err = sp.Close()
			flush()
		}
		if m.err != nil {
			// The translation may have read to message_stop from bytes it had before the
			// policies ended the stream.
			err = m.err
		}
		return fromAnthropicUsage(u), err
	case c.anthropic:
		var w io.Writer = dst
		if m := c.messagesStreamWriter(c.ctx, dst); m != nil {
			w = m
		}
		f := &streamErrorFilter{w: w, prefix: []byte("event: error")}
		u, err := anthropic.ChatStreamToMessages(f, flush, src, c.clientModel())
		return fromAnthropicUsage(u), f.wrap(err)
	}
	// The guard policy first: the tool policy judges, and holds for approval, the calls'
	// arguments as the guard policy redacted them.
	return t.up.dialect.stream(c.guardStreamWriter(c.ctx, c.toolStreamWriter(c.ctx, dst)), flush, src, t.model, c.includeUsage)
}

type flushWriter struct {
	w     io.Writer
	flush func()
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.flush()
	return n, err
}

// streamErrorEvent is the gateway's own error event in a stream, in the client's shape.
func (c *call) streamErrorEvent(e *apiError) []byte {
	if c.anthropic {
		return fmt.Appendf(nil, "\n\nevent: error\ndata: %s\n\n", anthropic.ErrorToAnthropic(http.StatusBadGateway, errorBody(e)))
	}
	return fmt.Appendf(nil, "data: %s\n\n", errorBody(e))
}
