package provider

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func TestExec(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatal("the exec provider's tests run programs through /bin/sh, which is missing")
	}
	req := &Request{Prompt: `Say "hi" to Ada`, Messages: []Message{{Role: "user", Content: `Say "hi" to Ada`}}, Vars: map[string]any{"name": "Ada", "n": 3}}
	t.Run("stdin is the request as JSON, stdout the output", func(t *testing.T) {
		p := mustNew(t, Config{Type: "exec", Command: []string{"sh", "-c", "cat; echo"}}, Options{})
		resp, err := p.Call(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var in struct {
			Prompt   string         `json:"prompt"`
			Messages []Message      `json:"messages"`
			Vars     map[string]any `json:"vars"`
		}
		if err := json.Unmarshal([]byte(resp.Output), &in); err != nil {
			t.Fatalf("output %q is not the JSON input: %v", resp.Output, err)
		}
		if in.Prompt != req.Prompt || len(in.Messages) != 1 || in.Vars["name"] != "Ada" || in.Vars["n"] != 3.0 {
			t.Errorf("program read %+v", in)
		}
		if resp.Latency <= 0 {
			t.Errorf("latency = %v", resp.Latency)
		}
	})
	tests := []struct {
		name       string
		script     string
		timeout    time.Duration
		wantOutput string
		wantUsage  Usage
		wantCost   float64
		wantKind   string
		wantMsg    string
	}{
		{name: "plain text, trimmed", script: `printf '  Hello, Ada.\n\n'`, wantOutput: "Hello, Ada."},
		{name: "JSON with output, tokens and cost", script: `echo '{"output": "Hi!", "tokens": {"prompt": 10, "completion": 2}, "cost": 0.001}'`,
			wantOutput: "Hi!", wantUsage: Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}, wantCost: 0.001},
		{name: "JSON with a total token count", script: `echo '{"output": "Hi!", "tokens": 7}'`, wantOutput: "Hi!", wantUsage: Usage{TotalTokens: 7}},
		{name: "JSON object output is kept as JSON", script: `echo '{"output": {"answer": 42}}'`, wantOutput: `{"answer":42}`},
		{name: "JSON without output is plain text", script: `echo '{"answer": 42}'`, wantOutput: `{"answer": 42}`},
		{name: "non-zero exit quotes stderr's tail", script: `echo 'Traceback: KeyError: name' >&2; exit 3`, wantKind: KindServer, wantMsg: "sh failed (exit status 3): Traceback: KeyError: name"},
		{name: "timeout stops the program", script: `sleep 10`, timeout: 200 * time.Millisecond, wantKind: KindTimeout, wantMsg: "did not finish within 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, Config{Type: "exec", Command: []string{"sh", "-c", tt.script}, Timeout: tt.timeout}, Options{})
			began := time.Now()
			resp, err := p.Call(context.Background(), req)
			if tt.wantKind != "" {
				e := asError(t, err)
				if e.Kind != tt.wantKind || !strings.Contains(e.Error(), tt.wantMsg) {
					t.Errorf("error = %v (kind %s), want kind %s containing %q", e, e.Kind, tt.wantKind, tt.wantMsg)
				}
				if took := time.Since(began); took > 3*time.Second {
					t.Errorf("took %v", took)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Output != tt.wantOutput || resp.Usage != tt.wantUsage || resp.Cost != tt.wantCost {
				t.Errorf("got %q %+v %g, want %q %+v %g", resp.Output, resp.Usage, resp.Cost, tt.wantOutput, tt.wantUsage, tt.wantCost)
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		p := mustNew(t, Config{Type: "exec", Command: []string{"plumb-no-such-program-xyz"}}, Options{})
		_, err := p.Call(context.Background(), req)
		if e := asError(t, err); !strings.Contains(e.Error(), "not found (is it installed and on PATH?)") {
			t.Errorf("error = %v", e)
		}
	})
}

func TestHTTPProvider(t *testing.T) {
	type seen struct {
		method, path, auth, ctype string
		body                      []byte
	}
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices": [{"message": {"content": "from choices"}}], "data": [{"text": "from data"}], "score": 0.75, "obj": {"a": [1, 2]}}`)
	}))
	defer srv.Close()
	prompt := "He said \"hi\"\nthen left\t<b>"
	req := &Request{Prompt: prompt, Messages: []Message{{Role: "user", Content: prompt}}, Vars: map[string]any{"n": 3, "user": map[string]any{"id": "u1"}}}
	opts := Options{Getenv: envOf(map[string]string{"SVC_TOKEN": "tok-PLANTED-789"})}

	tests := []struct {
		name       string
		cfg        Config
		wantOutput string
		wantBody   string // JSON the server must receive, compared as values; "" skips
		wantMethod string
		wantPath   string
		wantErr    string
	}{
		{name: "templated body, dotted path", cfg: Config{Body: map[string]any{"q": "{{prompt}}", "n": "{{n}}", "uid": "{{ user.id }}", "label": "n={{n}}", "list": []any{"{{n}}"}}, OutputPath: "choices.0.message.content"},
			wantOutput: "from choices", wantBody: `{"q": "He said \"hi\"\nthen left\t<b>", "n": 3, "uid": "u1", "label": "n=3", "list": [3]}`},
		{name: "string body is JSON-escaped", cfg: Config{Body: `{"input": "{{prompt}}", "n": {{n}}}`, OutputPath: "$.data[0].text"},
			wantOutput: "from data", wantBody: `{"input": "He said \"hi\"\nthen left\t<b>", "n": 3}`},
		{name: "number output", cfg: Config{OutputPath: "$.score"}, wantOutput: "0.75", wantBody: `{"prompt": "He said \"hi\"\nthen left\t<b>"}`},
		{name: "object output as JSON", cfg: Config{OutputPath: "$['obj']"}, wantOutput: `{"a":[1,2]}`},
		{name: "whole body without a path", cfg: Config{}, wantOutput: `{"choices": [{"message": {"content": "from choices"}}], "data": [{"text": "from data"}], "score": 0.75, "obj": {"a": [1, 2]}}`},
		{name: "GET with query template", cfg: Config{Method: "get", URL: "/search?q={{prompt}}&n={{n}}", OutputPath: "score"}, wantOutput: "0.75", wantMethod: "GET",
			wantPath: "/search?q=He+said+%22hi%22%0Athen+left%09%3Cb%3E&n=3"},
		{name: "missing path is malformed", cfg: Config{OutputPath: "choices.3.message"}, wantErr: "the answer has no element 3 at choices.3"},
		{name: "missing var", cfg: Config{Body: map[string]any{"q": "{{question}}"}}, wantErr: "uses {{question}} but the test has no variable question"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Type = "http"
			cfg.URL = srv.URL + cfg.URL
			cfg.Headers = map[string]string{"Authorization": "Bearer {{env.SVC_TOKEN}}"}
			p := mustNew(t, cfg, opts)
			resp, err := p.Call(context.Background(), req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "tok-PLANTED-789") {
					t.Errorf("error leaks the header secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Output != tt.wantOutput {
				t.Errorf("output = %q, want %q", resp.Output, tt.wantOutput)
			}
			mu.Lock()
			got := last
			mu.Unlock()
			if got.auth != "Bearer tok-PLANTED-789" {
				t.Errorf("Authorization = %q", got.auth)
			}
			if tt.wantMethod != "" && got.method != tt.wantMethod {
				t.Errorf("method = %s, want %s", got.method, tt.wantMethod)
			}
			if tt.wantPath != "" && got.path != tt.wantPath {
				t.Errorf("path = %s, want %s", got.path, tt.wantPath)
			}
			if tt.wantBody != "" {
				var gotV, wantV any
				if err := json.Unmarshal(got.body, &gotV); err != nil {
					t.Fatalf("body %s is not JSON: %v", got.body, err)
				}
				json.Unmarshal([]byte(tt.wantBody), &wantV)
				g, _ := json.Marshal(gotV)
				w, _ := json.Marshal(wantV)
				if string(g) != string(w) {
					t.Errorf("body = %s\nwant   %s", g, w)
				}
				if got.ctype != "application/json" {
					t.Errorf("Content-Type = %q", got.ctype)
				}
			}
		})
	}
}

func TestParseOutputPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"$", nil},
		{"output", []string{"output"}},
		{"choices.0.message.content", []string{"choices", "0", "message", "content"}},
		{"$.data[0].text", []string{"data", "0", "text"}},
		{"$['output']", []string{"output"}},
		{`$.a["b.c"][2]`, []string{"a", "b.c", "2"}},
	}
	for _, tt := range tests {
		got, err := ParseOutputPath(tt.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") || (got == nil) != (tt.want == nil) {
			t.Errorf("ParseOutputPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a..b", "$.a[", "$.a[x]", "a[0]b"} {
		if _, err := ParseOutputPath(bad); err == nil {
			t.Errorf("ParseOutputPath(%q): want an error", bad)
		}
	}
}

func TestDefaultPrice(t *testing.T) {
	tests := []struct {
		model string
		want  Price
		ok    bool
	}{
		{"gpt-4o", Price{Input: 2.50, Output: 10, Cached: 1.25}, true},
		{"gpt-4o-2024-08-06", Price{Input: 2.50, Output: 10, Cached: 1.25}, true},
		{"gpt-4o-2024-05-13", Price{Input: 5, Output: 15}, true},
		{"gpt-4o-mini-2024-07-18", Price{Input: 0.15, Output: 0.60, Cached: 0.075}, true},
		{"GPT-4.1-mini", Price{Input: 0.40, Output: 1.60, Cached: 0.10}, true},
		{"gpt-4.1-2025-04-14", Price{Input: 2, Output: 8, Cached: 0.50}, true},
		{"openai/gpt-5-mini", Price{Input: 0.25, Output: 2, Cached: 0.025}, true},
		{"o3-mini-2025-01-31", Price{Input: 1.10, Output: 4.40, Cached: 0.55}, true},
		{"claude-3-5-sonnet-20241022", Price{Input: 3, Output: 15, Cached: 0.30}, true},
		{"claude-3-5-haiku-latest", Price{Input: 0.80, Output: 4, Cached: 0.08}, true},
		{"claude-opus-4-1-20250805", Price{Input: 15, Output: 75, Cached: 1.50}, true},
		{"claude-3-7-sonnet@20250219", Price{Input: 3, Output: 15, Cached: 0.30}, true},
		{"text-embedding-3-small", Price{Input: 0.02}, true},
		{"gpt-4o-minix", Price{}, false},            // not a dated variant of gpt-4o
		{"gpt-4o-realtime-preview", Price{}, false}, // another product, another price: unknown beats wrong
		{"gpt-4-1106-preview", Price{}, false},
		{"claude-3-5-sonnet-20240620-v1:0", Price{Input: 3, Output: 15, Cached: 0.30}, true},
		{"gpt-4-0613", Price{Input: 30, Output: 60}, true},
		{"gpt-4.5-preview", Price{}, false},
		{"llama3.1:8b", Price{}, false},
		{"", Price{}, false},
	}
	for _, tt := range tests {
		got, ok := DefaultPrice(tt.model)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DefaultPrice(%q) = %+v, %v; want %+v, %v", tt.model, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCost(t *testing.T) {
	p := Price{Input: 2.50, Output: 10, Cached: 1.25}
	tests := []struct {
		u    Usage
		p    Price
		want float64
	}{
		{Usage{PromptTokens: 1_000_000}, p, 2.50},
		{Usage{CompletionTokens: 1_000_000}, p, 10},
		{Usage{PromptTokens: 1000, CompletionTokens: 500, CachedTokens: 400}, p, (600*2.50 + 400*1.25 + 500*10) / 1e6},
		{Usage{PromptTokens: 1000, CachedTokens: 400}, Price{Input: 3}, 1000 * 3 / 1e6}, // no cached price: input price
		{Usage{PromptTokens: 10, CachedTokens: 50}, p, 10 * 1.25 / 1e6},                 // cached never exceeds prompt
	}
	for _, tt := range tests {
		if got := Cost(tt.p, tt.u); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Cost(%+v, %+v) = %g, want %g", tt.p, tt.u, got, tt.want)
		}
	}
	// The config's price overrides the table.
	s := startFake(t, fakellm.Options{})
	pr := mustNew(t, Config{Type: "openai", Model: "gpt-4o", BaseURL: s.URL, Price: &Price{Input: 1e6, Output: 0}}, withKey())
	resp, err := pr.Call(context.Background(), userReq("one two three"))
	if err != nil || resp.Cost != 3 {
		t.Errorf("cost with price override = %v, %v; want 3 (3 prompt tokens at $1 each)", resp, err)
	}
}

func TestCassetteRecordThenReplay(t *testing.T) {
	s := startFake(t, fakellm.Options{Latency: 5 * time.Millisecond, Rules: []fakellm.Rule{{Match: "refund", Reply: "Refunds take 5 days."}}})
	path := filepath.Join(t.TempDir(), "sub", "cassette.json")
	cfg := Config{Label: "support-bot", Type: "openai", Model: "gpt-4o-mini", BaseURL: s.URL, Params: Params{Temperature: ptr(0.0)}}
	reqs := []*Request{
		{Messages: []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "How do refunds work?"}}},
		{Messages: []Message{{Role: "user", Content: "Hello there"}}},
		{Messages: []Message{{Role: "user", Content: "Hello there"}}, Repeat: 1},
	}

	rec, err := OpenCassette(path, CassetteRecord)
	if err != nil {
		t.Fatal(err)
	}
	live := rec.Wrap(mustNew(t, cfg, withKey()), cfg)
	var recorded []*Response
	var wg sync.WaitGroup
	recorded = make([]*Response, len(reqs))
	for i, r := range reqs {
		wg.Add(1)
		go func() { // concurrent recording must be safe
			defer wg.Done()
			resp, err := live.Call(context.Background(), r)
			if err != nil {
				t.Error(err)
				return
			}
			recorded[i] = resp
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := rec.Save(); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if strings.Contains(string(first), plantedKey) || strings.Contains(string(first), s.URL) {
		t.Errorf("cassette holds the key or the base URL:\n%s", first)
	}
	if !strings.Contains(string(first), `"provider": "support-bot"`) || !strings.Contains(string(first), `"content": "How do refunds work?"`) {
		t.Errorf("cassette lacks what a reader needs:\n%s", first)
	}
	// Saving again gives the same bytes; entries are sorted by key.
	if err := rec.Save(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("saving twice changed the file")
	}
	var f cassetteFile
	json.Unmarshal(first, &f)
	for i := 1; i < len(f.Entries); i++ {
		if f.Entries[i-1].Key >= f.Entries[i].Key {
			t.Errorf("entries not sorted by key")
		}
	}
	if len(f.Entries) != 3 {
		t.Fatalf("%d entries, want 3", len(f.Entries))
	}

	// Replay against a different (dead) base URL and no key: no network, same answers.
	calls := s.Count()
	play, err := OpenCassette(path, CassetteReplay)
	if err != nil {
		t.Fatal(err)
	}
	replayCfg := cfg
	replayCfg.BaseURL = deadURL(t)
	replayed := play.Wrap(mustNew(t, replayCfg, Options{Getenv: envOf(nil)}), replayCfg)
	for i, r := range reqs {
		resp, err := replayed.Call(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		want := recorded[i]
		if resp.Output != want.Output || resp.Usage != want.Usage || resp.Cost != want.Cost || !resp.Replayed {
			t.Errorf("replay %d = %+v, recorded %+v", i, resp, want)
		}
		if d := resp.Latency - want.Latency; d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("replayed latency %v, recorded %v", resp.Latency, want.Latency)
		}
	}
	if s.Count() != calls {
		t.Errorf("replay made %d network calls", s.Count()-calls)
	}
	if recorded[1].Output != "echo: Hello there" || recorded[0].Output != "Refunds take 5 days." {
		t.Errorf("recorded outputs = %q, %q", recorded[0].Output, recorded[1].Output)
	}

	// An unrecorded request fails loudly with the documented message.
	_, err = replayed.Call(context.Background(), &Request{Messages: []Message{{Role: "user", Content: "Hello there"}}, Repeat: 2})
	want := "cassette " + path + ` has no recording for provider support-bot (model gpt-4o-mini), prompt "Hello there", repeat 2: run ` + "`plumb eval --record`" + " to record it"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	long := strings.Repeat("word ", 30)
	_, err = replayed.Call(context.Background(), userReq(long))
	if err == nil || !strings.Contains(err.Error(), `prompt "`+long[:60]+`…"`) {
		t.Errorf("error = %v, want the prompt cut at 60 characters", err)
	}
	// Other params are another request.
	other := cfg
	other.Params.Temperature = ptr(1.0)
	if _, err := play.Wrap(nil, other).Call(context.Background(), reqs[1]); err == nil {
		t.Error("replay with a different temperature: want a miss")
	}
}

func TestCassetteMerge(t *testing.T) {
	s := startFake(t, fakellm.Options{})
	path := filepath.Join(t.TempDir(), "c.json")
	cfg := Config{Type: "openai", Model: "m", BaseURL: s.URL}
	for _, text := range []string{"first", "second"} {
		c, err := OpenCassette(path, CassetteRecord)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wrap(mustNew(t, cfg, withKey()), cfg).Call(context.Background(), userReq(text)); err != nil {
			t.Fatal(err)
		}
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := OpenCassette(path, CassetteReplay)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Errorf("after two recordings the cassette has %d entries, want 2 (merged)", c.Len())
	}
}

func TestOpenCassetteErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.json")
	if _, err := OpenCassette(missing, CassetteReplay); err == nil || !strings.Contains(err.Error(), "does not exist: run `plumb eval --record`") {
		t.Errorf("missing cassette in replay: %v", err)
	}
	if c, err := OpenCassette(missing, CassetteRecord); err != nil || c.Len() != 0 {
		t.Errorf("missing cassette in record mode: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n  \"version\": 1,\n  \"entries\": [,]\n}\n"), 0o644)
	if _, err := OpenCassette(bad, CassetteRecord); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("corrupt cassette: %v, want the line named", err)
	}
}

func TestCassetteKey(t *testing.T) {
	base := Config{Type: "openai", Model: "gpt-4o", BaseURL: "http://a", Params: Params{Extra: map[string]any{"b": 1, "a": 2}}}
	req := userReq("hi")
	k := CassetteKey(base, req)
	if len(k) != 64 {
		t.Fatalf("key %q is not a hex sha256", k)
	}
	same := []Config{base}
	c := base
	c.BaseURL, c.APIKeyEnv, c.Label, c.Headers, c.Stream, c.Timeout = "https://b", "OTHER", "x", map[string]string{"A": "b"}, true, time.Second
	same = append(same, c)
	for _, s := range same {
		if CassetteKey(s, req) != k {
			t.Errorf("key changed with %+v; base URL, key env, label, headers, streaming and timeouts must not matter", s)
		}
	}
	if CassetteKey(base, &Request{Prompt: "hi"}) != k {
		t.Error("a plain prompt and the same one-message chat should share a key")
	}
	diff := map[string]Config{}
	d := base
	d.Model = "gpt-4o-mini"
	diff["model"] = d
	d = base
	d.Type = "anthropic"
	diff["type"] = d
	d = base
	d.Params.Seed = ptr(1)
	diff["seed"] = d
	for name, cfg := range diff {
		if CassetteKey(cfg, req) == k {
			t.Errorf("key did not change with the %s", name)
		}
	}
	if CassetteKey(base, &Request{Prompt: "hi", Repeat: 1}) == k {
		t.Error("key did not change with the repeat index")
	}
}
