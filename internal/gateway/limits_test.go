package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plumbhq/plumb/internal/gateway/limit"
)

// These tests run the gateway with the real limiters (limit.NewMemory, limit.NewRedis), as
// plumb gateway does, rather than the harness's stand-in.

// realMemory is a harness option: limits in memory on the harness's clock.
func realMemory(h **harness) harnessOpts {
	return harnessOpts{fakeClock: true, opt: func(o *Options) {
		o.Limiter = limit.NewMemory(func() time.Time { return (*h).now() })
	}}
}

func limitedCfg(rpm, tpm string, budget string) string {
	return strings.NewReplacer("rpm: 60", "rpm: "+rpm, "tpm: 100000", "tpm: "+tpm, "budget_usd_per_day: 5", "budget_usd_per_day: "+budget).Replace(twoTargets)
}

func chatMax(text string, maxTokens int) string {
	return `{"model":"support-bot","max_tokens":` + strconv.Itoa(maxTokens) + `,"messages":[{"role":"user","content":"` + text + `"}]}`
}

func TestRealLimiterRPM(t *testing.T) {
	var h *harness
	h = newHarness(t, limitedCfg("2", "0", "0"), realMemory(&h))
	for i := 1; i <= 2; i++ {
		status, hdr, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
		if status != 200 {
			t.Fatalf("call %d: %d %s", i, status, out)
		}
		if hdr.Get("X-Ratelimit-Limit-Requests") != "2" || hdr.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(2-i) || hdr.Get("X-Ratelimit-Limit-Tokens") != "" {
			t.Errorf("call %d: x-ratelimit headers %v", i, hdr)
		}
	}
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi"))
	typ, code, msg := apiErr(t, out)
	// rpm 2 gives one request back every 30 s.
	if status != 429 || hdr.Get("Retry-After") != "30" || typ != "rate_limit_exceeded" || code != "rate_limit_exceeded" || !strings.Contains(msg, "2 requests per minute") {
		t.Fatalf("call 3: %d Retry-After %q: %s", status, hdr.Get("Retry-After"), out)
	}
	if h.primary.Count() != 2 {
		t.Fatalf("a refused call reached the upstream: %d calls", h.primary.Count())
	}
	h.advance(30 * time.Second)
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chat("support-bot", "hi")); status != 200 {
		t.Fatalf("after Retry-After: %d %s", status, out)
	}
}

func TestRealLimiterTPM(t *testing.T) {
	var h *harness
	h = newHarness(t, limitedCfg("0", "1000", "0"), realMemory(&h))
	// Estimated at about 20 + 600 tokens; it really uses a few.
	status, hdr, out := h.call("/v1/chat/completions", teamAKey, chatMax("hi", 600))
	if status != 200 || hdr.Get("X-Ratelimit-Limit-Tokens") != "1000" {
		t.Fatalf("call 1: %d %v %s", status, hdr, out)
	}
	if rem, _ := strconv.Atoi(hdr.Get("X-Ratelimit-Remaining-Tokens")); rem < 300 || rem > 400 {
		t.Errorf("remaining tokens after an estimate of ~620: %q", hdr.Get("X-Ratelimit-Remaining-Tokens"))
	}
	tr := h.record(1) // settled: the record is made after the settle
	if tr.TokensIn+tr.TokensOut == 0 || tr.TokensIn+tr.TokensOut > 100 {
		t.Fatalf("usage %d+%d", tr.TokensIn, tr.TokensOut)
	}
	// Had the estimate not been replaced by the real use, 620 + 920 would not fit.
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chatMax("hi", 900)); status != 200 {
		t.Fatalf("call 2 (fits after the settle): %d %s", status, out)
	}
	h.record(2)
	// 300 words: estimated at ~175 tokens, it really uses 601 (the fake echoes them).
	long := strings.TrimSpace(strings.Repeat("w ", 300))
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chatMax(long, 10)); status != 200 {
		t.Fatalf("call 3: %d %s", status, out)
	}
	if tr := h.record(3); tr.TokensIn+tr.TokensOut != 601 {
		t.Fatalf("call 3 used %d+%d tokens", tr.TokensIn, tr.TokensOut)
	}
	// ~390 tokens are left, not the ~820 the estimate alone would leave: ~520 do not fit.
	status, hdr, out = h.call("/v1/chat/completions", teamAKey, chatMax("hi", 500))
	typ, code, msg := apiErr(t, out)
	if status != 429 || typ != "rate_limit_exceeded" || code != "rate_limit_exceeded" || !strings.Contains(msg, "1000 tokens per minute") {
		t.Fatalf("call 4: %d %s", status, out)
	}
	if ra, _ := strconv.Atoi(hdr.Get("Retry-After")); ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	if hdr.Get("X-Ratelimit-Limit-Tokens") != "1000" {
		t.Errorf("refusal headers %v", hdr)
	}
}

func TestRealLimiterBudget(t *testing.T) {
	// $100 per million tokens: a call of ~25 + 10 estimated tokens reserves $0.0035; the
	// budget of 2 cents lasts a few calls.
	cfg := strings.Replace(limitedCfg("0", "0", "0.02"), "keys:", "prices:\n  fake-1: {input: 100, output: 100}\nkeys:", 1)
	var h *harness
	h = newHarness(t, cfg, realMemory(&h))
	spent := 0.0
	calls := 0
	for ; calls < 100; calls++ {
		status, hdr, out := h.call("/v1/chat/completions", teamAKey, chatMax("hello there", 10))
		if status == 200 {
			spent += h.record(calls + 1).CostUSD
			continue
		}
		typ, code, msg := apiErr(t, out)
		// The harness's clock is 12:00 UTC: the budget comes back at midnight.
		if status != 429 || typ != "insufficient_quota" || code != "budget_exceeded" || hdr.Get("Retry-After") != "43200" || !strings.Contains(msg, "$0.02") {
			t.Fatalf("call %d: %d Retry-After %q %s", calls+1, status, hdr.Get("Retry-After"), out)
		}
		break
	}
	if calls < 3 || calls == 100 {
		t.Fatalf("%d calls before the budget ran out", calls)
	}
	if spent > 0.02 || spent < 0.02-0.0036 {
		t.Fatalf("spent $%g of $0.02 before the refusal", spent)
	}
	if m := h.scrape(); !strings.Contains(m, `plumb_gateway_rate_limited_total{key="team-a",reason="budget"} 1`) {
		t.Fatalf("metrics:\n%s", grep(m, "rate_limited"))
	}
	h.advance(12 * time.Hour)
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chatMax("hello there", 10)); status != 200 {
		t.Fatalf("the next day: %d %s", status, out)
	}
}

// testRedis is the Redis at $PLUMB_TEST_REDIS (default 127.0.0.1:6379); without one the test
// is skipped, or fails under CI=true.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("PLUMB_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		msg := "Redis is not reachable at " + addr + " (" + err.Error() + "): start it or set PLUMB_TEST_REDIS"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Two gateway instances on one Redis (as with the same redis_url) share a key's limits: of
// 30 calls spread over both, exactly rpm (10) get through.
func TestTwoInstancesShareLimitsInRedis(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "plumb:test:" + hex.EncodeToString(b[:]) + ":"
	cfg := limitedCfg("10", "0", "0")
	var gws [2]*harness
	for i := range gws {
		rdb := testRedis(t) // one client each, as two processes would have
		// As plumb gateway builds it for redis_url, on Redis's clock.
		lim := limit.NewFailover(limit.NewRedis(rdb, prefix, nil), limit.NewMemory(nil), func(err error) { t.Errorf("Redis failed: %v", err) })
		gws[i] = newHarness(t, cfg, harnessOpts{opt: func(o *Options) { o.Limiter = lim }})
	}
	var mu sync.Mutex
	codes := map[int]int{}
	perInstance := [2]int{}
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := gws[i%2]
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(chat("support-bot", "hi")))
			req.Header.Set("Authorization", "Bearer "+teamAKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 200 {
				perInstance[i%2]++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[200] != 10 || codes[429] != 20 {
		t.Fatalf("statuses %v; want 10 × 200 and 20 × 429 across both instances", codes)
	}
	if perInstance[0] == 0 || perInstance[1] == 0 {
		t.Logf("every admitted call went through one instance: %v", perInstance)
	}
	// The upstreams saw exactly the admitted calls.
	if n := gws[0].primary.Count() + gws[1].primary.Count(); n != 10 {
		t.Fatalf("the upstreams got %d calls", n)
	}
}

func TestBudgetRefusalSaysWhatIsLeft(t *testing.T) {
	// $100 per million tokens: max_tokens 500 reserves about $0.05, more than the whole $0.02
	// budget, which is untouched: the refusal must not claim the budget was used.
	cfg := strings.Replace(limitedCfg("0", "0", "0.02"), "keys:", "prices:\n  fake-1: {input: 100, output: 100}\nkeys:", 1)
	var h *harness
	h = newHarness(t, cfg, realMemory(&h))
	status, _, out := h.call("/v1/chat/completions", teamAKey, chatMax("hi", 500))
	typ, code, msg := apiErr(t, out)
	if status != 429 || typ != "insufficient_quota" || code != "budget_exceeded" {
		t.Fatalf("%d %s", status, out)
	}
	if strings.Contains(msg, "has used its daily budget") || !strings.Contains(msg, "$0.02 of its daily budget of $0.02 left") || !strings.Contains(msg, "max_tokens") {
		t.Fatalf("message %q", msg)
	}
	// A small call still fits.
	if status, _, out := h.call("/v1/chat/completions", teamAKey, chatMax("hi", 10)); status != 200 {
		t.Fatalf("small call: %d %s", status, out)
	}
}
