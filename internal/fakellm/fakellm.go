// Package fakellm is a fake OpenAI- and Anthropic-compatible LLM server for tests and
// benchmarks. It answers chat completions (plain and streamed), embeddings, Anthropic
// messages (plain and streamed) and the model list, with replies chosen by rules, and plays
// the failures real vendors have: error statuses with Retry-After, hangs, cut streams and
// malformed bodies. Its error bodies have each vendor's shape, so clients are tested against
// what they will meet.
package fakellm

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rule picks a reply: the first rule whose Match occurs in the last user message wins. A Match
// wrapped in slashes ("/^hi/") is a regular expression; an empty Match matches everything.
type Rule struct {
	Match string `json:"match"`
	Reply string `json:"reply"`
	// ToolCalls, when set, are the calls the answer makes (finish_reason tool_calls; on
	// /v1/messages, tool_use blocks after the text, stop_reason tool_use), with Reply as
	// its content. A request whose last message is a tool result is
	// answered "tool result: " and that result, with no calls.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// ToolCall is a tool call a rule's answer makes.
type ToolCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, sent as written (may be malformed, to test clients)
}

// Options configure a server.
type Options struct {
	Latency time.Duration // added to every response, errors included
	Rules   []Rule
	Addr    string // listen address; default 127.0.0.1:0 (a free port)
	// DiscardRequests keeps no record of requests, for long-running servers (benchmarks)
	// whose memory must not grow; Requests then returns nothing while Count still counts.
	DiscardRequests bool
}

// Fault is a failure that the next request(s) get instead of a normal answer.
type Fault struct {
	Status     int    // answer with this HTTP status and an error body in the vendor's shape
	RetryAfter string // Retry-After header value sent with Status
	Body       string // replaces the vendor-shaped error body
	Hang       bool   // never answer: block until the client gives up or the server closes
	CutStream  bool   // start the answer, then drop the connection mid-way
	Malformed  bool   // answer 200 with a body that is not valid JSON
	Times      int    // how many requests get this fault; default 1
}

// Seen is one request as the server received it.
type Seen struct {
	Method string
	Path   string
	Header http.Header // as received, so tests can check that keys and versions arrive
	Body   []byte
}

// Server is a running fake LLM server.
type Server struct {
	URL string // base URL including /v1, e.g. http://127.0.0.1:PORT/v1

	latency time.Duration
	rules   []rule
	discard bool
	srv     *http.Server
	done    chan struct{}
	close   sync.Once
	count   atomic.Int64
	ids     atomic.Int64

	mu     sync.Mutex
	faults []Fault
	seen   []Seen
}

type rule struct {
	substr string
	re     *regexp.Regexp
	reply  string
	calls  []ToolCall
}

// Start listens and serves in the background until Close.
func Start(opts Options) (*Server, error) {
	rules, err := compileRules(opts.Rules)
	if err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// Go passes the kernel's net.core.somaxconn (4096 on current Linux) as the listen
	// backlog, which is what a 1,000-connection benchmark needs; the net package offers no
	// way to ask for more, and the kernel would cap a larger value at somaxconn anyway.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakellm: cannot listen on %s: %v", addr, err)
	}
	s := &Server{
		URL:     "http://" + ln.Addr().String() + "/v1",
		latency: opts.Latency,
		rules:   rules,
		discard: opts.DiscardRequests,
		done:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.wrap(s.chat, openAIShape))
	mux.HandleFunc("POST /v1/embeddings", s.wrap(s.embeddings, openAIShape))
	mux.HandleFunc("POST /v1/messages", s.wrap(s.messages, anthropicShape))
	mux.HandleFunc("GET /v1/models", s.wrap(s.models, openAIShape))
	mux.HandleFunc("/", s.wrap(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeError(w, openAIShape, http.StatusNotFound, "", fmt.Sprintf("Unknown request URL: %s %s", r.Method, r.URL.Path))
	}, openAIShape))
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // aborted streams are on purpose
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func compileRules(in []Rule) ([]rule, error) {
	out := make([]rule, len(in))
	for i, r := range in {
		out[i].reply, out[i].calls = r.Reply, slices.Clone(r.ToolCalls)
		for k, c := range r.ToolCalls {
			if c.Arguments == "" {
				out[i].calls[k].Arguments = "{}"
			}
		}
		if len(r.Match) >= 2 && strings.HasPrefix(r.Match, "/") && strings.HasSuffix(r.Match, "/") {
			re, err := regexp.Compile(r.Match[1 : len(r.Match)-1])
			if err != nil {
				return nil, fmt.Errorf("fakellm: rule %d: invalid regex %s: %v", i+1, r.Match, err)
			}
			out[i].re = re
			continue
		}
		out[i].substr = r.Match
	}
	return out, nil
}

// Close stops the server, releasing any hung requests.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.done)
		_ = s.srv.Close()
	})
}

// Enqueue queues a fault for the next request(s), after any faults already queued.
func (s *Server) Enqueue(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.seen...)
}

// Count is the number of requests received so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// answer is the first matching rule's reply and tool calls, or an echo of the message.
func (s *Server) answer(lastUser string) (string, []ToolCall) {
	for _, r := range s.rules {
		if r.re != nil && r.re.MatchString(lastUser) || r.re == nil && strings.Contains(lastUser, r.substr) {
			return r.reply, r.calls
		}
	}
	return "echo: " + lastUser, nil
}

// shape is which vendor's error body a route answers with.
type shape int

const (
	openAIShape shape = iota
	anthropicShape
)

type handler func(w http.ResponseWriter, r *http.Request, body []byte)

// wrap records the request, applies the latency and any queued fault, then calls h.
func (s *Server) wrap(h handler, sh shape) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			return
		}
		s.count.Add(1)
		var fault *Fault
		s.mu.Lock()
		if !s.discard {
			s.seen = append(s.seen, Seen{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		}
		if len(s.faults) > 0 {
			f := s.faults[0]
			fault = &f
			s.faults[0].Times--
			if s.faults[0].Times <= 0 {
				s.faults = s.faults[1:]
			}
		}
		s.mu.Unlock()

		if s.latency > 0 {
			t := time.NewTimer(s.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.done:
				t.Stop()
				return
			}
		}
		if fault != nil {
			switch {
			case fault.Hang:
				select {
				case <-r.Context().Done():
				case <-s.done:
				}
				return
			case fault.Status != 0:
				if fault.RetryAfter != "" {
					w.Header().Set("Retry-After", fault.RetryAfter)
				}
				if fault.Body != "" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(fault.Status)
					io.WriteString(w, fault.Body)
					return
				}
				writeError(w, sh, fault.Status, "", "")
				return
			case fault.Malformed:
				malformed(w, wantsStream(body))
				return
			case fault.CutStream:
				h(&cutWriter{ResponseWriter: w}, r, body)
				return
			}
		}
		h(w, r, body)
	}
}

// wantsStream peeks at "stream": true without a full decode.
func wantsStream(body []byte) bool {
	var v struct {
		Stream bool `json:"stream"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Stream
}

// malformed answers 200 with a truncated JSON body, or an event stream with a broken chunk.
func malformed(w http.ResponseWriter, stream bool) {
	if stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "data: {\"id\": \"broken\", \"choices\": [{\"delta\": {\"content\": \n\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"id": "broken", "choices": [{"message": {"content": "cut`)
}

// cutWriter passes on the first part of an answer and then drops the connection: the first
// streamed event, or half of a plain body.
type cutWriter struct {
	http.ResponseWriter
	writes int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	c.writes++
	if strings.Contains(c.Header().Get("Content-Type"), "text/event-stream") {
		if c.writes > 1 {
			c.abort()
		}
		return c.ResponseWriter.Write(p)
	}
	c.Header().Set("Content-Length", fmt.Sprint(len(p)))
	_, _ = c.ResponseWriter.Write(p[:len(p)/2])
	c.abort() // does not return
	return 0, nil
}

func (c *cutWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// abort flushes what was written and drops the connection without ending the response
// properly: net/http closes the connection on this sentinel panic and logs nothing.
func (c *cutWriter) abort() {
	c.Flush()
	panic(http.ErrAbortHandler)
}

// writeError writes an error body in the vendor's shape, as the real APIs do.
func writeError(w http.ResponseWriter, sh shape, status int, kind, msg string) {
	if msg == "" {
		msg = defaultMessage(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var v any
	if sh == anthropicShape {
		if kind == "" {
			kind = anthropicErrorType(status)
		}
		v = map[string]any{"type": "error", "error": map[string]any{"type": kind, "message": msg}}
	} else {
		if kind == "" {
			kind = openAIErrorType(status)
		}
		v = map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": nil}}
	}
	_ = json.NewEncoder(w).Encode(v)
}

func defaultMessage(status int) string {
	switch status {
	case 401:
		return "Incorrect API key provided."
	case 429:
		return "Rate limit reached for requests. Please try again later."
	case 500:
		return "The server had an error while processing your request. Sorry about that!"
	case 503:
		return "The engine is currently overloaded, please try again later."
	case 529:
		return "Overloaded"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "error"
}

func openAIErrorType(status int) string {
	switch {
	case status == 401:
		return "invalid_request_error"
	case status == 429:
		return "rate_limit_exceeded"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// words approximates a token count by whitespace-separated words.
func words(s string) int { return len(strings.Fields(s)) }

func (s *Server) nextID(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, s.ids.Add(1))
}

// models answers GET /v1/models.
func (s *Server) models(w http.ResponseWriter, _ *http.Request, _ []byte) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data": []map[string]any{
			{"id": "fake-model", "object": "model", "created": 1700000000, "owned_by": "fakellm"},
			{"id": "fake-embedding", "object": "model", "created": 1700000000, "owned_by": "fakellm"},
		},
	})
}

// sse writes one server-sent event and flushes it.
func sse(w http.ResponseWriter, event string, v any) {
	var b strings.Builder
	if event != "" {
		b.WriteString("event: ")
		b.WriteString(event)
		b.WriteString("\n")
	}
	data, _ := json.Marshal(v)
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	io.WriteString(w, b.String())
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// pieces splits a reply into streamed chunks of one word each, keeping the spaces.
func pieces(s string) []string {
	var out []string
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			out = append(out, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
