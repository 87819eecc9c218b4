package server

import (
	"strings"
	"testing"
	"time"
)

func TestShadowAPI(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	c := asVera(f) // a viewer may read
	// The fixture's shadow: t_alpha_4 (route search) shadows t_alpha_0, both 200, latencies
	// 50 and 10 ms, the same answer.
	r := c.do("GET", "/api/v1/projects/alpha/shadow?route=search&since=24h", nil)
	if r.status != 200 {
		t.Fatalf("GET shadow: %d %s", r.status, truncate(r.raw))
	}
	n, _ := r.body["n"].(float64)
	ag, _ := r.body["agreement"].(map[string]any)
	if n != 1 || ag["k"] != 1.0 || !strings.Contains(r.raw, `"p50_ms":50`) || !strings.Contains(r.raw, "not enough data") ||
		!strings.Contains(r.raw, "no assertions: this server was not given the gateway config") {
		t.Errorf("GET shadow: %s", truncate(r.raw))
	}
	if r := c.do("GET", "/api/v1/projects/alpha/shadow?route=search&since=1h", nil); r.body["n"] != 0.0 {
		t.Errorf("since 1h (the shadow started 4h ago): %s", truncate(r.raw))
	}
	for q, want := range map[string]string{
		"":                         "route is required",
		"?route=search&since=soon": `since \"soon\": use a duration`,
	} {
		if r := c.do("GET", "/api/v1/projects/alpha/shadow"+q, nil); r.status != 400 || !strings.Contains(r.raw, want) {
			t.Errorf("GET shadow%s: %d %s, want 400 %q", q, r.status, truncate(r.raw), want)
		}
	}
	// Isolation: B's key sees only B's records, and A's project is 404 to it.
	if r := asKeyB(f).do("GET", "/api/v1/projects/alpha/shadow?route=search", nil); r.status != 404 {
		t.Errorf("B's key on alpha: %d", r.status)
	}
	if r := asKeyB(f).do("GET", "/api/v1/projects/beta/shadow?route=search", nil); r.status != 200 || r.body["n"] != 0.0 {
		t.Errorf("B's key on beta: %d %s", r.status, truncate(r.raw))
	}
}

func TestParseShadowSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"": "2026-11-25T12:00:00Z", "2h": "2026-11-26T10:00:00Z", "2026-11-20": "2026-11-20T00:00:00Z"} {
		if got, err := ParseShadowSince(in, now); err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
}
