package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/plumbhq/plumb/internal/store"
)

// withShadow puts the shadow block under the route (after timeout_ms).
func withShadow(url, block string) string {
	cfg := strings.Replace(twoTargets, "routes:\n", "  - name: cand\n    type: openai\n    base_url: "+url+"\nroutes:\n", 1)
	return strings.Replace(cfg, "    timeout_ms: 10000\n", "    timeout_ms: 10000\n"+block, 1)
}

// candidate is a controllable shadow upstream: it answers "from the candidate" once
// release is closed (at once when it already is), and counts what it saw.
type candidate struct {
	srv      *httptest.Server
	release  chan struct{}
	received chan struct{} // one value per request received
	finished atomic.Int32
	mu       sync.Mutex
	bodies   []string
	status   int
}

func newCandidate(t *testing.T, hang bool) *candidate {
	c := &candidate{release: make(chan struct{}), received: make(chan struct{}, 1000), status: 200}
	if !hang {
		close(c.release)
	}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, string(b))
		st := c.status
		c.mu.Unlock()
		c.received <- struct{}{}
		select {
		case <-c.release:
		case <-r.Context().Done():
			return
		}
		defer c.finished.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if st != 200 {
			w.WriteHeader(st)
			_, _ = w.Write([]byte(`{"error":{"message":"candidate is down","type":"server_error","code":"boom"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"cand-1","choices":[{"index":0,"message":{"role":"assistant","content":"from the candidate"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}`))
	}))
	t.Cleanup(func() {
		select {
		case <-c.release:
		default:
			close(c.release)
		}
		c.srv.Close()
	})
	return c
}

func shadows(all []store.Trace) (live, shadow []store.Trace) {
	for _, t := range all {
		if t.ShadowOf != "" {
			shadow = append(shadow, t)
		} else {
			live = append(live, t)
		}
	}
	return live, shadow
}

// waitShadows waits for n shadow records.
func (h *harness) waitShadows(n int) []store.Trace {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, sh := shadows(h.rec.traces()); len(sh) >= n {
			return sh
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, sh := shadows(h.rec.traces())
	h.t.Fatalf("want %d shadow records, have %d", n, len(sh))
	return nil
}

// A shadow upstream that hangs never delays the live answer: every live call is answered
// while its shadow is still waiting (structural), the live latencies stay far below the
// shadow's timeout (timing, generous bounds), calls beyond max_in_flight are not shadowed
// but counted, and the shadows are recorded, paired with their live calls, once they end.
func TestShadowHangingNeverDelaysLive(t *testing.T) {
	cand := newCandidate(t, true)
	h := newHarness(t, noLimits(withShadow(cand.srv.URL, "    shadow:\n      provider: cand\n      model: cand-1\n      max_in_flight: 4\n      timeout_ms: 30000\n")))
	const n = 20
	var lat []float64
	var ids []string
	for i := 0; i < n; i++ {
		start := time.Now()
		st, hdr, body := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hello"))
		lat = append(lat, float64(time.Since(start).Milliseconds()))
		if st != 200 || strings.Contains(body, "candidate") {
			t.Fatalf("live call %d: %d %s", i, st, body)
		}
		ids = append(ids, hdr.Get("X-Plumb-Trace-Id"))
		if i == 0 {
			// Structural: the live answer has been read whole while its shadow has reached
			// the candidate and is still waiting there.
			select {
			case <-cand.received:
			case <-time.After(5 * time.Second):
				t.Fatal("the shadow call never reached the candidate")
			}
			if cand.finished.Load() != 0 {
				t.Fatal("the shadow finished before the live answer was written")
			}
			if _, sh := shadows(h.rec.traces()); len(sh) != 0 {
				t.Fatal("a shadow was recorded before it finished")
			}
		}
	}
	sort.Float64s(lat)
	if p99 := lat[len(lat)*99/100]; p99 > 2000 {
		t.Errorf("live p99 %v ms with a hanging shadow (its timeout is 30 s)", p99)
	}
	if got := testutil.ToFloat64(h.gw.shadow.skipped.WithLabelValues("support-bot")); got != n-4 {
		t.Errorf("skipped shadows = %v, want %d (max_in_flight 4)", got, n-4)
	}
	close(cand.release)
	sh := h.waitShadows(4)
	first := map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true, ids[3]: true}
	for i, s := range sh {
		if !first[s.ShadowOf] || s.Status != 200 || s.Model != "cand-1" || s.Provider != "cand" {
			t.Errorf("shadow %d: %+v, want a shadow of one of the first 4 calls %v", i, s, ids[:4])
		}
		delete(first, s.ShadowOf)
		if !strings.Contains(s.ResponseBody, "from the candidate") || !strings.Contains(s.RequestBody, `"model":"cand-1"`) {
			t.Errorf("shadow %d bodies: %q / %q", i, s.RequestBody, s.ResponseBody)
		}
		if s.CostUSD < 0 || s.TokensIn != 10 || s.TokensOut != 4 {
			t.Errorf("shadow %d usage: %+v", i, s)
		}
	}
	if got := testutil.ToFloat64(h.gw.shadow.calls.WithLabelValues("support-bot", "cand/cand-1", "ok")); got != 4 {
		t.Errorf("shadow calls ok = %v, want 4", got)
	}
}

// A shadow that fails, times out or answers garbage changes nothing for the client.
func TestShadowFailureChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		hang     bool
		wantCode string
	}{
		{"500", 500, false, "boom"},
		{"timeout", 200, true, "upstream_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cand := newCandidate(t, tc.hang)
			cand.status = tc.status
			h := newHarness(t, noLimits(withShadow(cand.srv.URL, "    shadow:\n      provider: cand\n      model: cand-1\n      timeout_ms: 200\n")))
			st, _, body := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hello"))
			if st != 200 || !strings.Contains(body, `"content"`) || strings.Contains(body, "candidate") {
				t.Fatalf("live: %d %s", st, body)
			}
			sh := h.waitShadows(1)
			if sh[0].ErrorCode != tc.wantCode || sh[0].Status == 200 {
				t.Errorf("shadow record: status %d code %q, want code %q", sh[0].Status, sh[0].ErrorCode, tc.wantCode)
			}
		})
	}
	t.Run("cut connection", func(t *testing.T) {
		cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte(`{"id":"x","choices":[`))
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				_ = conn.Close()
			}
		}))
		defer cut.Close()
		h := newHarness(t, noLimits(withShadow(cut.URL, "    shadow:\n      provider: cand\n      model: cand-1\n")))
		st, _, body := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hello"))
		if st != 200 || !strings.Contains(body, `"content"`) {
			t.Fatalf("live: %d %s", st, body)
		}
		sh := h.waitShadows(1)
		if sh[0].Status != 502 || sh[0].ErrorCode != "upstream_error" {
			t.Errorf("shadow record: %+v", sh[0])
		}
	})
}

// Shadow calls are never charged to the client key: its rpm admits exactly its own calls,
// and the limiter settles only the live calls' usage.
func TestShadowNotChargedToKey(t *testing.T) {
	cand := newCandidate(t, false)
	cfg := strings.Replace(withShadow(cand.srv.URL, "    shadow:\n      provider: cand\n      model: cand-1\n"), "rpm: 60", "rpm: 3", 1)
	cfg = strings.Replace(cfg, "routes:\n", "prices:\n  cand-1: {input: 1000, output: 1000}\nroutes:\n", 1)
	h := newHarness(t, cfg)
	for i := 0; i < 3; i++ {
		if st, _, body := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); st != 200 {
			t.Fatalf("call %d: %d %s", i, st, body)
		}
	}
	sh := h.waitShadows(3)
	if st, _, _ := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); st != 429 {
		t.Errorf("4th call with rpm 3: %d, want 429 (the shadows must not have used the key's requests)", st)
	}
	h.lim.mu.Lock()
	settled := len(h.lim.settled)
	var spend float64
	for _, u := range h.lim.settled {
		spend += u.CostUSD
	}
	reqs := h.lim.reqs["team-a"]
	h.lim.mu.Unlock()
	if settled != 3 || reqs != 3 {
		t.Errorf("limiter: %d settles, %d requests; want 3 and 3", settled, reqs)
	}
	var shadowCost float64
	for _, s := range sh {
		shadowCost += s.CostUSD
	}
	if shadowCost < 0.01 { // 14 tokens at $1000/M each call
		t.Fatalf("shadow cost %v: the fixture should make the shadow expensive", shadowCost)
	}
	if spend >= shadowCost {
		t.Errorf("the key was charged %v; the shadows alone cost %v", spend, shadowCost)
	}
}

// A streamed live call is shadowed as a plain call.
func TestShadowOfStreamIsPlain(t *testing.T) {
	cand := newCandidate(t, false)
	h := newHarness(t, noLimits(withShadow(cand.srv.URL, "    shadow:\n      provider: cand\n      model: cand-1\n")))
	st, _, body := h.call("/v1/chat/completions", teamAKey, `{"model":"support-bot","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if st != 200 || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("live stream: %d %s", st, body)
	}
	sh := h.waitShadows(1)
	cand.mu.Lock()
	sent := cand.bodies[0]
	cand.mu.Unlock()
	var v map[string]any
	_ = json.Unmarshal([]byte(sent), &v)
	if _, ok := v["stream"]; ok || v["model"] != "cand-1" {
		t.Errorf("the shadow was sent %s", sent)
	}
	if _, ok := v["stream_options"]; ok {
		t.Errorf("the shadow was sent stream_options: %s", sent)
	}
	if sh[0].Stream || sh[0].Status != 200 {
		t.Errorf("shadow record: %+v", sh[0])
	}
	h.record(2) // a stream is recorded once its response has ended, maybe after its shadow
	live, _ := shadows(h.rec.traces())
	if len(live) != 1 || !live[0].Stream || sh[0].ShadowOf != live[0].ID {
		t.Errorf("live record %+v, shadow of %q", live, sh[0].ShadowOf)
	}
}

func TestShadowConfig(t *testing.T) {
	withShadow := func(url, block string) string {
		return strings.NewReplacer("PRIMARY_URL", "http://127.0.0.1:9/v1", "BACKUP_URL", "http://127.0.0.1:9/v1").Replace(withShadow(url, block))
	}
	good := withShadow("http://127.0.0.1:9", `    shadow:
      provider: cand
      model: cand-1
      percent: 10
      assert:
        - type: icontains
          value: refund
        - type: not-regex
          value: "(?i)sorry"
        - type: latency
          threshold: 2000
`)
	cfg, err := Parse([]byte(good), "gateway.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	sh := cfg.Route("support-bot").Shadow
	if *sh.Percent != 10 || sh.TimeoutMS != 10000 || sh.MaxInFlight != DefaultShadowMaxInFlight || len(sh.Checks()) != 3 {
		t.Errorf("shadow: %+v, %d checks", sh, len(sh.Checks()))
	}
	for _, tc := range []struct{ block, want string }{
		{"    shadow:\n      provider: cand\n      model: cand-1\n      assert:\n        - type: contians\n          value: x\n", `gateway.yaml:27:11: unknown assertion type "contians"`},
		{"    shadow:\n      provider: cand\n      model: cand-1\n      assert:\n        - type: llm-rubric\n          value: polite\n", `gateway.yaml:27:11: assertion type "llm-rubric" is not supported in a shadow`},
		{"    shadow:\n      provider: cand\n      model: cand-1\n      assert:\n        - type: regex\n          value: \"(\"\n", `gateway.yaml:27:11: invalid regex "("`},
		{"    shadow:\n      provider: nope\n      model: cand-1\n", `gateway.yaml:24:7: unknown provider "nope"`},
		{"    shadow:\n      provider: cand\n      model: cand-1\n      percent: 0\n", "shadow percent must be above 0"},
		{"    shadow:\n      provider: cand\n      model: cand-1\n      persent: 5\n", `unknown key "persent"`},
	} {
		_, err := Parse([]byte(withShadow("http://127.0.0.1:9", tc.block)), "gateway.yaml", testEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("block %q: got %v, want %q", tc.block, err, tc.want)
		}
	}
}
