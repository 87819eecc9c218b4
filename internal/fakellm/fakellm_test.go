package fakellm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// post sends a JSON body and returns the status, headers and body.
func post(t *testing.T, url string, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func chatBody(user string, stream bool) string {
	b, _ := json.Marshal(map[string]any{
		"model":          "fake-model",
		"messages":       []map[string]string{{"role": "system", "content": "refund policy applies"}, {"role": "user", "content": user}},
		"stream":         stream,
		"stream_options": map[string]bool{"include_usage": true},
	})
	return string(b)
}

func TestRules(t *testing.T) {
	s := start(t, Options{Rules: []Rule{
		{Match: "refund", Reply: "Refunds take five days."},
		{Match: "/^hello\\b/", Reply: "Hi!"},
		{Match: "refund or return", Reply: "never reached: the first match wins"},
	}})
	tests := []struct{ user, want string }{
		{"How does a refund work?", "Refunds take five days."},
		{"I want a refund or return", "Refunds take five days."},
		{"hello there", "Hi!"},
		{"well, hello", "echo: well, hello"}, // the regex is anchored; the system message is not matched
		{"", "echo: "},
	}
	for _, tt := range tests {
		status, _, body := post(t, s.URL+"/chat/completions", chatBody(tt.user, false), nil)
		var r struct {
			Choices []struct {
				Message struct{ Role, Content string }
			}
			Usage struct{ PromptTokens, CompletionTokens, TotalTokens int } `json:"usage"`
		}
		if err := json.Unmarshal(body, &r); err != nil || status != 200 || len(r.Choices) != 1 {
			t.Fatalf("%q: status %d, body %s", tt.user, status, body)
		}
		if got := r.Choices[0].Message.Content; got != tt.want || r.Choices[0].Message.Role != "assistant" {
			t.Errorf("reply to %q = %q, want %q", tt.user, got, tt.want)
		}
	}
	if _, err := Start(Options{Rules: []Rule{{Match: "/(/", Reply: "x"}}}); err == nil || !strings.Contains(err.Error(), "rule 1: invalid regex") {
		t.Errorf("bad regex: %v", err)
	}
}

func TestChatUsageCountsWords(t *testing.T) {
	s := start(t, Options{})
	_, _, body := post(t, s.URL+"/chat/completions", chatBody("one two three", false), nil)
	var r struct {
		Usage map[string]int `json:"usage"`
	}
	json.Unmarshal(body, &r)
	// prompt: "refund policy applies" + "one two three"; reply: "echo: one two three"
	if r.Usage["prompt_tokens"] != 6 || r.Usage["completion_tokens"] != 4 || r.Usage["total_tokens"] != 10 {
		t.Errorf("usage = %v", r.Usage)
	}
}

// events splits an SSE body into its data payloads.
func events(body []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestChatStream(t *testing.T) {
	s := start(t, Options{Rules: []Rule{{Match: "", Reply: "Paris is the capital."}}})
	for _, withUsage := range []bool{true, false} {
		body := chatBody("capital?", true)
		if !withUsage {
			body = strings.Replace(body, `"include_usage":true`, `"include_usage":false`, 1)
		}
		status, h, resp := post(t, s.URL+"/chat/completions", body, nil)
		if status != 200 || h.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, content type %q", status, h.Get("Content-Type"))
		}
		data := events(resp)
		if len(data) < 3 || data[len(data)-1] != "[DONE]" {
			t.Fatalf("events = %q, want chunks then [DONE]", data)
		}
		var text strings.Builder
		usageSeen := false
		for _, d := range data[:len(data)-1] {
			var c struct {
				Object  string `json:"object"`
				Choices []struct {
					Delta struct{ Content string }
				}
				Usage map[string]int `json:"usage"`
			}
			if err := json.Unmarshal([]byte(d), &c); err != nil || c.Object != "chat.completion.chunk" {
				t.Fatalf("bad chunk %q: %v", d, err)
			}
			for _, ch := range c.Choices {
				text.WriteString(ch.Delta.Content)
			}
			if c.Usage != nil {
				usageSeen = true
				if c.Usage["completion_tokens"] != 4 {
					t.Errorf("usage = %v", c.Usage)
				}
			}
		}
		if text.String() != "Paris is the capital." {
			t.Errorf("streamed text = %q", text.String())
		}
		if usageSeen != withUsage {
			t.Errorf("usage chunk present = %v, want %v (include_usage)", usageSeen, withUsage)
		}
	}
}

func TestAnthropicMessages(t *testing.T) {
	s := start(t, Options{Rules: []Rule{{Match: "hours", Reply: "We open at nine."}}})
	url := s.URL + "/messages"
	good := `{"model": "claude-x", "max_tokens": 100, "system": "Be kind.", "messages": [{"role": "user", "content": [{"type": "text", "text": "What are your hours?"}]}]}`

	status, _, body := post(t, url, good, map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"})
	var m struct {
		Type    string
		Content []struct{ Type, Text string }
		Usage   map[string]int
	}
	if err := json.Unmarshal(body, &m); err != nil || status != 200 || m.Type != "message" || len(m.Content) != 1 || m.Content[0].Text != "We open at nine." {
		t.Fatalf("status %d body %s", status, body)
	}
	if m.Usage["input_tokens"] != 6 || m.Usage["output_tokens"] != 4 {
		t.Errorf("usage = %v", m.Usage)
	}
	if h := s.Requests()[0].Header; h.Get("x-api-key") != "k" || h.Get("anthropic-version") != "2023-06-01" {
		t.Errorf("headers not recorded as received: %v", h)
	}

	status, _, body = post(t, url, strings.Replace(good, `"max_tokens": 100,`, `"stream": true, "max_tokens": 100,`, 1), nil)
	var types []string
	var text strings.Builder
	for _, d := range events(body) {
		var ev struct {
			Type  string
			Delta struct{ Type, Text string }
		}
		json.Unmarshal([]byte(d), &ev)
		types = append(types, ev.Type)
		text.WriteString(ev.Delta.Text)
	}
	if status != 200 || types[0] != "message_start" || types[len(types)-1] != "message_stop" || text.String() != "We open at nine." {
		t.Errorf("stream: status %d, events %v, text %q", status, types, text.String())
	}

	refusals := []struct{ body, want string }{
		{`{"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}`, "max_tokens: Field required"},
		{`{"model": "claude-x", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]}`, `Unexpected role "system"`},
		{`{"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}`, "model: Field required"},
	}
	for _, r := range refusals {
		status, _, body := post(t, url, r.body, nil)
		var e struct {
			Type  string
			Error struct{ Type, Message string }
		}
		json.Unmarshal(body, &e)
		if status != 400 || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, r.want) {
			t.Errorf("%s: status %d body %s, want 400 with %q", r.body, status, body, r.want)
		}
	}
}

func TestEmbeddings(t *testing.T) {
	s := start(t, Options{})
	status, _, body := post(t, s.URL+"/embeddings", `{"model": "e", "input": ["The cat sat.", "the CAT sat", "stock prices fell"]}`, nil)
	var r struct {
		Data []struct {
			Index     int
			Embedding []float64
		}
		Usage map[string]int
	}
	if err := json.Unmarshal(body, &r); err != nil || status != 200 || len(r.Data) != 3 {
		t.Fatalf("status %d body %.200s", status, body)
	}
	dot := func(a, b []float64) (d float64) {
		for i := range a {
			d += a[i] * b[i]
		}
		return d
	}
	a, b, c := r.Data[0].Embedding, r.Data[1].Embedding, r.Data[2].Embedding
	if len(a) != 64 || math.Abs(dot(a, a)-1) > 1e-9 {
		t.Errorf("len %d, norm² %g: want 64 dims, unit length", len(a), dot(a, a))
	}
	if math.Abs(dot(a, b)-1) > 1e-9 {
		t.Errorf("case and punctuation changed the vector: cos = %g", dot(a, b))
	}
	if dot(a, c) >= dot(a, b) {
		t.Errorf("unrelated text as close as the same text")
	}
	if r.Usage["prompt_tokens"] != 9 {
		t.Errorf("usage = %v", r.Usage)
	}
	if got := Embed("the cat sat"); dot(got, a) < 1-1e-9 {
		t.Error("Embed is not deterministic")
	}
	for _, e := range Embed("") {
		if e != 0 {
			t.Fatal("empty text should give the zero vector")
		}
	}
}

func TestFaults(t *testing.T) {
	s := start(t, Options{})
	s.Enqueue(Fault{Status: 429, RetryAfter: "3", Times: 2})
	s.Enqueue(Fault{Status: 503})
	s.Enqueue(Fault{Status: 500, Body: `{"custom": true}`})
	s.Enqueue(Fault{Malformed: true})
	want := []struct {
		status     int
		retryAfter string
		body       string
	}{
		{429, "3", `"type":"rate_limit_exceeded"`},
		{429, "3", `"type":"rate_limit_exceeded"`},
		{503, "", `"type":"server_error"`},
		{500, "", `{"custom": true}`},
		{200, "", `{"id": "broken"`},
		{200, "", `"echo: hi"`},
	}
	for i, w := range want {
		status, h, body := post(t, s.URL+"/chat/completions", chatBody("hi", false), nil)
		if status != w.status || h.Get("Retry-After") != w.retryAfter || !strings.Contains(string(body), w.body) {
			t.Errorf("request %d: %d %q %s; want %d %q containing %s", i, status, h.Get("Retry-After"), body, w.status, w.retryAfter, w.body)
		}
	}
	// Anthropic routes answer in Anthropic's shape.
	s.Enqueue(Fault{Status: 529})
	status, _, body := post(t, s.URL+"/messages", `{}`, nil)
	if status != 529 || !strings.Contains(string(body), `{"error":{"message":"Overloaded","type":"overloaded_error"},"type":"error"}`) {
		t.Errorf("anthropic 529: %d %s", status, body)
	}
	if s.Count() != 7 || len(s.Requests()) != 7 || s.Requests()[6].Path != "/v1/messages" {
		t.Errorf("count = %d, requests = %d", s.Count(), len(s.Requests()))
	}
}

func TestCutStream(t *testing.T) {
	s := start(t, Options{})
	s.Enqueue(Fault{CutStream: true, Times: 2})
	resp, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(chatBody("a b c d", true)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || strings.Contains(string(body), "[DONE]") || !strings.Contains(string(body), "data: ") {
		t.Errorf("stream: read err %v, body %q; want the first event then a broken connection", err, body)
	}
	resp, err = http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(chatBody("a b c d", false)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("plain: want a read error on a cut body")
	}
}

func TestHangReleasedByClose(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(chatBody("x", false)))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("a hung request was answered")
	default:
	}
	s.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the hung request")
	}
}

func TestModelsAndUnknownRoutes(t *testing.T) {
	s := start(t, Options{DiscardRequests: true})
	resp, err := http.Get(s.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Object string
		Data   []struct{ ID string }
	}
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m.Object != "list" || len(m.Data) == 0 || m.Data[0].ID != "fake-model" {
		t.Errorf("models = %+v", m)
	}
	status, _, body := post(t, s.URL+"/completions", `{}`, nil)
	if status != 404 || !strings.Contains(string(body), "Unknown request URL: POST /v1/completions") {
		t.Errorf("unknown route: %d %s", status, body)
	}
	if s.Count() != 2 || len(s.Requests()) != 0 {
		t.Errorf("DiscardRequests: count %d, kept %d", s.Count(), len(s.Requests()))
	}
}

// Requests are served in parallel: 200 at once with 100 ms latency each take about 100 ms,
// not 20 s; a global lock on the hot path would show here.
func TestConcurrentRequestsAreParallel(t *testing.T) {
	s := start(t, Options{Latency: 100 * time.Millisecond})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	began := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(chatBody("hi", false)))
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- io.ErrUnexpectedEOF
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if took < 100*time.Millisecond || took > 3*time.Second {
		t.Errorf("%d requests with 100ms latency took %v", n, took)
	}
	if s.Count() != n {
		t.Errorf("count = %d", s.Count())
	}
}

func TestPieces(t *testing.T) {
	got := pieces("Hello  big world")
	if strings.Join(got, "") != "Hello  big world" || len(got) != 3 {
		t.Errorf("pieces = %q", got)
	}
}
