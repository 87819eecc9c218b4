package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// shadowRouteA is A's shadowed route: its name is hostile markup. Its pairs started
// shadowAge ago, before the traffic page's default 7 days, so that they change nothing
// the traffic and trace tests count.
const (
	shadowRouteA = "bot " + hostile
	shadowAge    = 8 * 24 * time.Hour
	shadowSince  = "240h" // covers them
)

// chatAnswer is a recorded chat completion body answering s.
func chatAnswer(s string) string {
	b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": s}}}})
	return string(b)
}

// fixtureShadow records A's shadow pairs of shadowRouteA, and one pair of B:
//
//	pairs 0-7:  both answer "Refund issued." (the shadow in other case and spacing): agree
//	pairs 8-9:  the shadow answers "No.": they disagree, and only live mentions a refund
//	pair 10:    live's body was not recorded (missing)
//	pair 11:    live's body was cut (truncated)
//	pair 12:    the shadow failed (500)
//
// Live takes 100+i ms and $0.001 a call; the shadow 200+2i ms and $0.002 (its failure $0).
func fixtureShadow(t *testing.T, f *fixture) {
	t.Helper()
	t0 := time.Now().UTC().Add(-shadowAge)
	var batch []store.Trace
	for i := range 13 {
		live := store.Trace{ID: fmt.Sprintf("sh_live_%02d", i), ProjectID: f.a.ID, Key: "team-a", Endpoint: "chat.completions",
			Route: shadowRouteA, Provider: "primary", Status: 200, StartedAt: t0.Add(time.Duration(i) * time.Minute),
			LatencyMS: float64(100 + i), CostUSD: 0.001, RequestBody: `{"messages":[{"role":"user","content":"my order"}]}`,
			ResponseBody: chatAnswer("Refund issued. " + hostile)}
		sh := store.Trace{ID: fmt.Sprintf("sh_shadow_%02d", i), ProjectID: f.a.ID, Key: "team-a", Endpoint: "chat.completions",
			Route: shadowRouteA, Provider: "candidate", ShadowOf: live.ID, Status: 200, StartedAt: live.StartedAt.Add(time.Millisecond),
			LatencyMS: float64(200 + 2*i), CostUSD: 0.002, ResponseBody: chatAnswer("  refund   ISSUED. " + hostile)}
		switch i {
		case 8, 9:
			live.ResponseBody, sh.ResponseBody = chatAnswer("Refund issued."), chatAnswer("No. "+hostile)
		case 10:
			live.ResponseBody = ""
		case 11:
			live.ResponseBody = `{"choices":[{"message":{"content":"Refund ` + hostile + `…[truncated: 9000 bytes]`
		case 12:
			sh.Status, sh.ErrorCode, sh.CostUSD, sh.ResponseBody = 500, "upstream_error", 0, `{"error":{"message":"`+strings.ReplaceAll(hostile, `"`, `\"`)+`"}}`
		}
		batch = append(batch, live, sh)
	}
	batch = append(batch,
		store.Trace{ID: "sh_beta_live", ProjectID: f.b.ID, Key: "Beta key", Route: "Beta shadow route", Status: 200,
			StartedAt: t0, LatencyMS: 1, ResponseBody: chatAnswer("Beta answer")},
		store.Trace{ID: "sh_beta_shadow", ProjectID: f.b.ID, Key: "Beta key", Route: "Beta shadow route", ShadowOf: "sh_beta_live",
			Status: 200, StartedAt: t0, LatencyMS: 2, ResponseBody: chatAnswer("Beta answer")})
	if err := f.st.SaveTraces(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// shadowGateway is a gateway config whose route support-bot has two shadow assertions, one
// of them hostile markup.
var shadowGateway = `
providers:
  - {name: primary, type: openai, base_url: "http://127.0.0.1:9/v1"}
  - {name: cand, type: openai, base_url: "http://127.0.0.1:9/v1"}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
    shadow:
      provider: cand
      model: cand-1
      assert:
        - type: icontains
          value: refund
        - type: not-icontains
          value: '` + strings.ReplaceAll(hostile, `'`, `''`) + `'
keys:
  - {name: a, key_env: K}
`

// withShadowChecks is f served by a UI whose server runs support-bot's shadow assertions
// for shadowRouteA, and none for any other route, as plumb serve --gateway does.
func (f *fixture) withShadowChecks() *fixture {
	cfg, err := gateway.Parse([]byte(shadowGateway), "gateway.yaml", func(string) string { return "k" })
	if err != nil {
		f.t.Fatal(err)
	}
	checks := cfg.Route("support-bot").Shadow.Checks()
	srv := server.New(server.Config{Store: f.st, Password: cheapHash, LoginBurst: 100, ShadowChecks: func(route string) []gateway.ShadowCheck {
		if route == shadowRouteA {
			return checks
		}
		return nil
	}})
	ui, err := New(Config{Server: srv, Store: f.st})
	if err != nil {
		f.t.Fatal(err)
	}
	ts := httptest.NewServer(ui.Handler())
	f.t.Cleanup(ts.Close)
	g := *f
	g.url = ts.URL
	return &g
}

// shadowURL is A's shadow page of route since shadowSince.
func shadowURL(route string) string {
	return "/p/alpha/shadow?" + url.Values{"route": {route}, "since": {shadowSince}}.Encode()
}

func TestShadowPage(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		escaped := "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
		vera := f.withShadowChecks().as(f.vera) // a viewer reads it

		res := vera.get(shadowURL(shadowRouteA))
		checkSafe(t, "shadow", res)
		if res.status != 200 {
			t.Fatalf("shadow: %d\n%s", res.status, res.body)
		}
		body := res.body
		// The verdict comes first, red: the shadow failed a call live did not.
		verdict := strings.Index(body, `<span class="verdict fail">not ready: the shadow failed 1 of 13 calls, live 0</span>`)
		sides := strings.Index(body, `id="shadow-sides"`)
		if verdict < 0 || sides < 0 || verdict > sides {
			t.Errorf("shadow: the verdict is missing or not before the numbers")
		}
		for _, want := range []string{
			// The picker lists the route (escaped) with its 13 shadow calls, selected.
			`<option value="bot ` + escaped, `selected>bot ` + escaped, "(13 shadow calls)",
			"13 pairs", "10 evaluated",
			// Agreement 8 of 10: Wilson 95% [49.0%, 94.3%].
			"<strong>80.0% [49.0%, 94.3%] (8/10)</strong>",
			// Errors: live 0/13, the shadow 1/13 (Wilson [1.4%, 33.3%]).
			"<th>error rate</th><td>0.0% [0.0%, 22.8%] (0/13)</td><td>7.7% [1.4%, 33.3%] (1/13)</td><td><span class=\"badge fail\">&#43;7.7 pp</span>",
			// Latency: live 100..112 ms, the shadow 200..224 ms: p50 106 and 212.
			"<th>latency p50</th><td>106 ms</td><td>212 ms</td><td><span class=\"badge fail\">&#43;106 ms</span>",
			// Cost per call: live $0.001; the shadow 12 × $0.002 / 13.
			"<th>cost per call</th><td>$0.001</td><td>$0.00185</td><td><span class=\"badge fail\">&#43;$0.000846</span>",
			// icontains refund: live 10/10, the shadow 8/10; live-only 2, McNemar p 0.5.
			"<td><code>icontains &#34;refund&#34;</code></td><td>100.0% [72.2%, 100.0%] (10/10)</td><td>80.0% [49.0%, 94.3%] (8/10)</td><td class=\"num\">0</td><td class=\"num\">2</td><td class=\"num\">0.5</td>",
			// The hostile assertion's name, escaped.
			"<code>not-icontains &#34;" + escaped,
			// Notes: the missing and the truncated body.
			"1 pairs have no recorded answer", "1 pairs have an answer cut by bodies.max_bytes",
			// The shadow calls in the trace list.
			`href="/p/alpha/traces?route=bot&#43;%3Cscript%3E`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("shadow page lacks %q", want)
			}
		}
		if strings.Contains(body, "Beta") {
			t.Errorf("A's shadow page shows B's route")
		}

		// A route without assertions says so; one without shadow calls in the period says
		// that, with its (hostile) name escaped in the verdict and kept in the picker.
		res = vera.get(shadowURL("route " + hostile))
		checkSafe(t, "shadow of a route without calls", res)
		for _, want := range []string{`<span class="verdict none">not enough data: no shadow calls of route ` + escaped,
			"the gateway config gives this route&#39;s shadow none", `selected>route ` + escaped} {
			if res.status != 200 || !strings.Contains(res.body, want) {
				t.Errorf("shadow of a route without calls: %d, lacks %q", res.status, want)
			}
		}

		// No route: the picker, and a word on what to do; no shadow calls: how to get some.
		if res := vera.get("/p/alpha/shadow?since=" + shadowSince); res.status != 200 || !strings.Contains(res.body, "Pick a route") ||
			strings.Contains(res.body, `class="verdict`) || !strings.Contains(res.body, "(13 shadow calls)") {
			t.Errorf("shadow without a route: %d", res.status)
		}
		if res := vera.get("/p/alpha/shadow"); res.status != 200 || !strings.Contains(res.body, "No shadow calls since") {
			t.Errorf("shadow in the last 24h (none): %d, want the notice", res.status)
		}
		for _, bad := range []string{"soon", hostile, "-5h"} {
			res := vera.get("/p/alpha/shadow?route=x&since=" + url.QueryEscape(bad))
			if res.status != 400 || !strings.Contains(res.body, "use a duration") {
				t.Errorf("shadow?since=%s: %d, want 400 naming the forms since takes", bad, res.status)
			}
			checkSafe(t, "shadow bad since", res)
		}

		// A server without the gateway config reports without assertions, and says so.
		res = f.as(f.vera).get(shadowURL(shadowRouteA))
		if !strings.Contains(res.body, "no assertions: this server was not given the gateway config") || strings.Contains(res.body, `id="shadow-assertions"`) {
			t.Errorf("shadow without the gateway config: want the note and no assertion table")
		}

		// The traffic page links the route to its shadow page over the same period.
		res = vera.get("/p/alpha/traffic?days=30")
		since := server.TrafficSince(time.Now(), 30).Format(time.DateOnly)
		link := `href="/p/alpha/shadow?route=bot%20%3cscript%3ealert%281%29%3c%2fscript%3e`
		if !strings.Contains(strings.ToLower(res.body), strings.ToLower(link)) || !strings.Contains(res.body, "&amp;since="+since+`">shadow (13)</a>`) {
			t.Errorf("traffic?days=30 does not link %q to its shadow page since %s", shadowRouteA, since)
		}
		if strings.Count(res.body, "/shadow?route=") != 1 {
			t.Errorf("traffic: want a shadow link on the shadowed route's row alone")
		}

		// B's member: 404 for A's shadow page, and B's own route only on B's.
		bob := f.as(f.bob)
		if res := bob.get(shadowURL(shadowRouteA)); res.status != 404 || strings.Contains(res.body, "bot ") {
			t.Errorf("B on A's shadow page: %d, want 404", res.status)
		}
		res = bob.get("/p/beta/shadow?since=" + shadowSince)
		if res.status != 200 || !strings.Contains(res.body, "Beta shadow route") || strings.Contains(res.body, "bot &lt;") {
			t.Errorf("B's shadow page: %d; want B's route alone", res.status)
		}
		if res := bob.get("/p/beta/shadow?since=" + shadowSince + "&route=" + url.QueryEscape(shadowRouteA)); !strings.Contains(res.body, "not enough data") {
			t.Errorf("A's route through B's page: want no data")
		}
	})
}
