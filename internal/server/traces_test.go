package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// fixtureTraceID is the id of a project's first fixture trace.
func fixtureTraceID(slug string) string { return "t_" + slug + "_0" }

// fixtureTraces records gateway calls in each project: A has 5 (routes support-bot and
// search, keys team-a and team-b, one 503, one shadow), B one, with its project's name in
// its body.
func fixtureTraces(st store.Store, now time.Time, a, b store.Project) error {
	var batch []store.Trace
	for i, p := range []store.Project{a, b} {
		n := 5 - 4*i
		for j := range n {
			t := store.Trace{ID: fmt.Sprintf("t_%s_%d", p.Slug, j), ProjectID: p.ID, Key: []string{"team-a", "team-b"}[j%2],
				Endpoint: "chat.completions", Route: []string{"support-bot", "search"}[j/3], Provider: "primary", Model: "fake-1",
				Status: 200, StartedAt: now.Add(-time.Duration(j) * time.Hour), LatencyMS: float64(10 * (j + 1)),
				TokensIn: 100, TokensOut: 20, CostUSD: 0.01,
				RequestBody:  `{"messages":[{"role":"user","content":"hello from ` + p.Slug + `"}]}`,
				ResponseBody: `{"choices":[{"message":{"content":"<script>alert(1)</script>"}}]}`}
			if j == 1 {
				t.Status, t.ErrorCode, t.Fallbacks = 503, "upstream_error", 1
			}
			if j == 4 {
				t.ShadowOf = fixtureTraceID(p.Slug)
			}
			batch = append(batch, t)
		}
	}
	return st.SaveTraces(context.Background(), batch)
}

func TestTracesAPI(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	c := asVera(f) // a viewer may read
	ids := func(r *response) []string {
		var out []string
		for _, x := range r.list("traces") {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	base := "/api/v1/projects/alpha/traces"
	for _, tc := range []struct{ query, want string }{
		{"", "[t_alpha_0 t_alpha_1 t_alpha_2 t_alpha_3]"},
		{"?route=search", "[t_alpha_3]"},
		{"?key=team-b&status=error", "[t_alpha_1]"},
		{"?status=ok", "[t_alpha_0 t_alpha_2 t_alpha_3]"},
		{"?shadow=true", "[t_alpha_4]"},
		{"?since=" + url.QueryEscape(f.clock.Now().Add(-90*time.Minute).Format(time.RFC3339)), "[t_alpha_0 t_alpha_1]"},
		{"?until=" + url.QueryEscape(f.clock.Now().Add(-90*time.Minute).Format(time.RFC3339)), "[t_alpha_2 t_alpha_3]"},
	} {
		r := c.do("GET", base+tc.query, nil)
		if r.status != 200 || fmt.Sprint(ids(r)) != tc.want {
			t.Errorf("GET traces%s: %d %v, want %s (%s)", tc.query, r.status, ids(r), tc.want, truncate(r.raw))
		}
		if strings.Contains(r.raw, "request_body") || strings.Contains(r.raw, "beta") {
			t.Errorf("GET traces%s: a list carries bodies or B's records: %s", tc.query, truncate(r.raw))
		}
	}
	// Paging: 2 + 2 + none.
	var all []string
	cursor := ""
	for range 3 {
		r := c.do("GET", base+"?limit=2&cursor="+url.QueryEscape(cursor), nil)
		all = append(all, ids(r)...)
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	if fmt.Sprint(all) != "[t_alpha_0 t_alpha_1 t_alpha_2 t_alpha_3]" || cursor != "" {
		t.Errorf("paging by 2: %v, last cursor %q", all, cursor)
	}
	r := c.do("GET", base+"/t_alpha_1", nil)
	if r.status != 200 || r.str("trace.request_body") != `{"messages":[{"role":"user","content":"hello from alpha"}]}` ||
		r.str("trace.error_code") != "upstream_error" || strings.Contains(r.raw, "<script>") {
		t.Errorf("GET a trace: %d %s (want its bodies, JSON-escaped)", r.status, truncate(r.raw))
	}
	if r := c.do("GET", base+"/t_nope", nil); r.status != 404 || !strings.Contains(r.raw, `no trace \"t_nope\" in project alpha`) {
		t.Errorf("GET a missing trace: %d %s", r.status, r.raw)
	}
	for _, bad := range []struct{ query, says string }{
		{"?status=broken", "status \\\"broken\\\": use ok"},
		{"?shadow=maybe", "shadow \\\"maybe\\\": use true or false"},
		{"?since=yesterday", "since \\\"yesterday\\\": use an RFC 3339 time"},
		{"?since=2026-11-26&until=2026-11-25", "until 2026-11-25T00:00:00Z is not after since"},
		{"?cursor=garbage", "start again without a cursor"},
		{"?limit=0", "limit \\\"0\\\""},
	} {
		if r := c.do("GET", base+bad.query, nil); r.status != 400 || !strings.Contains(r.raw, bad.says) {
			t.Errorf("GET traces%s: %d %s, want 400 saying %s", bad.query, r.status, r.raw, bad.says)
		}
	}

	r = c.do("GET", "/api/v1/projects/alpha/traffic?days=1", nil)
	if r.status != 200 {
		t.Fatalf("traffic: %d %s", r.status, r.raw)
	}
	routes, _ := r.body["routes"].([]any)
	if r.body["period_days"] != float64(1) || len(routes) == 0 {
		t.Fatalf("traffic?days=1: %s", r.raw)
	}
	// Today's live calls only: which of A's fixture calls are today depends on the hour.
	today := 0
	now := f.clock.Now()
	for j := range 4 {
		if now.Add(-time.Duration(j) * time.Hour).Truncate(24 * time.Hour).Equal(now.Truncate(24 * time.Hour)) {
			today++
		}
	}
	got := 0
	for _, x := range routes {
		got += int(x.(map[string]any)["requests"].(float64))
	}
	if got != today {
		t.Errorf("traffic?days=1 counts %d requests, want today's %d live ones: %s", got, today, r.raw)
	}
	r = c.do("GET", "/api/v1/projects/alpha/traffic", nil)
	sb := r.body["routes"].([]any)[0].(map[string]any)
	if r.body["period_days"] != float64(DefaultTrafficDays) || sb["route"] != "search" || sb["requests"] != float64(1) {
		t.Errorf("traffic (7 days): %s", r.raw)
	}
	perDay, _ := r.body["days"].([]any)
	dayTotal := 0
	for _, d := range perDay {
		dayTotal += int(d.(map[string]any)["requests"].(float64))
	}
	if len(perDay) == 0 || dayTotal != 4 {
		t.Errorf("traffic days: %v, want the 4 live calls of the week by day", perDay)
	}
	keys := r.body["keys"].([]any)
	if len(keys) != 2 || keys[0].(map[string]any)["key"] != "team-a" {
		t.Errorf("traffic keys: %v, want team-a first (2 calls each: by name)", keys)
	}
	for _, bad := range []string{"0", "367", "x"} {
		if r := c.do("GET", "/api/v1/projects/alpha/traffic?days="+bad, nil); r.status != 400 || !strings.Contains(r.raw, "from 1 to 366") {
			t.Errorf("traffic?days=%s: %d %s", bad, r.status, r.raw)
		}
	}
}

func TestTrafficSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 4, 5, 0, time.FixedZone("X", 5*3600))
	for days, want := range map[int]string{1: "2026-11-26T00:00:00Z", 7: "2026-11-20T00:00:00Z", 30: "2026-10-28T00:00:00Z"} {
		if got := TrafficSince(now, days).Format(time.RFC3339); got != want {
			t.Errorf("TrafficSince(%d) = %s, want %s", days, got, want)
		}
	}
}
