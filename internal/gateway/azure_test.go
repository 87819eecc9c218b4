package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAzureUpstream: an Azure OpenAI deployment as the upstream. The base URL's
// api-version query is kept on every endpoint, and the key goes in the api-key header
// (auth: api-key, the default for Azure hosts), never as a Bearer token.
func TestAzureUpstream(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			_, _ = w.Write([]byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	defer up.Close()
	cfg := strings.Replace(noLimits(twoTargets), "    base_url: PRIMARY_URL\n",
		"    base_url: "+up.URL+"/openai/deployments/gpt-4o?api-version=2024-10-21\n    auth: api-key\n", 1)
	h := newHarness(t, cfg)
	if st, _, body := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hello")); st != 200 {
		t.Fatalf("chat: %d %s", st, body)
	}
	if st, _, body := h.call("/v1/embeddings", teamAKey, `{"model":"support-bot","input":"x"}`); st != 200 {
		t.Fatalf("embeddings: %d %s", st, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("upstream got %d calls, want 2", len(got))
	}
	for i, want := range []string{"/openai/deployments/gpt-4o/chat/completions", "/openai/deployments/gpt-4o/embeddings"} {
		r := got[i]
		if r.URL.Path != want || r.URL.Query().Get("api-version") != "2024-10-21" {
			t.Errorf("call %d went to %s?%s, want %s?api-version=2024-10-21", i, r.URL.Path, r.URL.RawQuery, want)
		}
		if r.Header.Get("Api-Key") != primaryKey || r.Header.Get("Authorization") != "" {
			t.Errorf("call %d: api-key %q, authorization %q: want the key in api-key only", i, r.Header.Get("Api-Key"), r.Header.Get("Authorization"))
		}
	}
}

// TestAzureEndpoints: Azure hosts get api-key auth and an api-version by default, except
// on Azure's v1 API; other hosts keep Bearer and their URL as written.
func TestAzureEndpoints(t *testing.T) {
	for _, tc := range []struct {
		base, auth, chat string
	}{
		{"https://res.openai.azure.com/openai/deployments/gpt-4o", "api-key", "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"},
		{"https://res.openai.azure.com/openai/deployments/gpt-4o?api-version=2025-01-01-preview", "api-key", "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2025-01-01-preview"},
		{"https://res.openai.azure.com/openai/v1", "api-key", "https://res.openai.azure.com/openai/v1/chat/completions"},
		{"https://api.openai.com/v1", "bearer", "https://api.openai.com/v1/chat/completions"},
		{"http://127.0.0.1:11434/v1/", "bearer", "http://127.0.0.1:11434/v1/chat/completions"},
	} {
		cfg := strings.Replace(twoTargets, "base_url: PRIMARY_URL", "base_url: "+tc.base, 1)
		c, err := Parse([]byte(strings.Replace(cfg, "BACKUP_URL", "http://127.0.0.1:9/v1", 1)), "gateway.yaml", testEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.base, err)
		}
		p := c.Providers[0]
		if p.Auth != tc.auth || p.chatURL != tc.chat {
			t.Errorf("%s: auth %q, chat %q; want %q, %q", tc.base, p.Auth, p.chatURL, tc.auth, tc.chat)
		}
	}
	_, err := Parse([]byte(strings.Replace(twoTargets, "    base_url: PRIMARY_URL\n", "    base_url: http://x/v1\n    auth: apikey\n", 1)), "gateway.yaml", testEnv)
	if err == nil || !strings.Contains(err.Error(), `unknown auth "apikey"`) || !strings.Contains(err.Error(), `did you mean "api-key"?`) {
		t.Errorf("auth: apikey: %v", err)
	}
}
