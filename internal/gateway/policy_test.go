package gateway

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway/limit"
	"github.com/plumbhq/plumb/internal/store"
)

func TestRateLimits(t *testing.T) {
	cfg := strings.NewReplacer("rpm: 60", "rpm: 2", "tpm: 100000\n", "", "budget_usd_per_day: 5\n", "").Replace(twoTargets)
	h := newHarness(t, cfg)
	for i := 0; i < 2; i++ {
		if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, out)
		}
	}
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	typ, code, msg := apiErr(t, out)
	if status != 429 || hdr.Get("Retry-After") != "30" || typ != "rate_limit_exceeded" || code != "rate_limit_exceeded" || !strings.Contains(msg, "2 requests per minute") {
		t.Fatalf("status %d Retry-After %q: %s", status, hdr.Get("Retry-After"), out)
	}
	if h.primary.Count() != 2 {
		t.Fatalf("a refused call reached the upstream")
	}
	if m := h.scrape(); !strings.Contains(m, `plumb_gateway_rate_limited_total{key="team-a",reason="rpm"} 1`) {
		t.Fatalf("metrics:\n%s", grep(m, "rate_limited"))
	}
	if tr := h.record(3); tr.Status != 429 || tr.ErrorCode != "rate_limit_exceeded" || len(tr.Attempts) != 0 {
		t.Fatalf("trace = %+v", tr)
	}
}

func TestTokensAndCostSettle(t *testing.T) {
	cfg := strings.NewReplacer("keys:", "prices:\n  fake-1: {input: 1000000, output: 2000000}\nkeys:",
		"budget_usd_per_day: 5", "budget_usd_per_day: 1000000000").Replace(twoTargets)
	h := newHarness(t, cfg)
	// The estimate counts max_tokens; the settle uses the upstream's usage.
	body := `{"model":"support-bot","max_tokens":100,"messages":[{"role":"user","content":"one two three four"}]}`
	if status, _, out := h.call("/v1/chat/completions", teamAKey, body); status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	tr := h.record(1)
	// fakellm counts words: 4 in, "echo: one two three four" is 5 out.
	if tr.TokensIn != 4 || tr.TokensOut != 5 || math.Abs(tr.CostUSD-14) > 1e-9 {
		t.Fatalf("trace tokens %d/%d cost %v, want 4/5 and $4 + $10", tr.TokensIn, tr.TokensOut, tr.CostUSD)
	}
	h.lim.mu.Lock()
	settled, tokens, spend := h.lim.settled, h.lim.tokens["team-a"], h.lim.spend["team-a"]
	h.lim.mu.Unlock()
	if len(settled) != 1 || settled[0].Tokens != 9 || math.Abs(settled[0].CostUSD-14) > 1e-9 || tokens != 9 || math.Abs(spend-14) > 1e-9 {
		t.Fatalf("settled %+v; the limiter holds %d tokens, $%v", settled, tokens, spend)
	}
	m := h.scrape()
	for _, want := range []string{
		`plumb_gateway_tokens_total{direction="input",key="team-a",route="support-bot",target="primary/fake-1"} 4`,
		`plumb_gateway_tokens_total{direction="output",key="team-a",route="support-bot",target="primary/fake-1"} 5`,
		`plumb_gateway_cost_usd_total{key="team-a",route="support-bot",target="primary/fake-1"} 14`,
		`plumb_gateway_requests_total{key="team-a",route="support-bot",status="200",target="primary/fake-1"} 1`,
		`plumb_gateway_request_duration_seconds_count{key="team-a",route="support-bot",target="primary/fake-1"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A failed call settles with zero.
	h.primary.Enqueue(fakellm.Fault{Status: 400})
	h.call("/v1/chat/completions", teamAKey, body)
	h.backup.Enqueue(fakellm.Fault{Status: 503})
	h.primary.Enqueue(fakellm.Fault{Status: 503})
	h.call("/v1/chat/completions", teamAKey, body)
	h.lim.mu.Lock()
	defer h.lim.mu.Unlock()
	if len(h.lim.settled) != 3 || h.lim.settled[2].Tokens != 0 || h.lim.tokens["team-a"] != 9 {
		t.Fatalf("settled %+v, tokens %d", h.lim.settled, h.lim.tokens["team-a"])
	}
}

func TestBudgetExhaustion(t *testing.T) {
	cfg := strings.NewReplacer("keys:", "prices:\n  fake-1: {input: 1000000, output: 1000000}\nkeys:",
		"budget_usd_per_day: 5", "budget_usd_per_day: 600").Replace(twoTargets)
	h := newHarness(t, cfg)
	// Each call is estimated at its body/4 + 512 tokens of output, about $530 at $1 a
	// token: the first fits, and settles at its real use ($3); the second's estimate does
	// not fit under what is left.
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","max_tokens":600,"messages":[{"role":"user","content":"hi"}]}`)
	typ, code, _ := apiErr(t, out)
	if status != 429 || typ != "insufficient_quota" || code != "budget_exceeded" || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d: %s", status, out)
	}
}

func TestKeyRoutes(t *testing.T) {
	cfg := twoTargets + `  - name: team-b
    key_env: TEAM_B_KEY
    routes: [support-bot]
`
	cfg = strings.Replace(cfg, "keys:", `  - name: internal
    targets: [{provider: primary, model: fake-9}]
keys:`, 1)
	h := newHarness(t, cfg)
	if status, _, _ := h.call("/v1/chat/completions", teamBKey, chat("internal", "hi")); status != 404 {
		t.Fatalf("team-b reached a route it may not use: %d", status)
	}
	if status, _, _ := h.call("/v1/chat/completions", teamAKey, chat("internal", "hi")); status != 200 {
		t.Fatalf("team-a: %d", status)
	}
}

func TestGuardPipeline(t *testing.T) {
	cfg := strings.Replace(twoTargets, "keys:", `guards:
  - name: no-card-numbers
    action: block
    regex: '\b4[0-9]{15}\b'
    message: Card numbers may not be sent.
  - name: redact-emails
    on: both
    action: redact
    regex: '[a-z]+@example\.com'
    replace: <EMAIL>
keys:`, 1)
	h2 := newHarness(t, cfg)
	// Block: the upstream never sees it.
	status, _, out := h2.call("/v1/chat/completions", teamAKey, chat("support-bot", "my card is 4111111111111111"))
	_, code, msg := apiErr(t, out)
	if status != 400 || code != "content_blocked" || msg != "Card numbers may not be sent." || h2.primary.Count() != 0 {
		t.Fatalf("status %d: %s", status, out)
	}
	if tr := h2.record(1); tr.Blocked != "no-card-numbers" || tr.Status != 400 {
		t.Fatalf("trace = %+v", tr)
	}
	// Redact on input (string and text parts), and on the output.
	body := `{"model":"support-bot","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"write to bob@example.com"}]}]}`
	status, _, out = h2.call("/v1/chat/completions", teamAKey, body)
	if status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	up := string(h2.primary.Requests()[0].Body)
	if strings.Contains(up, "bob@example.com") || !strings.Contains(up, "write to <EMAIL>") || !strings.Contains(up, `"be brief"`) {
		t.Fatalf("upstream got %s", up)
	}
	// The fake echoes; make it answer with an address to check the output stage.
	rulesUp, _ := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Match: "", Reply: "mail alice@example.com"}}})
	defer rulesUp.Close()
	h4 := newHarness(t, strings.Replace(cfg, "base_url: PRIMARY_URL", "base_url: "+rulesUp.URL, 1))
	status, _, out = h4.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 200 || content(t, out) != "mail <EMAIL>" || !strings.Contains(out, `"usage"`) {
		t.Fatalf("%d %s", status, out)
	}
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t, twoTargets)
	get := func(p string) int {
		resp, err := http.Get(h.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 200 {
		t.Fatal("not healthy and ready")
	}
	h.gw.Drain()
	if get("/healthz") != 200 || get("/readyz") != 503 {
		t.Fatal("draining: /readyz should be 503 and /healthz 200")
	}
}

func TestTraceRecord(t *testing.T) {
	h := newHarness(t, twoTargets)
	h.primary.Enqueue(fakellm.Fault{Status: 503})
	body := `{"model":"support-bot","messages":[{"role":"user","content":"<script>alert(1)</script>"}]}`
	if status, _, out := h.call("/v1/chat/completions", teamAKey, body); status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	tr := h.record(1)
	if !strings.HasPrefix(tr.ID, "tr_") || tr.ProjectID != "p_default" || tr.Key != "team-a" || tr.Endpoint != "chat.completions" ||
		tr.Route != "support-bot" || tr.Provider != "backup" || tr.Model != "fake-1" || tr.Fallbacks != 1 || tr.Status != 200 ||
		tr.StartedAt.IsZero() || tr.LatencyMS <= 0 || tr.TokensIn != 1 || tr.TokensOut != 2 || tr.Stream || tr.Cached {
		t.Fatalf("trace = %+v", tr)
	}
	if len(tr.Attempts) != 2 || tr.Attempts[0].Status != 503 || tr.Attempts[1].Status != 200 || tr.Attempts[0].LatencyMS <= 0 {
		t.Fatalf("attempts = %+v", tr.Attempts)
	}
	if tr.RequestBody != body || !strings.Contains(tr.ResponseBody, "from backup") {
		t.Fatalf("bodies %q / %q", tr.RequestBody, tr.ResponseBody)
	}
	// Ids sort as the calls started.
	h.call("/v1/chat/completions", teamAKey, body)
	if tr2 := h.record(2); tr2.ID <= tr.ID {
		t.Fatalf("ids out of order: %s then %s", tr.ID, tr2.ID)
	}
	if m := h.scrape(); !strings.Contains(m, `plumb_gateway_fallbacks_total{key="team-a",route="support-bot",target="backup/fake-1"} 1`) {
		t.Fatalf("metrics:\n%s", grep(m, "fallbacks"))
	}
}

func TestResponseCache(t *testing.T) {
	cfg := strings.Replace(twoTargets, "timeout_ms: 10000", "timeout_ms: 10000\n    cache: {ttl_s: 60}", 1)
	cfg += `  - name: team-b
    key_env: TEAM_B_KEY
    project: p_other
`
	h := newHarness(t, cfg, harnessOpts{fakeClock: true})
	a := `{"model":"support-bot","messages":[{"role":"user","content":"hi"}],"temperature":0}`
	// The same request written with its keys in another order is the same request.
	a2 := `{"temperature":0,"messages":[{"content":"hi","role":"user"}],"model":"support-bot"}`
	_, hdr1, out1 := h.call("/v1/chat/completions", teamAKey, a)
	_, hdr2, out2 := h.call("/v1/chat/completions", teamAKey, a2)
	if h.primary.Count() != 1 || out1 != out2 || hdr1.Get("X-Plumb-Cache") != "" || hdr2.Get("X-Plumb-Cache") != "hit" {
		t.Fatalf("upstream calls %d; second answer %q (cache %q)", h.primary.Count(), out2, hdr2.Get("X-Plumb-Cache"))
	}
	if tr := h.record(2); !tr.Cached || tr.CostUSD != 0 || tr.TokensIn != 0 {
		t.Fatalf("cached trace = %+v", tr)
	}
	// Another project never gets it.
	h.call("/v1/chat/completions", teamBKey, a)
	if h.primary.Count() != 2 {
		t.Fatal("an answer crossed projects")
	}
	// A completed stream is replayed whole, as a stream; a cut one is not kept.
	stream := `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"hi"}],"temperature":0}`
	_, _, s1 := h.call("/v1/chat/completions", teamAKey, stream)
	_, hdr3, s2 := h.call("/v1/chat/completions", teamAKey, stream)
	if h.primary.Count() != 3 || s1 != s2 || hdr3.Get("X-Plumb-Cache") != "hit" || !strings.HasPrefix(hdr3.Get("Content-Type"), "text/event-stream") || !strings.HasSuffix(s2, "data: [DONE]\n\n") {
		t.Fatalf("streams: %d upstream calls, replay %q (%q)", h.primary.Count(), s2, hdr3.Get("Content-Type"))
	}
	cut := `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"a b c"}]}`
	h.primary.Enqueue(fakellm.Fault{CutStream: true})
	h.call("/v1/chat/completions", teamAKey, cut)
	h.call("/v1/chat/completions", teamAKey, cut)
	if h.primary.Count() != 5 {
		t.Fatalf("a cut stream was cached: %d upstream calls", h.primary.Count())
	}
	// After the TTL the answer is asked again.
	h.advance(61e9)
	h.call("/v1/chat/completions", teamAKey, a)
	if h.primary.Count() != 6 {
		t.Fatal("an expired answer was served")
	}
	if m := h.scrape(); !strings.Contains(m, `plumb_gateway_cache_hits_total{key="team-a",route="support-bot"} 2`) {
		t.Fatalf("metrics:\n%s", grep(m, "cache"))
	}
}

// keyStore is a store of project API keys, by hash.
type keyStore map[string]store.APIKey

func (k keyStore) GetAPIKeyByHash(_ context.Context, hash string) (store.APIKey, error) {
	if key, ok := k[hash]; ok {
		return key, nil
	}
	return store.APIKey{}, store.ErrNotFound
}

// TestProjectAPIKeys: a project API key is shown by its name (traces, rate-limit errors)
// and counted by its id: two keys of the same name have limits of their own.
func TestProjectAPIKeys(t *testing.T) {
	secret, _ := auth.NewAPIKey()
	twin, _ := auth.NewAPIKey()
	other, _ := auth.NewAPIKey()
	ks := keyStore{store.HashToken(secret): {ID: "k_1", Name: "ci", ProjectID: "p_shop"},
		store.HashToken(twin): {ID: "k_2", Name: "ci", ProjectID: "p_shop"}}
	h := newHarness(t, noLimits(twoTargets), harnessOpts{opt: func(o *Options) {
		o.Keys = ks
		o.ProjectKeyLimits = limit.Limits{RPM: 1}
	}})
	if status, _, out := h.call("/v1/chat/completions", secret, chat("support-bot", "hi")); status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	if tr := h.record(1); tr.Key != "ci" || tr.ProjectID != "p_shop" {
		t.Fatalf("trace = %+v", tr)
	}
	if status, _, out := h.call("/v1/chat/completions", secret, chat("support-bot", "hi")); status != 429 || !strings.Contains(out, "for key ci:") {
		t.Fatalf("the project keys' limit was not applied: %d %s", status, out)
	}
	if status, _, out := h.call("/v1/chat/completions", twin, chat("support-bot", "hi")); status != 200 {
		t.Fatalf("a second key of the same name shared the first one's limit: %d %s", status, out)
	}
	if status, _, _ := h.call("/v1/chat/completions", other, chat("support-bot", "hi")); status != 401 {
		t.Fatalf("an unknown project key got %d", status)
	}
}
