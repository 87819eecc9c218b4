package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// memApprovals is an ApprovalStore in memory.
type memApprovals struct {
	mu       sync.Mutex
	held     []store.NewApproval
	fail     bool
	conflict bool // the call id is held already with other arguments
}

func (m *memApprovals) CreateApproval(_ context.Context, projectID string, a store.NewApproval) (store.Approval, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return store.Approval{}, errors.New("database down")
	}
	if m.conflict {
		return store.Approval{}, fmt.Errorf("call_id %q is approval #1, held with other arguments (sha256 a, not b): give each tool call its own id: %w", a.CallID, store.ErrConflict)
	}
	m.held = append(m.held, a)
	return store.Approval{ID: int64(len(m.held)), Tool: a.Tool, CallID: a.CallID, Args: a.Args, ArgsHash: a.ArgsHash,
		Rule: a.Rule, RuleReason: a.RuleReason, Status: store.ApprovalPending, ExpiresAt: a.ExpiresAt}, nil
}

const toolsConfig = `
providers:
  - {name: fake, type: openai, base_url: FAKE_URL}
routes:
  - name: agent
    targets: [{provider: fake, model: m}]
    tools:
      allow: [search_orders]
      deny: [delete_account]
      approve:
        - tool: make_payment
          name: payments
          above: {amount: 100}
          max: {amount: 500}
keys:
  - {name: app, key_env: TEAM_A_KEY}
`

func toolsGateway(t *testing.T, m *memApprovals) *httptest.Server {
	t.Helper()
	return toolsGatewayRec(t, m, nil)
}

// toolsGatewayRec is toolsGateway recording its calls in rec.
func toolsGatewayRec(t *testing.T, m *memApprovals, rec Recorder) *httptest.Server {
	t.Helper()
	return toolsGatewayType(t, m, rec, "openai")
}

// toolsGatewayType is toolsGatewayRec with an upstream of type typ (openai or anthropic).
func toolsGatewayType(t *testing.T, m *memApprovals, rec Recorder, typ string) *httptest.Server {
	t.Helper()
	fake, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
		{Match: "small", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 20, "to": "acme"}`}}},
		{Match: "big", Reply: "Paying now.", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"to": "acme", "amount": 250}`}}},
		{Match: "both", ToolCalls: []fakellm.ToolCall{{Name: "search_orders", Arguments: `{"q": "x"}`}, {Name: "make_payment", Arguments: `{"amount": 250, "to": "acme"}`}}},
		{Match: "huge", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 9000, "to": "acme"}`}}},
		{Match: "delete", ToolCalls: []fakellm.ToolCall{{Name: "delete_account", Arguments: `{"id": 1}`}}},
		{Match: "broken", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 250,`}}},
		{Match: "script", ToolCalls: []fakellm.ToolCall{{Name: "<script>alert(1)</script>", Arguments: `{}`}}},
		{Match: "twice", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 5000, "to": "acme", "amount": 50}`}}},
		{Match: "silent", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"amount": 300, "to": "acme"}`}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	return toolsGatewayAt(t, m, rec, typ, fake.URL)
}

// toolsGatewayAt is the tools gateway in front of the upstream at url, of type typ.
func toolsGatewayAt(t *testing.T, m *memApprovals, rec Recorder, typ, url string) *httptest.Server {
	t.Helper()
	return toolsGatewayYAML(t, m, rec, typ, url, toolsConfig)
}

// toolsGatewayYAML is toolsGatewayAt with the config yaml (toolsConfig, changed).
func toolsGatewayYAML(t *testing.T, m *memApprovals, rec Recorder, typ, url, yaml string) *httptest.Server {
	t.Helper()
	yaml = strings.Replace(yaml, "FAKE_URL", url, 1)
	yaml = strings.Replace(yaml, "type: openai", "type: "+typ, 1)
	cfg, err := Parse([]byte(yaml), "gateway.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Options{Approvals: m, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

// postMessagesTo posts an Anthropic Messages request to srv with the app's key; a status
// other than 200 fails the test.
func postMessagesTo(t *testing.T, srv *httptest.Server, body string) (http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("X-Api-Key", teamAKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
	}
	return resp.Header, string(b)
}

func postTools(t *testing.T, srv *httptest.Server, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+teamAKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func askTools(text string, stream bool) string {
	s := ""
	if stream {
		s = `,"stream":true`
	}
	return `{"model":"agent","user":"customer-7","messages":[{"role":"user","content":"` + text + `"}]` + s + `}`
}

func TestToolPolicyPlain(t *testing.T) {
	m := &memApprovals{}
	srv := toolsGateway(t, m)

	// Allowed: a payment under the approval threshold passes untouched.
	st, h, body := postTools(t, srv, askTools("small", false))
	if st != 200 || !strings.Contains(body, `"make_payment"`) || h.Get(HeaderApprovals) != "" || len(m.held) != 0 {
		t.Fatalf("small payment: %d %s %v", st, body, m.held)
	}

	// Held: the call leaves the answer; plumb_approvals and the header say where it went.
	st, h, body = postTools(t, srv, askTools("big", false))
	var resp struct {
		Choices []struct {
			Message struct {
				Content   string            `json:"content"`
				ToolCalls []json.RawMessage `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Approvals []HeldCall `json:"plumb_approvals"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || st != 200 {
		t.Fatalf("big payment: %d %s", st, body)
	}
	_, canon, hash, _ := toolpolicy.Canonical(`{"amount":250,"to":"acme"}`)
	ch := resp.Choices[0]
	if len(ch.Message.ToolCalls) != 0 || ch.FinishReason != "stop" || ch.Message.Content != "Paying now." || h.Get(HeaderApprovals) != "1" {
		t.Errorf("held answer: %s (header %q)", body, h.Get(HeaderApprovals))
	}
	if len(resp.Approvals) != 1 || resp.Approvals[0].ArgsHash != hash || resp.Approvals[0].Arguments != canon ||
		resp.Approvals[0].DecisionURL != "/api/v1/projects/p_default/approvals/1/decision" || resp.Approvals[0].Rule != "payments" {
		t.Errorf("plumb_approvals: %+v", resp.Approvals)
	}
	if len(m.held) != 1 || m.held[0].Requester != "gateway key app" || m.held[0].OnBehalfOf != "customer-7" || m.held[0].Route != "agent" || m.held[0].TraceID == "" {
		t.Errorf("stored: %+v", m.held)
	}

	// Mixed: the allowed call stays, the held one goes.
	_, _, body = postTools(t, srv, askTools("both", false))
	if !strings.Contains(body, `"search_orders"`) || strings.Contains(body, `"name":"make_payment"`) || !strings.Contains(body, `"finish_reason":"tool_calls"`) || len(m.held) != 2 {
		t.Errorf("mixed: %s", body)
	}

	// Blocked: denied tool, over the limit, malformed arguments (fail closed), unknown tool.
	for text, want := range map[string]string{
		"delete": `never allowed`,
		"huge":   `amount is 9000, above the limit of 500`,
		"broken": `malformed`,
		"script": `not on this route's allow list`,
		// A runner keeping the first amount would pay 5000 without approval.
		"twice": `malformed (the key "amount" appears twice (at amount)`,
	} {
		st, _, body := postTools(t, srv, askTools(text, false))
		_, code, msg := apiErr(t, body)
		if st != 403 || code != "tool_call_blocked" || !strings.Contains(msg, want) || strings.Contains(body, "5000") {
			t.Errorf("%s: %d %s", text, st, body)
		}
	}
	if len(m.held) != 2 {
		t.Errorf("a blocked answer stored approvals: %d", len(m.held))
	}

	// A request offering a denied tool is refused before any upstream call.
	st, _, body = postTools(t, srv, `{"model":"agent","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"delete_account"}}]}`)
	if _, code, _ := apiErr(t, body); st != 400 || code != "tool_not_allowed" {
		t.Errorf("offered denied tool: %d %s", st, body)
	}

	// The model reused a call id the project holds with other arguments: the call is not
	// passed on, and the answer says why.
	m.conflict = true
	st, _, body = postTools(t, srv, askTools("big", false))
	if _, code, msg := apiErr(t, body); st != 502 || code != "tool_call_blocked" || !strings.Contains(msg, "its id is approval #1, held with other arguments") || strings.Contains(body, `"name":"make_payment"`) {
		t.Errorf("reused call id: %d %s", st, body)
	}
	m.conflict = false

	// The store is down: the call is not passed on.
	m.fail = true
	st, _, body = postTools(t, srv, askTools("big", false))
	if _, code, _ := apiErr(t, body); st != 503 || code != "approvals_unavailable" || strings.Contains(body, "make_payment") {
		t.Errorf("store down: %d %s", st, body)
	}
}

// streamEvents is a stream's data payloads.
func streamEvents(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(ev), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestToolPolicyStream(t *testing.T) {
	m := &memApprovals{}
	srv := toolsGateway(t, m)

	// Allowed calls arrive whole, in one chunk.
	_, _, body := postTools(t, srv, askTools("small", true))
	if !strings.Contains(body, `"arguments":"{\"amount\": 20, \"to\": \"acme\"}"`) || !strings.HasSuffix(strings.TrimSpace(body), "[DONE]") {
		t.Errorf("allowed stream: %s", body)
	}

	// Held: no delta of the call reaches the client; a chunk lists the approval.
	_, _, body = postTools(t, srv, askTools("big", true))
	if strings.Contains(body, `"tool_calls"`) || strings.Contains(body, `"name":"make_payment"`) || !strings.Contains(body, `"plumb_approvals"`) ||
		!strings.Contains(body, `"finish_reason":"stop"`) || !strings.HasSuffix(strings.TrimSpace(body), "[DONE]") || len(m.held) != 1 {
		t.Errorf("held stream: %s", body)
	}
	var content strings.Builder
	for _, ev := range streamEvents(body) {
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(ev), &c) == nil && len(c.Choices) > 0 {
			content.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if content.String() != "Paying now." {
		t.Errorf("the stream's content: %q", content.String())
	}

	// Mixed: the allowed call is sent, the held one is not.
	_, _, body = postTools(t, srv, askTools("both", true))
	if !strings.Contains(body, `"search_orders"`) || strings.Contains(body, `"name":"make_payment"`) || !strings.Contains(body, `"finish_reason":"tool_calls"`) || len(m.held) != 2 {
		t.Errorf("mixed stream: %s", body)
	}

	// Blocked: an error event ends the stream, and no part of the call got out.
	for text, want := range map[string]string{"delete": "never allowed", "broken": "malformed", "twice": `malformed (the key \"amount\" appears twice`} {
		_, _, body := postTools(t, srv, askTools(text, true))
		evs := streamEvents(body)
		if len(evs) == 0 || !strings.Contains(evs[len(evs)-1], `"code":"tool_call_blocked"`) || !strings.Contains(body, want) ||
			strings.Contains(body, `"tool_calls"`) || strings.Contains(body, "[DONE]") || strings.Contains(body, "5000") {
			t.Errorf("%s stream: %s", text, body)
		}
	}
}

func TestToolPolicyConfig(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"      deny: [x]\n      allow: [x]\n", "tool \"x\" is both allowed and denied"},
		{"      approve:\n        - tool: pay\n          ttl: later\n", "gateway.yaml:9:11: ttl \"later\" is not a positive duration"},
		{"      alow: [x]\n", "alow"},
	} {
		cfg := "providers:\n  - {name: fake, type: openai, base_url: http://127.0.0.1:1/v1}\nroutes:\n  - name: agent\n    targets: [{provider: fake, model: m}]\n    tools:\n" +
			tc.yaml + "keys:\n  - {name: app, key_env: TEAM_A_KEY}\n"
		_, err := Parse([]byte(cfg), "gateway.yaml", testEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v", tc.yaml, err)
		}
	}
	cfg := strings.Replace(toolsConfig, "FAKE_URL", "http://127.0.0.1:1/v1", 1)
	c, err := Parse([]byte(cfg), "gateway.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "no approval store") {
		t.Errorf("approve rules without a store: %v", err)
	}
	withCache := strings.Replace(cfg, "    tools:\n", "    cache: {ttl_s: 60}\n    tools:\n", 1)
	if _, err := Parse([]byte(withCache), "gateway.yaml", testEnv); err == nil || !strings.Contains(err.Error(), "cannot cache") {
		t.Errorf("cache with tools: %v", err)
	}
}

// TestToolPolicyAmbiguousAnswer: an answer the client's JSON parser could read otherwise
// than the gateway's (a function name written twice: the policy would judge the last, a
// client keeping the first would run delete_account) is blocked, not passed on.
func TestToolPolicyAmbiguousAnswer(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"tool_calls",`+
			`"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",`+
			`"function":{"name":"delete_account","name":"search_orders","arguments":"{\"q\":\"x\"}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer upstream.Close()
	srv := toolsGatewayAt(t, &memApprovals{}, nil, "openai", upstream.URL)
	st, _, body := postTools(t, srv, askTools("hi", false))
	_, code, msg := apiErr(t, body)
	if st != 502 || code != "tool_call_blocked" || !strings.Contains(msg, `the key "name" appears twice (at choices[0].message.tool_calls[0].function.name)`) || strings.Contains(body, "delete_account") {
		t.Errorf("ambiguous answer: %d %s", st, body)
	}
}
