package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plumbhq/plumb/internal/gateway/anthropic"
	"github.com/plumbhq/plumb/internal/gateway/limit"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/store"
)

// The endpoints, as trace records name them.
const (
	endpointChat       = "chat.completions"
	endpointEmbeddings = "embeddings"
	endpointMessages   = "messages"
)

const (
	// maxResponseBytes bounds a plain upstream answer.
	maxResponseBytes = 64 << 20
	// maxErrorBytes bounds an upstream error body.
	maxErrorBytes = 1 << 20
	// defaultMaxTokens is the completion size assumed for the token estimate when the
	// request sets no max_tokens.
	defaultMaxTokens = 512
	// streamCaptureFull bounds what a stream's trace record keeps with bodies: full.
	streamCaptureFull = 4 << 20
)

func (g *Gateway) serveChat(w http.ResponseWriter, r *http.Request) {
	g.serveCall(w, r, endpointChat, false)
}

func (g *Gateway) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	g.serveCall(w, r, endpointEmbeddings, false)
}

// call is one client request on its way through the gateway.
type call struct {
	g        *Gateway
	start    time.Time
	endpoint string
	key      *clientKey
	route    *route
	fields   map[string]json.RawMessage
	raw      []byte
	stream   bool
	// anthropic: the client speaks Anthropic's Messages API (POST /v1/messages). Its
	// request is translated into raw and fields; native keeps it as sent.
	anthropic bool
	native    map[string]json.RawMessage
	nativeRaw []byte
	guarded   bool // a guard step rewrote the input
	// nativeRewritten: the guard steps' rewrite was written into native itself
	// (messages_redact.go), which then goes to Anthropic targets as it is.
	nativeRewritten bool
	// untranslatable: the Anthropic request has what OpenAI cannot express; it may only
	// pass through to Anthropic targets.
	untranslatable *apiError
	// includeUsage is what the client asked for; the gateway always asks the upstream.
	includeUsage bool
	est          limit.Usage
	admitted     bool
	decision     *limit.Decision // the limiter's answer, when the key has limits

	answered *target
	served   bool // an upstream answered (and billed for) the call
	usage    usage
	ttft     time.Duration
	status   int
	code     string // the error code the client got
	blocked  string
	cached   bool
	canary   bool
	attempts []store.Attempt
	called   map[string]bool
	respBody []byte
	// respPooled: respBody is a stream's capture from capturePool, returned once recorded.
	respPooled bool
	streamed   int // bytes of a streamed answer sent to the client
	// The tool policy's view of the call (tools.go).
	ctx          context.Context
	traceID      string
	toolBlockMsg string
	held         []int64 // the approvals this call's held tool calls wait for
	// guardBlockMsg and guardBlockCode say why the route's guard policy cut a stream.
	guardBlockMsg, guardBlockCode string
	// review is the case a guard policy's review step held (review.go).
	review *ReviewCase
}

func (g *Gateway) serveCall(w http.ResponseWriter, r *http.Request, endpoint string, anthropicClient bool) {
	g.inflight.Add(1)
	c := &call{g: g, start: g.now(), endpoint: endpoint, anthropic: anthropicClient, called: map[string]bool{}}
	traceID := g.newTraceID(c.start)
	c.ctx, c.traceID = r.Context(), traceID
	w.Header().Set("X-Plumb-Trace-Id", traceID)
	defer func() {
		if c.ttft > 0 {
			// A stream reached its client: the response ends now, its last events leaving with
			// its end in one write, and the call is settled and recorded after.
			go func() {
				defer g.inflight.Done()
				c.settle()
				c.finish(traceID)
			}()
			return
		}
		defer g.inflight.Done()
		c.settle()
		c.finish(traceID)
	}()

	k, aerr := g.authenticate(r)
	if aerr != nil {
		c.fail(w, aerr)
		return
	}
	c.key = k
	if aerr := c.read(w, r); aerr != nil {
		c.fail(w, aerr)
		return
	}
	if aerr := c.checkRequestJSON(); aerr != nil {
		c.fail(w, aerr)
		return
	}
	if aerr := c.checkTools(); aerr != nil {
		c.fail(w, aerr)
		return
	}
	if aerr := c.guardInput(r.Context()); aerr != nil {
		c.fail(w, aerr)
		return
	}
	aerr = c.admit(r.Context())
	c.rateLimitHeaders(w.Header())
	if aerr != nil {
		c.fail(w, aerr)
		return
	}
	c.startShadow(traceID) // shadow.go: in the background, never charged to the key
	if c.serveCached(w) {
		return
	}
	c.run(w, r)
}

// read reads and checks the request body and finds the route.
func (c *call) read(w http.ResponseWriter, r *http.Request) *apiError {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.g.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes (max_body_bytes).", mbe.Limit)}
		}
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_body", Message: "The request body could not be read."}
	}
	c.raw = raw
	if c.anthropic {
		if aerr := c.readMessages(); aerr != nil {
			return aerr
		}
	}
	if c.fields, err = objectFields(c.raw); err != nil || c.fields == nil {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json",
			Message: "We could not parse the JSON body of your request: send a JSON object, e.g. {\"model\": \"...\", \"messages\": [...]}."}
	}
	var model string
	if m, ok := c.fields["model"]; !ok || json.Unmarshal(m, &model) != nil || model == "" {
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "model", Code: "missing_model",
			Message: "You must provide a model parameter: one of the gateway's routes (GET /v1/models lists them)."}
	}
	rt := c.g.routes[model]
	if rt == nil || (c.key.routes != nil && !c.key.routes[model]) {
		var names []string
		for _, n := range c.g.routeList {
			if c.key.routes == nil || c.key.routes[n] {
				names = append(names, n)
			}
		}
		return &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it. This gateway's models: %s.", model, strings.Join(names, ", "))}
	}
	c.route = rt
	if aerr := c.checkNative(); aerr != nil {
		return aerr
	}
	if c.endpoint == endpointChat {
		if s, ok := c.fields["stream"]; ok {
			_ = json.Unmarshal(s, &c.stream)
		}
		if so, ok := c.fields["stream_options"]; ok {
			var v struct {
				IncludeUsage bool `json:"include_usage"`
			}
			_ = json.Unmarshal(so, &v)
			c.includeUsage = v.IncludeUsage
		}
	}
	return nil
}

// estimate is the usage guessed before the call: about four characters per token for the
// input, plus the completion the request allows.
func (c *call) estimate() limit.Usage {
	in := len(c.raw) / 4
	out := 0
	if c.endpoint == endpointChat {
		out = defaultMaxTokens
		for _, f := range []string{"max_completion_tokens", "max_tokens"} {
			var n int
			if v, ok := c.fields[f]; ok && json.Unmarshal(v, &n) == nil && n > 0 {
				out = n
				break
			}
		}
	}
	t := c.route.targets[0]
	return limit.Usage{Tokens: in + out, CostUSD: provider.Cost(t.price, provider.Usage{PromptTokens: in, CompletionTokens: out})}
}

// admit asks the limiter for room for this call.
func (c *call) admit(ctx context.Context) *apiError {
	if !c.key.limited() {
		return nil
	}
	c.est = c.estimate()
	d, err := c.g.limiter.Admit(ctx, c.key.limitID, c.key.limits, c.est)
	if err == nil {
		c.decision = &d
	}
	if err != nil {
		c.g.log.Error("gateway: rate limiter", "key", c.key.name, "err", err)
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "limiter_unavailable",
			Message: "The gateway cannot check rate limits right now; retry shortly."}
	}
	if !d.Allowed {
		c.g.metrics.rateLimited.WithLabelValues(c.key.name, d.Reason).Inc()
		e := &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "rate_limit_exceeded", RetryAfter: d.RetryAfter}
		switch d.Reason {
		case "rpm":
			e.Message = fmt.Sprintf("Rate limit reached for key %s: %g requests per minute. Retry after %s.", c.key.name, d.Limit, roundUp(d.RetryAfter))
		case "tpm":
			e.Message = fmt.Sprintf("Rate limit reached for key %s: %g tokens per minute (this request is estimated at %d). Retry after %s.", c.key.name, d.Limit, c.est.Tokens, roundUp(d.RetryAfter))
		case "budget":
			e.Type, e.Code = typeQuota, "budget_exceeded"
			if d.Remaining > 0 && c.est.CostUSD > d.Remaining {
				// Some budget is left, but not this call's reservation: say so, and how to ask
				// for less, rather than claim the budget is used up.
				e.Message = fmt.Sprintf("Key %s has $%.4g of its daily budget of $%g left, less than this request's estimated cost of $%.4g (lower max_tokens to reserve less). The budget resets at 00:00 UTC, in %s.",
					c.key.name, d.Remaining, d.Limit, c.est.CostUSD, roundUp(d.RetryAfter))
			} else {
				e.Message = fmt.Sprintf("Key %s has used its daily budget of $%g. It resets at 00:00 UTC, in %s.", c.key.name, d.Limit, roundUp(d.RetryAfter))
			}
		default:
			e.Message = fmt.Sprintf("Rate limit reached for key %s (%s). Retry after %s.", c.key.name, d.Reason, roundUp(d.RetryAfter))
		}
		return e
	}
	c.admitted = true
	return nil
}

// rateLimitHeaders sets OpenAI's x-ratelimit-{limit,remaining}-{requests,tokens} headers
// for the key's rpm and tpm (remaining after this call when it was admitted).
func (c *call) rateLimitHeaders(h http.Header) {
	d := c.decision
	if d == nil {
		return
	}
	for _, q := range []struct {
		limit, remaining string // the headers' names, in canonical form
		q                limit.Quota
	}{{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", d.Requests},
		{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", d.Tokens}} {
		if q.q.Limit > 0 {
			h[q.limit] = []string{strconv.FormatFloat(q.q.Limit, 'f', -1, 64)}
			h[q.remaining] = []string{strconv.FormatFloat(math.Max(math.Floor(q.q.Remaining), 0), 'f', -1, 64)}
		}
	}
}

func roundUp(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// settle tells the limiter what the call really used.
func (c *call) settle() {
	if !c.admitted {
		return
	}
	actual := limit.Usage{}
	if c.served && !c.cached {
		in, out := c.tokens()
		actual = limit.Usage{Tokens: in + out, CostUSD: c.cost()}
	}
	// The client may be gone: settling must still happen.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.g.limiter.Settle(ctx, c.key.limitID, c.key.limits, c.est, actual); err != nil {
		c.g.log.Error("gateway: settle a rate-limit reservation", "key", c.key.name, "err", err)
	}
}

// tokens are the call's input and output tokens: the upstream's usage, else the estimate.
func (c *call) tokens() (in, out int) {
	if c.usage.reported {
		return c.usage.PromptTokens, c.usage.CompletionTokens
	}
	if !c.served || c.cached {
		return 0, 0
	}
	in = len(c.raw) / 4
	if c.stream {
		return in, streamTextBytes(c.respBody, c.streamed) / 4
	}
	return in, len(c.respBody) / 4
}

// streamTextBytes estimates the bytes of text (content, tool-call arguments) in a stream that
// reported no usage (it broke off, or a guard cut it): those of the captured events, scaled
// by the share of the stream the capture holds. The events' JSON envelopes are many times
// their text, so counting raw bytes would charge a cut stream several times its answer.
// With nothing captured (bodies: off), a tenth of the bytes sent.
func streamTextBytes(captured []byte, sent int) int {
	text := 0
	for rest := captured; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Function struct {
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
			Delta struct { // Anthropic's content_block_delta
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
			} `json:"delta"`
		}
		if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
			continue
		}
		for _, ch := range ev.Choices {
			text += len(ch.Delta.Content)
			for _, tc := range ch.Delta.ToolCalls {
				text += len(tc.Function.Arguments)
			}
		}
		text += len(ev.Delta.Text) + len(ev.Delta.PartialJSON)
	}
	if len(captured) == 0 {
		return sent / 10
	}
	if sent > len(captured) {
		return int(float64(text) * float64(sent) / float64(len(captured)))
	}
	return text
}

func (c *call) cost() float64 {
	if !c.served || c.cached {
		return 0
	}
	in, out := c.tokens()
	return provider.Cost(c.answered.price, provider.Usage{PromptTokens: in, CompletionTokens: out})
}

// plan is the order the targets are tried in: the canary first for its share of calls, the
// weighted pick first under strategy weighted, then the route's targets in order.
func (c *call) plan() []*target {
	rt := c.route
	order := make([]*target, 0, len(rt.targets)+1)
	if rt.canary != nil && c.g.rand()*100 < rt.Canary.Percent {
		c.canary = true
		order = append(order, rt.canary)
	}
	if rt.Strategy == "weighted" && len(rt.targets) > 1 && rt.total > 0 {
		x := c.g.rand() * float64(rt.total)
		pick := len(rt.targets) - 1
		for i, t := range rt.targets {
			if x < float64(t.weight) {
				pick = i
				break
			}
			x -= float64(t.weight)
		}
		order = append(order, rt.targets[pick])
		for i, t := range rt.targets {
			if i != pick {
				order = append(order, t)
			}
		}
		return order
	}
	return append(order, rt.targets...)
}

// result is the outcome of one attempt.
type result struct {
	ok         bool
	translated bool // body is already an OpenAI error (a request the target's API cannot express)
	committed  bool // the answer (or part of a stream) reached the client
	status     int  // the upstream's status; 0 when it was not reached
	errText    string
	timeout    bool
	retryable  bool // a failure of the upstream, not of the request
	credential bool // the upstream refused the gateway's own key
	retryAfter time.Duration
	body       []byte // a plain answer, or the upstream's error body
	native     []byte // a plain answer passed through untranslated, as the upstream wrote it
	header     http.Header
}

// run tries the targets in order, with retries, until one answers.
func (c *call) run(w http.ResponseWriter, r *http.Request) {
	g := c.g
	ctx := r.Context()
	rt := c.route
	timeout := time.Duration(rt.TimeoutMS) * time.Millisecond
	deadline := c.start.Add(timeout)
	order := c.plan()
	perAttempt := time.Duration(rt.AttemptTimeoutMS) * time.Millisecond
	if perAttempt == 0 {
		perAttempt = timeout / time.Duration(len(order))
	}
	var last *result
	var rateLimited, skipped int
	var openWait time.Duration
	for i, t := range order {
		if i > 0 && len(c.attempts) > 0 {
			g.metrics.fallbacks.WithLabelValues(rt.Name, t.label, c.key.name).Inc()
		}
		for try := 0; ; try++ {
			if ctx.Err() != nil {
				c.status, c.code = 499, "client_closed"
				return
			}
			remaining := deadline.Sub(g.now())
			if remaining <= 0 {
				break
			}
			ok, wait := t.breaker.allow(g.now())
			if !ok {
				c.attempts = append(c.attempts, store.Attempt{Provider: t.up.Name, Model: t.model, Error: "circuit open"})
				skipped++
				if openWait == 0 || wait < openWait {
					openWait = wait
				}
				break
			}
			res := c.attempt(ctx, w, t, min(perAttempt, remaining))
			last = &res
			if ctx.Err() != nil {
				// The client went away: that says nothing about the upstream.
				if res.committed || res.ok {
					c.answered, c.served = t, true
				}
				c.status, c.code = 499, "client_closed"
				return
			}
			if res.ok || res.committed {
				if res.ok {
					t.breaker.success()
				} else {
					c.breakerFailure(t)
				}
				c.answered, c.served = t, true
				if !res.committed {
					c.writeAnswer(ctx, w, t, res)
				} else {
					c.status = http.StatusOK
				}
				return
			}
			if !res.retryable && !res.credential {
				// The request's own fault: every target would say the same.
				t.breaker.success()
				c.answered = t
				c.passError(w, t, res)
				return
			}
			c.breakerFailure(t)
			if res.status == http.StatusTooManyRequests {
				rateLimited++
			}
			if res.credential || try >= rt.Retries {
				break
			}
			backoff := c.backoff(try)
			if res.retryAfter > 0 {
				backoff = res.retryAfter
			}
			if g.now().Add(backoff).After(deadline) {
				break // no time to wait for this target: try the next
			}
			if err := g.sleep(ctx, backoff); err != nil {
				c.status, c.code = 499, "client_closed"
				return
			}
		}
	}
	c.fail(w, c.finalError(last, rateLimited, skipped, openWait, len(order)))
}

func (c *call) breakerFailure(t *target) {
	if t.breaker.failure(c.g.now()) {
		c.g.log.Warn("gateway: circuit opened", "target", t.label)
	}
}

// backoff is the wait before retry number try+1: exponential from 100 ms, at most 2 s,
// with full jitter over its upper half.
func (c *call) backoff(try int) time.Duration {
	d := 100 * time.Millisecond << min(try, 5)
	d = min(d, 2*time.Second)
	return d/2 + time.Duration(c.g.rand()*float64(d/2))
}

// finalError is what the client gets when no target answered.
func (c *call) finalError(last *result, rateLimited, skipped int, openWait time.Duration, targets int) *apiError {
	rt := c.route
	var parts []string
	for _, a := range c.attempts {
		s := a.Provider + "/" + a.Model + ": "
		if a.Status != 0 {
			s += strconv.Itoa(a.Status)
		} else {
			s += a.Error
		}
		parts = append(parts, s)
	}
	tried := strings.Join(parts, "; ")
	switch {
	case last == nil && skipped > 0:
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "upstream_unavailable", RetryAfter: openWait,
			Message: fmt.Sprintf("Every target of %s is failing and paused (circuit open): %s. Retry after %s.", rt.Name, tried, roundUp(openWait))}
	case last == nil:
		return &apiError{Status: http.StatusGatewayTimeout, Type: typeServer, Code: "upstream_timeout",
			Message: fmt.Sprintf("No target of %s answered within its timeout of %d ms.", rt.Name, rt.TimeoutMS)}
	case rateLimited > 0 && rateLimited+skipped == len(c.attempts):
		return &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "upstream_rate_limited", RetryAfter: last.retryAfter,
			Message: fmt.Sprintf("Every target of %s is rate limited upstream: %s.", rt.Name, tried)}
	case last.timeout:
		return &apiError{Status: http.StatusGatewayTimeout, Type: typeServer, Code: "upstream_timeout",
			Message: fmt.Sprintf("No target of %s answered in time (timeout_ms %d): %s.", rt.Name, rt.TimeoutMS, tried)}
	}
	return &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "upstream_error",
		Message: fmt.Sprintf("Every target of %s failed: %s.", rt.Name, tried)}
}

// upstreamBody is the client's body with the model rewritten to the target's; a stream
// also asks for usage, which the gateway needs for limits and cost.
func (c *call) upstreamBody(t *target) []byte {
	over := []field{{"model", t.modelJS}}
	if c.stream {
		opts := json.RawMessage(`{"include_usage":true}`)
		if v, ok := c.fields["stream_options"]; ok {
			so := map[string]json.RawMessage{}
			_ = json.Unmarshal(v, &so)
			so["include_usage"] = json.RawMessage("true")
			opts = marshalFields(so)
		}
		over = append(over, field{"stream_options", opts})
	}
	return marshalFields(c.fields, over...)
}

// field is a JSON object's field: its key and its value.
type field struct {
	key   string
	value json.RawMessage
}

// marshalFields is marshal(f) with the fields of over set in f (without changing f; the
// last of a key given twice wins), the
// same bytes (keys sorted, values compacted, nothing escaped for HTML), without
// encoding/json's reflection and its validation of values that came out of a request
// already valid: every attempt paid it for the whole request.
func marshalFields(f map[string]json.RawMessage, over ...field) []byte {
	keys := make([]string, 0, len(f)+len(over))
	size := 2
	for k, v := range f {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	for i, o := range over {
		if _, ok := f[o.key]; !ok && !slices.ContainsFunc(over[:i], func(p field) bool { return p.key == o.key }) {
			keys = append(keys, o.key)
		}
		size += len(o.key) + len(o.value) + 4
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		if plainKey(k) {
			out = append(append(append(out, '"'), k...), '"')
		} else {
			out = append(out, marshal(k)...)
		}
		out = append(out, ':')
		v := f[k]
		for _, o := range over {
			if o.key == k {
				v = o.value
			}
		}
		if v == nil {
			out = append(out, "null"...)
		} else {
			out = appendCompact(out, v)
		}
	}
	return append(out, '}')
}

// plainKey tells a key that JSON encodes as it is, between quotes.
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendCompact appends the valid JSON v without its insignificant spaces, as
// json.Compact does.
func appendCompact(dst, v []byte) []byte {
	inString, escaped := false, false
	start := 0
	for i, c := range v {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// attempt makes one call to one target. A plain answer is read whole and returned; a
// stream is copied to the client as it arrives, the response being committed with its
// first event, so that a stream which fails before that can still fall back.
func (c *call) attempt(ctx context.Context, w http.ResponseWriter, t *target, d time.Duration) (res result) {
	g := c.g
	c.called[t.label] = true
	started := g.now()
	defer func() {
		a := store.Attempt{Provider: t.up.Name, Model: t.model, Status: res.status, Error: res.errText,
			LatencyMS: float64(g.now().Sub(started).Microseconds()) / 1000}
		c.attempts = append(c.attempts, a)
		outcome := "ok"
		switch {
		case res.timeout:
			outcome = "timeout"
		case res.status != 0 && !res.ok:
			outcome = strconv.Itoa(res.status)
		case !res.ok && !res.committed:
			outcome = "error"
		}
		g.metrics.attempts.WithLabelValues(t.label, outcome).Inc()
		if !res.ok && (res.retryable || res.credential) {
			g.log.Warn("gateway: upstream failed", "route", c.route.Name, "target", t.label, "status", res.status, "error", res.errText)
		}
	}()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(d, func() { timedOut.Store(true); cancel() })
	defer timer.Stop()
	failed := func(err error) result {
		if timedOut.Load() {
			return result{timeout: true, retryable: true, errText: "timeout"}
		}
		return result{retryable: true, errText: describe(err)}
	}
	req, err := c.upstreamRequest(actx, t)
	if err != nil {
		if res, ok := translationRefused(err); ok {
			return res
		}
		return result{retryable: true, errText: "cannot build the request: " + describe(err)}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		if err != nil && timedOut.Load() {
			return failed(err)
		}
		st := resp.StatusCode
		res := result{status: st, body: body, header: resp.Header, retryAfter: retryAfter(resp.Header, g.now())}
		switch {
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			res.credential, res.errText = true, "the upstream refused the gateway's credentials"
		case st == http.StatusTooManyRequests || st == http.StatusRequestTimeout || st >= 500:
			res.retryable = true
		}
		return res
	}
	if !c.stream {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if err != nil || timedOut.Load() {
			r := failed(err)
			r.status = resp.StatusCode
			return r
		}
		if !json.Valid(body) {
			return result{status: resp.StatusCode, retryable: true, errText: "the upstream's answer is not valid JSON"}
		}
		out, native, err := c.plainAnswer(t, body)
		if err != nil {
			return result{status: resp.StatusCode, retryable: true, errText: describe(err)}
		}
		return result{ok: true, status: resp.StatusCode, body: out, native: native, header: resp.Header}
	}
	lw := &lazyWriter{w: w, onCommit: func() {
		timer.Stop() // the route's timeout bounds the time to the first event only
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		c.ttft = g.now().Sub(c.start)
	}}
	if c.g.cfg.Bodies.Mode != "off" && c.g.opt.Bodies != nil {
		lw.capture = c.g.cfg.Bodies.MaxBytes
		if c.g.cfg.Bodies.Mode == "full" {
			lw.capture = streamCaptureFull
		}
	}
	lw.replay = c.route.Cache != nil
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil && lw.committed {
			flusher.Flush()
		}
	}
	u, err := c.streamToClient(lw, flush, resp.Body, t)
	c.usage = u
	c.respBody, c.respPooled, c.streamed = lw.captured, lw.captured != nil, lw.written
	if err == nil {
		if !lw.committed {
			return result{status: resp.StatusCode, retryable: true, errText: "the upstream's stream was empty"}
		}
		if lw.replay && !lw.replayOver {
			flush() // the stream is over: the client need not wait for the cache
			c.answered = t
			c.storeCached(lw.replayed)
		}
		return result{ok: true, committed: true, status: resp.StatusCode}
	}
	if !lw.committed {
		r := failed(err)
		r.status = resp.StatusCode
		return r
	}
	// Too late to fall back: tell the client in the stream, as OpenAI does.
	c.code = "upstream_stream_cut"
	if errors.Is(err, errToolBlocked) {
		c.code = "tool_call_blocked"
		return result{committed: true, status: resp.StatusCode, errText: c.toolBlockMsg}
	}
	if errors.Is(err, errGuardBlocked) {
		c.code = c.guardBlockCode
		return result{committed: true, status: resp.StatusCode, errText: c.guardBlockMsg}
	}
	var told errReported
	if ctx.Err() == nil && !errors.As(err, &told) {
		_, _ = w.Write(c.streamErrorEvent(&apiError{Type: typeServer, Code: c.code,
			Message: "The upstream's stream broke off: " + describe(err) + ". The answer is incomplete."}))
		flush()
	}
	return result{committed: true, status: resp.StatusCode, errText: "stream cut: " + describe(err)}
}

// endpointName is the endpoint as records and cache keys name it: "messages" for an
// Anthropic client.
func (c *call) endpointName() string {
	if c.anthropic {
		return endpointMessages
	}
	return c.endpoint
}

// lazyWriter commits the response on its first write.
type lazyWriter struct {
	w         http.ResponseWriter
	onCommit  func()
	committed bool
	capture   int // how many bytes to keep for the trace record
	captured  []byte
	written   int // every byte written to the client
	// replay keeps the whole stream for the response cache, up to maxReplayBytes.
	replay     bool
	replayed   []byte
	replayOver bool
}

// capturePool recycles the buffers that keep streamed answers for their trace records (most
// streams are a few KiB: a buffer of 2 KiB to start with, rather than a doubling from a few
// bytes), so that recording a stream allocates nothing but the record's own copy.
var capturePool = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

// releaseCapture returns a stream's capture to capturePool once it is recorded; buffers that
// grew past 64 KiB are left to the collector.
func releaseCapture(b []byte) {
	if cap(b) <= 64<<10 {
		b = b[:0]
		capturePool.Put(&b)
	}
}

// maxReplayBytes bounds a stream kept in the response cache.
const maxReplayBytes = 1 << 20

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.committed {
		l.committed = true
		l.onCommit()
	}
	l.written += len(p)
	if n := min(len(p), l.capture-len(l.captured)); n > 0 {
		if l.captured == nil {
			l.captured = (*capturePool.Get().(*[]byte))[:0]
		}
		l.captured = append(l.captured, p[:n]...)
	}
	if l.replay && !l.replayOver {
		if len(l.replayed)+len(p) > maxReplayBytes {
			l.replayOver, l.replayed = true, nil
		} else {
			l.replayed = append(l.replayed, p...)
		}
	}
	return l.w.Write(p)
}

// writeAnswer runs the output guards on a plain answer and writes it.
func (c *call) writeAnswer(ctx context.Context, w http.ResponseWriter, t *target, res result) {
	body := res.body
	c.usage = plainUsage(body)
	if aerr := c.checkAnswerJSON(body, res.native); aerr != nil {
		c.respBody = body
		c.fail(w, aerr)
		return
	}
	if out, aerr := c.guardOutput(ctx, body); aerr != nil {
		c.respBody = body
		c.fail(w, aerr)
		return
	} else {
		body = out
	}
	if out, aerr := c.toolsOutput(ctx, body, w.Header()); aerr != nil {
		c.respBody = body
		c.fail(w, aerr)
		return
	} else {
		body = out
	}
	body, err := c.clientAnswer(body, res.native, !bytes.Equal(body, res.body))
	if err != nil {
		c.fail(w, &apiError{Status: http.StatusBadGateway, Type: typeServer, Code: "upstream_error", Message: describe(err)})
		return
	}
	c.respBody = body
	c.storeCached(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	c.status = http.StatusOK
}

// passError passes an upstream's refusal of the request (a 4xx) to the client, in OpenAI's
// error shape and with the upstream's key scrubbed from it.
func (c *call) passError(w http.ResponseWriter, t *target, res result) {
	body := res.body
	if !res.translated && !c.passThrough(t) {
		body = t.up.dialect.errorBody(res.status, res.body)
	}
	if !json.Valid(body) {
		body = errorBody(&apiError{Type: typeInvalidRequest, Message: strings.TrimSpace(string(body))})
	}
	if c.anthropic && (res.translated || !c.passThrough(t)) {
		body = anthropic.ErrorToAnthropic(res.status, body)
	}
	body = scrub(body, t.up.apiKey)
	c.status, c.code = res.status, errorCode(body)
	c.respBody = body
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.status)
	_, _ = w.Write(body)
}

// scrub replaces an upstream key, should an upstream echo it, with a marker.
func scrub(body []byte, key string) []byte {
	if len(key) < 4 || !bytes.Contains(body, []byte(key)) {
		return body
	}
	return bytes.ReplaceAll(body, []byte(key), []byte("[REDACTED]"))
}

func errorCode(body []byte) string {
	var v struct {
		Error struct {
			Code any    `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if s, ok := v.Error.Code.(string); ok && s != "" {
		return s
	}
	return v.Error.Type
}

// fail answers with an error.
func (c *call) fail(w http.ResponseWriter, e *apiError) {
	c.status, c.code = e.Status, e.Code
	if c.code == "" {
		c.code = e.Type
	}
	if c.anthropic {
		writeErrorBody(w, e, anthropic.ErrorToAnthropic(e.Status, errorBody(e)))
		return
	}
	writeError(w, e)
}

// retryAfter reads Retry-After (seconds or an HTTP date) and OpenAI's retry-after-ms.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// describe says why a call failed in a few words that carry no URL or secret.
func describe(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "error"
	case errors.Is(err, errStreamCut):
		return "the stream ended before [DONE]"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed mid-answer"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "unknown host"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "network error (" + opErr.Op + ")"
	}
	msg := err.Error()
	// url.Error carries the URL: keep only its cause.
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// newTraceID is a time-ordered id: sorting ids sorts calls by start (within one instance,
// a sequence number orders the calls of one millisecond; random bytes keep the ids of
// several instances apart).
func (g *Gateway) newTraceID(t time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("tr_%012x%06x%s", t.UnixMilli(), g.seq.Add(1)&0xffffff, hex.EncodeToString(b[:]))
}

// marshal is json.Marshal without HTML escaping: bodies pass through as the client wrote
// them, not with <, > and & rewritten.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// finish counts the call in the metrics and hands its record to the recorder.
func (c *call) finish(id string) {
	g := c.g
	end := g.now()
	latency := end.Sub(c.start)
	routeName, keyName, tlabel := "", "", "none"
	if c.route != nil {
		routeName = c.route.Name
	}
	if c.key != nil {
		keyName = c.key.name
	}
	if c.answered != nil {
		tlabel = c.answered.label
	}
	in, out := c.tokens()
	cost := c.cost()
	m := g.metrics
	m.requests.WithLabelValues(routeName, tlabel, keyName, strconv.Itoa(c.status)).Inc()
	if c.status >= 400 || c.code != "" {
		m.errors.WithLabelValues(routeName, tlabel, keyName, c.code).Inc()
	}
	if c.route != nil {
		m.latency.WithLabelValues(routeName, tlabel, keyName).Observe(latency.Seconds())
		if c.ttft > 0 {
			m.ttft.WithLabelValues(routeName, tlabel, keyName).Observe(c.ttft.Seconds())
		}
		if in+out > 0 {
			m.tokens.WithLabelValues(routeName, tlabel, keyName, "input").Add(float64(in))
			m.tokens.WithLabelValues(routeName, tlabel, keyName, "output").Add(float64(out))
		}
		if cost > 0 {
			m.cost.WithLabelValues(routeName, tlabel, keyName).Add(cost)
		}
	}
	c.sendReview(id)
	if g.recorder == nil {
		return
	}
	tr := store.Trace{
		ID: id, Key: keyName, Endpoint: c.endpointName(), Route: routeName,
		Attempts: c.attempts, Stream: c.stream, Cached: c.cached, Canary: c.canary,
		Status: c.status, ErrorCode: c.code, Blocked: c.blocked, StartedAt: c.start.UTC(),
		LatencyMS: float64(latency.Microseconds()) / 1000, TokensIn: in, TokensOut: out, CostUSD: cost,
	}
	if tr.Blocked == "" && len(c.held) > 0 {
		tr.Blocked = store.HeldBlocked(c.held)
	}
	if c.key != nil {
		tr.ProjectID = c.key.project
	}
	if c.answered != nil {
		tr.Provider, tr.Model = c.answered.up.Name, c.answered.model
	}
	if n := len(c.called); n > 1 {
		tr.Fallbacks = n - 1
	}
	if c.ttft > 0 {
		ms := float64(c.ttft.Microseconds()) / 1000
		tr.TTFTMS = &ms
	}
	if g.opt.Bodies != nil && g.cfg.Bodies.Mode != "off" {
		req := c.raw
		if c.anthropic && c.nativeRaw != nil {
			req = c.nativeRaw // as the client sent it
		}
		if len(req) > 0 {
			tr.RequestBody = g.opt.Bodies(req)
		}
		if len(c.respBody) > 0 {
			tr.ResponseBody = g.opt.Bodies(c.respBody)
		}
	}
	if c.respPooled {
		// The record holds its own copy: the capture can serve another stream.
		releaseCapture(c.respBody)
		c.respBody, c.respPooled = nil, false
	}
	g.recorder.Record(tr)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
