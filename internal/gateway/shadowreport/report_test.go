package shadowreport

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/store"
)

const cfgYAML = `
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
keys:
  - {name: a, key_env: K}
`

func checks(t *testing.T) []gateway.ShadowCheck {
	t.Helper()
	cfg, err := gateway.Parse([]byte(cfgYAML), "gateway.yaml", func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Route("support-bot").Shadow.Checks()
}

func answer(s string) string {
	b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": s}}}})
	return string(b)
}

func pair(i int, live, shadow string, shadowStatus int) store.ShadowPair {
	p := store.ShadowPair{
		Live: store.Trace{ID: "l", Status: 200, LatencyMS: float64(i * 100), CostUSD: 0.001,
			RequestBody: `{"messages":[{"role":"user","content":"my order"}]}`, ResponseBody: live},
		Shadow: store.Trace{ID: "s", Status: shadowStatus, LatencyMS: float64(i * 200), CostUSD: 0.002, ResponseBody: shadow},
	}
	if shadowStatus != 200 {
		p.Shadow.ErrorCode, p.Shadow.CostUSD, p.Shadow.ResponseBody = "upstream_error", 0, `{"error":{}}`
	}
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) < 5e-4 }

// The numbers of a small fixture, checked by hand (see the comments).
func TestReportHandChecked(t *testing.T) {
	var pairs []store.ShadowPair
	for i := 1; i <= 6; i++ { // agree after normalisation; both pass
		pairs = append(pairs, pair(i, answer("Refund issued."), answer("  refund   ISSUED. "), 200))
	}
	pairs = append(pairs, pair(7, answer("Refund issued."), answer("No."), 200)) // live only
	pairs = append(pairs, pair(8, answer("Refund issued."), answer("No."), 200)) // live only
	pairs = append(pairs, pair(9, answer("No."), answer("A refund."), 200))      // shadow only
	pairs = append(pairs, pair(10, answer("Refund issued."), "", 500))           // shadow error
	pairs = append(pairs, pair(11, "", answer("refund"), 200))                   // live body missing
	r := Build(context.Background(), "support-bot", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), pairs, checks(t))
	if r.N != 11 || r.Evaluated != 9 || r.BodiesMissing != 1 {
		t.Fatalf("n %d evaluated %d missing %d; want 11, 9, 1", r.N, r.Evaluated, r.BodiesMissing)
	}
	// Agreement 6/9; Wilson 95%: center (p + z²/2n)/(1 + z²/n) = 0.6168, half-width 0.2626.
	if a := r.Agreement; a.K != 6 || a.N != 9 || !near(a.Low, 0.3542) || !near(a.High, 0.8794) {
		t.Errorf("agreement %+v; want 6/9 in [0.3542, 0.8794]", a)
	}
	// Latency: live 100..1100 ms, p50 = the 6th = 600, p95 (type 7) = 1000 + 0.5·100 = 1050.
	if r.Live.P50MS != 600 || r.Live.P95MS != 1050 || r.Shadow.P50MS != 1200 || r.Shadow.P95MS != 2100 {
		t.Errorf("latency live %v/%v shadow %v/%v", r.Live.P50MS, r.Live.P95MS, r.Shadow.P50MS, r.Shadow.P95MS)
	}
	// Cost: live 11 × 0.001 / 11; shadow 10 × 0.002 / 11 (the failed call cost nothing).
	if !near(r.Live.CostPerCall, 0.001) || !near(r.Shadow.CostPerCall, 0.02/11) || !near(r.CostDiffPerCall, 0.02/11-0.001) {
		t.Errorf("cost %+v %+v %v", r.Live, r.Shadow, r.CostDiffPerCall)
	}
	if r.Live.Errors.K != 0 || r.Shadow.Errors.K != 1 || r.Shadow.Errors.N != 11 {
		t.Errorf("errors live %+v shadow %+v", r.Live.Errors, r.Shadow.Errors)
	}
	// icontains refund: live passes pairs 1-8 (8/9), the shadow 1-6 and 9 (7/9); discordant
	// 2 live-only, 1 shadow-only: McNemar p = 2·P(X ≤ 1; 3, ½) = 2·(1/8 + 3/8) = 1.
	a := r.Assertions[0]
	if a.Live.K != 8 || a.Shadow.K != 7 || a.Live.N != 9 || a.LiveOnly != 2 || a.ShadowOnly != 1 || a.PValue != 1 || a.Worse {
		t.Errorf("assertion %+v", a)
	}
	if r.Ready || !strings.Contains(r.Verdict, "not ready: the shadow failed 1 of 11 calls, live 0") {
		t.Errorf("verdict %q", r.Verdict)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "bodies.mode") {
		t.Errorf("notes %q", r.Notes)
	}
	var out bytes.Buffer
	if err := r.Write(&out, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pairs: 11 (evaluated: 9)", "66.7% (6/9, 95% CI 35.4–87.9%)", `icontains "refund"`, "McNemar p = 1", "verdict: not ready"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportVerdicts(t *testing.T) {
	var worse, same []store.ShadowPair
	for i := 1; i <= 10; i++ {
		worse = append(worse, pair(i, answer("refund"), answer("no"), 200))
		same = append(same, pair(i, answer("refund"), answer("Refund"), 200))
	}
	r := Build(context.Background(), "support-bot", time.Now(), worse, checks(t))
	// 10 live-only, 0 shadow-only: p = 2·0.5^10 = 0.00195.
	if a := r.Assertions[0]; !a.Worse || !near(a.PValue, 0.001953) || r.Ready || !strings.HasPrefix(r.Verdict, "not ready: the shadow is significantly worse on icontains") {
		t.Errorf("worse: %+v %q", r.Assertions[0], r.Verdict)
	}
	r = Build(context.Background(), "support-bot", time.Now(), same, checks(t))
	if !r.Ready || r.Agreement.K != 10 || !strings.HasPrefix(r.Verdict, "ready:") {
		t.Errorf("same: %q %+v", r.Verdict, r.Agreement)
	}
	if r := Build(context.Background(), "support-bot", time.Now(), nil, checks(t)); r.Ready || !strings.HasPrefix(r.Verdict, "not enough data") {
		t.Errorf("empty: %q", r.Verdict)
	}
	var cut []store.ShadowPair
	for i := 1; i <= MinPairs; i++ {
		cut = append(cut, pair(i, `{"choices":[{"message":{"content":"refu… [truncated: 10 of 20 bytes cut]`, answer("refund"), 200))
	}
	r = Build(context.Background(), "support-bot", time.Now(), cut, checks(t))
	if r.Ready || r.BodiesTruncated != MinPairs || !strings.HasPrefix(r.Verdict, "cannot tell") || !strings.Contains(strings.Join(r.Notes, " "), "max_bytes") {
		t.Errorf("truncated: %q %v", r.Verdict, r.Notes)
	}
}

func TestAnswer(t *testing.T) {
	sse := "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n"
	if s, st := Answer(sse); s != "Hello" || st != Readable {
		t.Errorf("sse: %q %s", s, st)
	}
	if _, st := Answer(strings.TrimSuffix(sse, "data: [DONE]\n\n")); st != Truncated {
		t.Errorf("cut sse: %s", st)
	}
	if _, st := Answer(""); st != Missing {
		t.Errorf("empty: %s", st)
	}
}

func TestWriteFormats(t *testing.T) {
	pairs := []store.ShadowPair{pair(1, answer("<script>alert(1)</script> | refund"), answer("refund"), 200)}
	r := Build(context.Background(), "bot|<x>", time.Now(), pairs, checks(t))
	var md, js bytes.Buffer
	if err := r.Write(&md, "md"); err != nil || !strings.Contains(md.String(), `bot\|&lt;x&gt;`) {
		t.Errorf("md: %v %s", err, md.String())
	}
	if err := r.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.N != 1 || back.Route != "bot|<x>" {
		t.Errorf("json: %v %+v", err, back)
	}
	if err := r.Write(&js, "xml"); err == nil {
		t.Error("xml accepted")
	}
}
