package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, twoTargets)
	for _, tt := range []struct{ name, header string }{
		{"no key", ""},
		{"wrong key", "Bearer nope"},
		{"upstream key", "Bearer " + primaryKey},
		{"basic auth", "Basic " + teamAKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(chat("support-bot", "hi")))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, b)
			}
			typ, code, _ := apiErr(t, string(b))
			if typ != "invalid_request_error" || code != "invalid_api_key" {
				t.Fatalf("error type %q code %q", typ, code)
			}
		})
	}
	if n := h.primary.Count() + h.backup.Count(); n != 0 {
		t.Fatalf("%d calls reached an upstream without a valid key", n)
	}
	// GET /v1/models needs a key too.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/models", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("models without a key: %d", resp.StatusCode)
	}
}

func TestPassThroughPlain(t *testing.T) {
	h := newHarness(t, twoTargets)
	body := `{"model":"support-bot","messages":[{"role":"user","content":"hello there"}],"temperature":0.2,"x_vendor_field":{"keep":[1,2,3]},"logit_bias":{"50256":-100}}`
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var resp struct {
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	// The response is the upstream's, fields and all.
	if resp.Object != "chat.completion" || resp.Model != "fake-1" || resp.Choices[0].Message.Content != "echo: hello there" || resp.Usage.PromptTokens != 2 {
		t.Fatalf("response = %s", out)
	}
	if hdr.Get("X-Plumb-Trace-Id") == "" {
		t.Fatal("no trace id header")
	}
	seen := h.primary.Requests()
	if len(seen) != 1 || h.backup.Count() != 0 {
		t.Fatalf("primary got %d calls, backup %d", len(seen), h.backup.Count())
	}
	var up map[string]json.RawMessage
	if err := json.Unmarshal(seen[0].Body, &up); err != nil {
		t.Fatal(err)
	}
	// Only the model is rewritten; unknown fields arrive untouched.
	if string(up["model"]) != `"fake-1"` || string(up["x_vendor_field"]) != `{"keep":[1,2,3]}` || string(up["temperature"]) != "0.2" || string(up["logit_bias"]) != `{"50256":-100}` {
		t.Fatalf("upstream body = %s", seen[0].Body)
	}
	if got := seen[0].Header.Get("Authorization"); got != "Bearer "+primaryKey {
		t.Fatalf("upstream Authorization = %q", got)
	}
}

func TestUnknownModel(t *testing.T) {
	h := newHarness(t, twoTargets)
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("gpt-4o", "hi"))
	if status != 404 {
		t.Fatalf("status %d", status)
	}
	_, code, msg := apiErr(t, out)
	if code != "model_not_found" || !strings.Contains(msg, "support-bot") {
		t.Fatalf("code %q msg %q", code, msg)
	}
	status, _, out = h.call("/v1/chat/completions", teamAKey, `{"messages": [`)
	if status != 400 {
		t.Fatalf("bad JSON: status %d", status)
	}
	if _, code, _ := apiErr(t, out); code != "invalid_json" {
		t.Fatalf("bad JSON: code %q", code)
	}
}

// readEvents reads SSE data payloads until the stream ends.
func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamPassThroughAndUsage(t *testing.T) {
	h := newHarness(t, twoTargets)
	for _, include := range []bool{false, true} {
		body := `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
		if include {
			body = `{"model":"support-bot","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}`
		}
		resp := h.post("/v1/chat/completions", teamAKey, body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		events := readEvents(t, resp.Body)
		resp.Body.Close()
		if events[len(events)-1] != "[DONE]" {
			t.Fatalf("last event %q", events[len(events)-1])
		}
		var text strings.Builder
		usageChunks := 0
		for _, e := range events[:len(events)-1] {
			var c struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
				Usage *struct {
					TotalTokens int `json:"total_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(e), &c); err != nil {
				t.Fatalf("event %q: %v", e, err)
			}
			for _, ch := range c.Choices {
				text.WriteString(ch.Delta.Content)
			}
			if c.Usage != nil {
				usageChunks++
			}
		}
		if text.String() != "echo: one two three" {
			t.Fatalf("streamed text %q", text.String())
		}
		if want := map[bool]int{false: 0, true: 1}[include]; usageChunks != want {
			t.Fatalf("include_usage %v: %d usage chunks, want %d", include, usageChunks, want)
		}
	}
	// The gateway asked for usage either way, and recorded it.
	for i, seen := range h.primary.Requests() {
		if !strings.Contains(string(seen.Body), `"include_usage":true`) {
			t.Fatalf("request %d did not ask for usage: %s", i, seen.Body)
		}
	}
	tr := h.record(1)
	if !tr.Stream || tr.TokensIn != 3 || tr.TokensOut != 4 || tr.TTFTMS == nil {
		t.Fatalf("trace = %+v", tr)
	}
}

// TestStreamIsNotBuffered has an upstream that sends one chunk and then waits until the
// client has read it: a gateway that buffered would never deliver it.
func TestStreamIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" second\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	h := newHarness(t, strings.Replace(twoTargets, "base_url: PRIMARY_URL", "base_url: "+up.URL, 1))
	resp := h.post("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, "first") {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first chunk did not reach the client while the upstream was still streaming")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "second") || !strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("rest of the stream: %q", rest)
	}
}

func TestEmbeddingsAndModels(t *testing.T) {
	h := newHarness(t, twoTargets)
	status, _, out := h.call("/v1/embeddings", teamAKey, `{"model":"support-bot","input":["a b","c"]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var e struct {
		Data []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil || len(e.Data) != 2 || len(e.Data[0].Embedding) != 64 || e.Model != "fake-1" {
		t.Fatalf("embeddings = %.200s (%v)", out, err)
	}
	if p := h.primary.Requests()[0]; p.Path != "/v1/embeddings" {
		t.Fatalf("upstream path %s", p.Path)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+teamAKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Object != "list" || len(m.Data) != 1 || m.Data[0].ID != "support-bot" {
		t.Fatalf("models = %s", b)
	}
}

// TestUpstreamKeysNeverLeak makes upstreams echo their keys in errors and checks the
// responses, the traces and the logs.
func TestUpstreamKeysNeverLeak(t *testing.T) {
	h := newHarness(t, twoTargets)
	leak := `{"error":{"message":"Incorrect API key provided: ` + primaryKey + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	h.primary.Enqueue(fakellm.Fault{Status: 401, Body: leak})
	h.backup.Enqueue(fakellm.Fault{Status: 400, Body: `{"error":{"message":"bad request from key ` + backupKey + `","type":"invalid_request_error","param":null,"code":null}}`})
	_, _, out1 := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	h.primary.Enqueue(fakellm.Fault{Status: 500, Body: leak})
	h.backup.Enqueue(fakellm.Fault{Status: 503, Body: `{"error":{"message":"` + backupKey + `"}}`})
	_, _, out2 := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	_, _, out3 := h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	h.record(3)
	var traces strings.Builder
	for _, tr := range h.rec.traces() {
		b, _ := json.Marshal(tr)
		traces.Write(b)
	}
	metrics := h.scrape()
	for where, text := range map[string]string{"response 1": out1, "response 2": out2, "response 3": out3, "traces": traces.String(), "logs": h.logs.String(), "metrics": metrics} {
		for _, k := range []string{primaryKey, backupKey, teamAKey} {
			if strings.Contains(text, k) {
				t.Errorf("%s contain a key: %s", where, text)
			}
		}
	}
	if !strings.Contains(out1, "[REDACTED]") {
		t.Fatalf("the backup's 400 should pass through with the key scrubbed: %s", out1)
	}
}

func (h *harness) scrape() string {
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestStreamMetricsAndMessagesSeam(t *testing.T) {
	h := newHarness(t, twoTargets)
	resp := h.post("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"a b"}]}`)
	readEvents(t, resp.Body)
	resp.Body.Close()
	h.record(1)
	m := h.scrape()
	for _, want := range []string{
		`plumb_gateway_ttft_seconds_count{key="team-a",route="support-bot",target="primary/fake-1"} 1`,
		`plumb_gateway_tokens_total{direction="output",key="team-a",route="support-bot",target="primary/fake-1"} 3`,
		`plumb_gateway_upstream_attempts_total{outcome="ok",target="primary/fake-1"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// /v1/messages authenticates like the other endpoints and answers in Anthropic's shape.
	status, _, out := h.call("/v1/messages", "", `{}`)
	if status != 401 || !strings.Contains(out, `"type":"error"`) || !strings.Contains(out, `"authentication_error"`) {
		t.Fatalf("messages without a key: %d %s", status, out)
	}
}
