package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// traceA is A's hostile fixture trace: the one the trace page of the page table shows.
const traceA = "t_alpha"

// fixtureTraces records gateway calls: A's are full of hostile text (route, key, error,
// attempts, bodies: a client's input and a model's output), B's say "Beta".
func fixtureTraces(t *testing.T, f *fixture) {
	t.Helper()
	now := time.Now().UTC()
	ttft := 42.0
	batch := []store.Trace{{
		ID: traceA, ProjectID: f.a.ID, Key: "key " + hostile, Endpoint: "chat.completions", Route: "route " + hostile,
		Provider: "backup " + hostile, Model: "model " + hostile, Fallbacks: 1, Stream: true, Status: 200, Blocked: "",
		Attempts: []store.Attempt{{Provider: "primary " + hostile, Model: "m", Status: 503, Error: "upstream said " + hostile, LatencyMS: 5},
			{Provider: "backup " + hostile, Model: "m", Status: 200, LatencyMS: 80}},
		StartedAt: now.Add(-time.Minute), LatencyMS: 85, TTFTMS: &ttft, TokensIn: 12, TokensOut: 34, CostUSD: 0.0123,
		RequestBody:  `{"model":"support-bot","messages":[{"role":"user","content":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}]}`,
		ResponseBody: "data: " + hostile + "\n\ndata: [DONE]\n",
	}}
	for i := range 60 { // more than a page of the list
		batch = append(batch, store.Trace{ID: fmt.Sprintf("t_alpha_%02d", i), ProjectID: f.a.ID, Key: "team-a", Route: "support-bot",
			Status: []int{200, 200, 200, 500}[i%4], ErrorCode: map[bool]string{true: "upstream_error"}[i%4 == 3],
			StartedAt: now.Add(-time.Duration(i+2) * time.Minute), LatencyMS: float64(100 + i)})
	}
	batch = append(batch, store.Trace{ID: "t_beta", ProjectID: f.b.ID, Key: "Beta key", Route: "Beta route", Status: 200,
		StartedAt: now, LatencyMS: 1, RequestBody: "Beta body"})
	if err := f.st.SaveTraces(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// withSLAs is f served by a UI that knows the routes' SLAs.
func (f *fixture) withSLAs(slas map[string]float64) *fixture {
	srv := server.New(server.Config{Store: f.st, Password: cheapHash, LoginBurst: 100})
	ui, err := New(Config{Server: srv, Store: f.st, RouteSLAs: slas})
	if err != nil {
		f.t.Fatal(err)
	}
	ts := httptest.NewServer(ui.Handler())
	f.t.Cleanup(ts.Close)
	g := *f
	g.url = ts.URL
	return &g
}

func TestTracePages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		vera := f.as(f.vera) // a viewer reads them
		escaped := "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"

		// The list: newest first, a page of 50, the hostile row escaped, filters in the URL.
		res := vera.get("/p/alpha/traces")
		checkSafe(t, "traces", res)
		if res.status != 200 || !strings.Contains(res.body, escaped) || strings.Count(res.body, `href="/p/alpha/traces/t_alpha`) != 50 {
			t.Errorf("traces: %d, %d rows, want 50 with the hostile one escaped", res.status, strings.Count(res.body, `href="/p/alpha/traces/t_alpha`))
		}
		if strings.Contains(res.body, "t_beta") || strings.Contains(res.body, "Beta") {
			t.Errorf("A's trace list shows B's trace")
		}
		next := nextLink(res.body)
		if !strings.Contains(res.body, `hx-target="#traces"`) || next == "" {
			t.Fatalf("traces: no htmx pager to older traces")
		}
		// The next page, as htmx asks for it: the list alone, the other 11.
		req, _ := http.NewRequest("GET", f.url+"/p/alpha/traces"+next, nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "traces")
		page2 := vera.do(req)
		if page2.status != 200 || strings.Contains(page2.body, "<html") || strings.Count(page2.body, `href="/p/alpha/traces/t_alpha_`) != 11 {
			t.Errorf("page 2 (htmx): %d, %d rows, html page: %v; want the 11 older rows alone", page2.status,
				strings.Count(page2.body, `href="/p/alpha/traces/t_alpha_`), strings.Contains(page2.body, "<html"))
		}
		res = vera.get("/p/alpha/traces?status=error&route=support-bot")
		if n := strings.Count(res.body, `href="/p/alpha/traces/t_alpha_`); n != 15 || strings.Contains(res.body, `badge pass`) {
			t.Errorf("traces?status=error: %d rows, want the 15 failed ones", n)
		}
		if !strings.Contains(res.body, `<option value="error" selected>`) || !strings.Contains(res.body, `value="support-bot"`) {
			t.Errorf("the filter form does not keep the URL's filters")
		}
		for _, bad := range []string{"?status=" + url.QueryEscape(hostile), "?since=" + url.QueryEscape(hostile), "?cursor=" + url.QueryEscape(hostile)} {
			res := vera.get("/p/alpha/traces" + bad)
			if res.status != 400 {
				t.Errorf("traces%s: %d, want 400", bad, res.status)
			}
			checkSafe(t, "traces"+bad, res)
		}

		// The detail: attempts, timings, both bodies escaped (the JSON one indented).
		res = vera.get("/p/alpha/traces/" + traceA)
		checkSafe(t, "trace", res)
		for _, want := range []string{escaped, "upstream said " + escaped, "first token after", `<pre class="body" id="request-body">{
  &#34;model&#34;: &#34;support-bot&#34;,`, `<pre class="body" id="response-body">data: ` + escaped} {
			if !strings.Contains(res.body, want) {
				t.Errorf("trace page lacks %q", want)
			}
		}
		if strings.Count(res.body, "<tr class=") != 2 {
			t.Errorf("trace page: want 2 attempt rows")
		}
		for _, path := range []string{"/p/alpha/traces/t_beta", "/p/alpha/traces/" + url.PathEscape(hostile)} {
			if res := vera.get(path); res.status != 404 || strings.Contains(res.body, "Beta body") {
				t.Errorf("GET %s: %d, want 404", path, res.status)
			} else {
				checkSafe(t, path, res)
			}
		}
		if res := f.as(f.bob).get("/p/beta/traces/t_beta"); res.status != 200 || !strings.Contains(res.body, "Beta body") {
			t.Errorf("B's own trace: %d", res.status)
		}

		// Traffic, without and with SLAs.
		res = vera.get("/p/alpha/traffic")
		checkSafe(t, "traffic", res)
		for _, want := range []string{"route " + escaped, "key " + escaped, "Cost per day (USD)", "<svg", "none set", "61 requests"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("traffic page lacks %q", want)
			}
		}
		if strings.Contains(res.body, "Beta") {
			t.Errorf("A's traffic shows B's")
		}
		// support-bot: 60 calls of 100..159 ms: p95 is 156 ms.
		slas := f.withSLAs(map[string]float64{"support-bot": 150, "route " + hostile: 1000}).as(f.vera).get("/p/alpha/traffic")
		if !strings.Contains(slas.body, "over 150") || !strings.Contains(slas.body, "within 1") {
			t.Errorf("traffic with SLAs: want support-bot over 150 ms and the other route within 1 s:\n%s", slas.body)
		}
		for _, bad := range []string{"0", "400", hostile} {
			res := vera.get("/p/alpha/traffic?days=" + url.QueryEscape(bad))
			if res.status != 400 {
				t.Errorf("traffic?days=%s: %d, want 400", bad, res.status)
			}
			checkSafe(t, "traffic bad days", res)
		}
		if res := vera.get("/p/alpha/traffic?days=1"); res.status != 200 {
			t.Errorf("traffic?days=1: %d", res.status)
		}
	})
}

// nextLink is the href of a page's rel="next" link, unescaped.
var nextLinkRE = regexp.MustCompile(`<a href="([^"]*)"[^>]*rel="next"`)

func nextLink(body string) string {
	m := nextLinkRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestRefusedCallsAreNamed: a call refused before it had a key or a route (a wrong key) is
// recorded with neither; the pages say so instead of showing an empty, link-less cell.
func TestRefusedCallsAreNamed(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		refused := store.Trace{ID: "t_refused", ProjectID: f.a.ID, Endpoint: "chat.completions", Status: 401,
			ErrorCode: "invalid_api_key", StartedAt: time.Now().UTC(), LatencyMS: 0.1}
		if err := f.st.SaveTraces(context.Background(), []store.Trace{refused}); err != nil {
			t.Fatal(err)
		}
		vera := f.as(f.vera)
		for _, c := range []struct{ path, want string }{
			{"/p/alpha/traffic", "no route (refused before routing)"},
			{"/p/alpha/traffic", "no key (refused at authentication)"},
			{"/p/alpha/traces/t_refused", "none (refused before routing)"},
			{"/p/alpha/traces/t_refused", "none (refused at authentication)"},
		} {
			res := vera.get(c.path)
			if res.status != 200 || !strings.Contains(res.body, c.want) {
				t.Errorf("%s: %d, lacks %q", c.path, res.status, c.want)
			}
			if strings.Contains(res.body, `?route="`) || strings.Contains(res.body, `?key="`) {
				t.Errorf("%s links to an empty filter", c.path)
			}
		}
	})
}
