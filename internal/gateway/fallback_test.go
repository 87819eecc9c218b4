package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func content(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Choices) == 0 {
		t.Fatalf("not a chat completion: %s", body)
	}
	return v.Choices[0].Message.Content
}

func TestFallbackOnUpstreamFailures(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault fakellm.Fault
		want  string // the first attempt's error or status in the trace
	}{
		{"503", fakellm.Fault{Status: 503}, "503"},
		{"500", fakellm.Fault{Status: 500}, "500"},
		{"429 with Retry-After", fakellm.Fault{Status: 429, RetryAfter: "7"}, "429"},
		{"malformed JSON", fakellm.Fault{Malformed: true}, "not valid JSON"},
		{"connection cut mid-body", fakellm.Fault{CutStream: true}, "closed mid-answer"},
		{"timeout", fakellm.Fault{Hang: true}, "timeout"},
		{"upstream refuses the gateway's key", fakellm.Fault{Status: 401}, "credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, strings.Replace(twoTargets, "timeout_ms: 10000", "timeout_ms: 10000\n    attempt_timeout_ms: 300", 1))
			h.primary.Enqueue(tt.fault)
			status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
			if status != 200 || content(t, out) != "from backup" {
				t.Fatalf("status %d: %s", status, out)
			}
			if h.primary.Count() != 1 || h.backup.Count() != 1 {
				t.Fatalf("calls: primary %d, backup %d", h.primary.Count(), h.backup.Count())
			}
			tr := h.record(1)
			if tr.Provider != "backup" || tr.Fallbacks != 1 || len(tr.Attempts) != 2 || tr.Status != 200 {
				t.Fatalf("trace = %+v", tr)
			}
			a := tr.Attempts[0]
			if a.Provider != "primary" || !strings.Contains(a.Error+" "+itoa(a.Status), tt.want) {
				t.Fatalf("first attempt = %+v, want %q", a, tt.want)
			}
			if len(h.slept) != 0 {
				t.Fatalf("waited %v before falling back: a fallback is immediate", h.slept)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestNoFallbackOnClientErrors(t *testing.T) {
	for _, st := range []int{400, 404, 413, 422} {
		h := newHarness(t, twoTargets)
		h.primary.Enqueue(fakellm.Fault{Status: st})
		status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
		if status != st {
			t.Fatalf("%d: client got %d: %s", st, status, out)
		}
		apiErr(t, out)
		if h.backup.Count() != 0 {
			t.Fatalf("%d: fell back to the backup", st)
		}
		if tr := h.record(1); tr.Status != st || tr.Fallbacks != 0 {
			t.Fatalf("%d: trace = %+v", st, tr)
		}
	}
	// The upstream's own validation error reaches the client as it is.
	h := newHarness(t, twoTargets)
	status, _, out := h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","messages":[]}`)
	if _, _, msg := apiErr(t, out); status != 400 || !strings.Contains(msg, "too short") || h.backup.Count() != 0 {
		t.Fatalf("status %d: %s", status, out)
	}
}

func TestEveryTargetFails(t *testing.T) {
	h := newHarness(t, twoTargets)
	h.primary.Enqueue(fakellm.Fault{Status: 503})
	h.backup.Enqueue(fakellm.Fault{Status: 500})
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	typ, code, msg := apiErr(t, out)
	if status != 502 || typ != "server_error" || code != "upstream_error" || !strings.Contains(msg, "primary/fake-1: 503; backup/fake-1: 500") {
		t.Fatalf("status %d: %s", status, out)
	}
	// Both rate limited: the client is told to come back when the upstream said.
	h.primary.Enqueue(fakellm.Fault{Status: 429, RetryAfter: "3"})
	h.backup.Enqueue(fakellm.Fault{Status: 429, RetryAfter: "3"})
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if _, code, _ := apiErr(t, out); status != 429 || code != "upstream_rate_limited" || hdr.Get("Retry-After") != "3" {
		t.Fatalf("status %d, Retry-After %q: %s", status, hdr.Get("Retry-After"), out)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, strings.Replace(twoTargets, "timeout_ms: 10000", "timeout_ms: 10000\n    retries: 2", 1))
	h.primary.Enqueue(fakellm.Fault{Status: 429, RetryAfter: "2"})
	h.primary.Enqueue(fakellm.Fault{Status: 503})
	status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 200 || content(t, out) != "echo: hi" {
		t.Fatalf("status %d: %s", status, out)
	}
	if h.primary.Count() != 3 || h.backup.Count() != 0 {
		t.Fatalf("calls: primary %d, backup %d", h.primary.Count(), h.backup.Count())
	}
	if len(h.slept) != 2 || h.slept[0] != 2*time.Second {
		t.Fatalf("waits %v: want Retry-After's 2s, then a backoff", h.slept)
	}
	if d := h.slept[1]; d < 100*time.Millisecond || d > 200*time.Millisecond {
		t.Fatalf("second backoff %v: want 100-200ms (200ms with jitter over its upper half)", d)
	}
	// A Retry-After beyond the route's timeout is not waited for: the next target answers.
	h2 := newHarness(t, strings.Replace(twoTargets, "timeout_ms: 10000", "timeout_ms: 1000\n    retries: 2", 1))
	h2.primary.Enqueue(fakellm.Fault{Status: 429, RetryAfter: "30"})
	status, _, out = h2.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if status != 200 || content(t, out) != "from backup" || len(h2.slept) != 0 {
		t.Fatalf("status %d, waits %v: %s", status, h2.slept, out)
	}
}

func TestStreamFallsBackOnlyBeforeTheFirstByte(t *testing.T) {
	stream := `{"model":"support-bot","stream":true,"messages":[{"role":"user","content":"a b c"}]}`
	// Before the first byte: a 503 and a malformed first event fall back.
	for _, f := range []fakellm.Fault{{Status: 503}, {Malformed: true}} {
		h := newHarness(t, twoTargets)
		h.primary.Enqueue(f)
		resp := h.post("/v1/chat/completions", teamAKey, stream)
		events := readEvents(t, resp.Body)
		resp.Body.Close()
		joined := strings.Join(events, "\n")
		if resp.StatusCode != 200 || !strings.Contains(joined, "from") || !strings.Contains(joined, "backup") || events[len(events)-1] != "[DONE]" {
			t.Fatalf("fault %+v: status %d, events %q", f, resp.StatusCode, events)
		}
	}
	// After the first byte: no fallback; the client is told in the stream.
	h := newHarness(t, twoTargets)
	h.primary.Enqueue(fakellm.Fault{CutStream: true})
	resp := h.post("/v1/chat/completions", teamAKey, stream)
	events := readEvents(t, resp.Body)
	resp.Body.Close()
	if h.backup.Count() != 0 {
		t.Fatal("fell back after the stream had started")
	}
	last := events[len(events)-1]
	if len(events) != 2 || !strings.Contains(last, `"upstream_stream_cut"`) {
		t.Fatalf("events %q", events)
	}
	if tr := h.record(1); tr.ErrorCode != "upstream_stream_cut" || tr.Provider != "primary" {
		t.Fatalf("trace = %+v", tr)
	}
}

func TestCircuitBreaker(t *testing.T) {
	cfg := strings.Replace(twoTargets, "keys:", "breaker: {failures: 3, cooldown_ms: 10000}\nkeys:", 1)
	h := newHarness(t, cfg, harnessOpts{fakeClock: true})
	h.primary.Enqueue(fakellm.Fault{Status: 503, Times: 100})
	for i := 0; i < 3; i++ {
		if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, out)
		}
	}
	if h.primary.Count() != 3 {
		t.Fatalf("primary got %d calls", h.primary.Count())
	}
	// Open: the primary is skipped.
	for i := 0; i < 5; i++ {
		h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	}
	if h.primary.Count() != 3 || h.backup.Count() != 8 {
		t.Fatalf("while open: primary %d, backup %d", h.primary.Count(), h.backup.Count())
	}
	if m := h.scrape(); !strings.Contains(m, `plumb_gateway_circuit_open{target="primary/fake-1"} 1`) {
		t.Fatalf("metrics lack the open circuit:\n%s", grep(m, "circuit"))
	}
	// After the cool-down one probe goes through; it fails, so the circuit opens again.
	h.advance(11 * time.Second)
	h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if h.primary.Count() != 4 {
		t.Fatalf("after the cool-down: primary got %d calls, want 3 + one probe", h.primary.Count())
	}
	// The next probe succeeds and closes it.
	h.primary.Close()
	h2 := newHarness(t, cfg, harnessOpts{fakeClock: true})
	h2.primary.Enqueue(fakellm.Fault{Status: 503, Times: 3})
	for i := 0; i < 4; i++ {
		h2.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	}
	h2.advance(11 * time.Second)
	for i := 0; i < 3; i++ {
		if _, _, out := h2.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); content(t, out) != "echo: hi" {
			t.Fatalf("after a good probe, call %d was answered by %s", i, out)
		}
	}
	if h2.primary.Count() != 6 {
		t.Fatalf("primary got %d calls", h2.primary.Count())
	}
	// Every target open: 503 with Retry-After.
	h3 := newHarness(t, cfg, harnessOpts{fakeClock: true})
	h3.primary.Enqueue(fakellm.Fault{Status: 503, Times: 3})
	h3.backup.Enqueue(fakellm.Fault{Status: 503, Times: 3})
	for i := 0; i < 3; i++ {
		h3.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	}
	status, hdr, out := h3.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	if _, code, _ := apiErr(t, out); status != 503 || code != "upstream_unavailable" || hdr.Get("Retry-After") != "10" {
		t.Fatalf("status %d Retry-After %q: %s", status, hdr.Get("Retry-After"), out)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// binomialOK reports whether k successes in n trials are within 4 standard deviations
// of p: a correct implementation fails this about once in 16,000 runs.
func binomialOK(k, n int, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-float64(n)*p) <= 4*sd
}

func TestCanaryShare(t *testing.T) {
	cfg := strings.Replace(twoTargets, "timeout_ms: 10000", "timeout_ms: 10000\n    canary: {provider: backup, model: fake-2, percent: 10}", 1)
	h := newHarness(t, noLimits(cfg), harnessOpts{seed: uint64(time.Now().UnixNano())})
	const n = 1000
	for i := 0; i < n; i++ {
		if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 {
			t.Fatalf("%d: %s", status, out)
		}
	}
	canary := 0
	for _, s := range h.backup.Requests() {
		if !strings.Contains(string(s.Body), `"model":"fake-2"`) {
			t.Fatalf("the backup got a non-canary call: %s", s.Body)
		}
		canary++
	}
	if !binomialOK(canary, n, 0.10) || h.primary.Count() != n-canary {
		t.Fatalf("canary got %d of %d calls (primary %d), want about 10%%", canary, n, h.primary.Count())
	}
	marked := 0
	for _, tr := range h.rec.traces() {
		if tr.Canary {
			marked++
			if tr.Model != "fake-2" {
				t.Fatalf("canary trace = %+v", tr)
			}
		}
	}
	if marked != canary {
		t.Fatalf("%d canary records for %d canary calls", marked, canary)
	}
}

func TestWeightedBalancing(t *testing.T) {
	cfg := strings.NewReplacer("timeout_ms: 10000", "timeout_ms: 10000\n    strategy: weighted",
		"        model: fake-1\n      - provider: backup", "        model: fake-1\n        weight: 3\n      - provider: backup").Replace(twoTargets)
	h := newHarness(t, noLimits(cfg), harnessOpts{seed: uint64(time.Now().UnixNano())})
	const n = 800
	for i := 0; i < n; i++ {
		h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	}
	if p := h.primary.Count(); !binomialOK(p, n, 0.75) || p+h.backup.Count() != n {
		t.Fatalf("primary %d, backup %d of %d: want 3:1", p, h.backup.Count(), n)
	}
	// The weighted pick still falls back to the other target.
	h.primary.Enqueue(fakellm.Fault{Status: 503, Times: 1000})
	for i := 0; i < 20; i++ {
		if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != http.StatusOK {
			t.Fatalf("%d: %s", status, out)
		}
	}
}

func TestClientGoneIsNotAnUpstreamFailure(t *testing.T) {
	h := newHarness(t, strings.Replace(twoTargets, "keys:", "breaker: {failures: 1}\nkeys:", 1))
	h.primary.Enqueue(fakellm.Fault{Hang: true})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(chat("support-bot", "hi")))
	req.Header.Set("Authorization", "Bearer "+teamAKey)
	if _, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req); err == nil {
		t.Fatal("the hanging call answered")
	}
	if tr := h.record(1); tr.Status != 499 || tr.ErrorCode != "client_closed" {
		t.Fatalf("trace = %+v", tr)
	}
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 || content(t, out) != "echo: hi" {
		t.Fatalf("the primary was skipped after a client went away: %d %s", status, out)
	}
	if h.backup.Count() != 0 {
		t.Fatal("fell back after the client went away")
	}
}
