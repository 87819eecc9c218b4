package limit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *clock {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &clock{t: t}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// impl builds a fresh limiter of one kind on the given clock; every key space is new.
type impl struct {
	name string
	make func(t testing.TB, now func() time.Time) Limiter
}

func impls() []impl {
	return []impl{
		{"memory", func(t testing.TB, now func() time.Time) Limiter { return NewMemory(now) }},
		{"redis", func(t testing.TB, now func() time.Time) Limiter {
			return NewRedis(testRedis(t), freshPrefix(t), now)
		}},
	}
}

// testRedis connects to $PLUMB_TEST_REDIS (default 127.0.0.1:6379). When it is unreachable
// the test is skipped, or fails when CI=true, where Redis is part of the contract.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("PLUMB_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		msg := "Redis is not reachable at " + addr + " (" + err.Error() + "): start it or set PLUMB_TEST_REDIS"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping (with CI=true this fails)")
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// freshPrefix is a key prefix no other test uses; its keys are deleted when the test ends.
func freshPrefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	p := "plumbtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
		defer rdb.Close()
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, p+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return p
}

// step is one call in a scenario: move the clock, then Admit (or Settle) and check.
type step struct {
	advance time.Duration
	key     string // "k" when empty
	est     Usage
	settle  *Usage // Settle(est, *settle) instead of Admit
	times   int    // repeat the Admit; 1 when 0

	allowed    bool
	reason     string
	retryAfter time.Duration // checked when refused
	limit      float64       // checked when non-zero
	remaining  float64       // checked when limit is non-zero
}

var scenarios = []struct {
	name  string
	start string
	l     Limits
	steps []step
}{
	{
		name: "rpm: exactly the limit, then one more every 60s/limit", start: "2026-11-26T10:00:00Z",
		l: Limits{RPM: 10},
		steps: []step{
			{allowed: true, limit: 10, remaining: 9},
			{times: 8, allowed: true},
			{allowed: true, limit: 10, remaining: 0},
			{reason: "rpm", retryAfter: 6 * time.Second, limit: 10, remaining: 0},
			{advance: 5 * time.Second, reason: "rpm", retryAfter: time.Second},
			{advance: 999 * time.Millisecond, reason: "rpm", retryAfter: time.Second},
			{advance: time.Millisecond, allowed: true, limit: 10, remaining: 0},
			{reason: "rpm", retryAfter: 6 * time.Second},
			// A full minute later the whole allowance is back.
			{advance: time.Minute, times: 10, allowed: true},
			{reason: "rpm", retryAfter: 6 * time.Second},
			// Other keys are not affected.
			{key: "other", allowed: true, limit: 10, remaining: 9},
		},
	},
	{
		name: "rpm: retry rounded up to whole seconds", start: "2026-11-26T10:00:00Z",
		l: Limits{RPM: 7}, // one every 8.571 s
		steps: []step{
			{times: 7, allowed: true},
			{reason: "rpm", retryAfter: 9 * time.Second},
			{advance: 8 * time.Second, reason: "rpm", retryAfter: time.Second},
			{advance: 571 * time.Millisecond, reason: "rpm", retryAfter: time.Second},
			{advance: time.Millisecond, allowed: true},
		},
	},
	{
		name: "tpm: reservations, settling gives back what was not used", start: "2026-11-26T10:00:00Z",
		l: Limits{TPM: 1000}, // 60 ms per token
		steps: []step{
			{est: Usage{Tokens: 400}, allowed: true, limit: 1000, remaining: 600},
			{est: Usage{Tokens: 400}, allowed: true, limit: 1000, remaining: 200},
			// 1200 > 1000: 200 tokens short, back in 200 × 60 ms.
			{est: Usage{Tokens: 400}, reason: "tpm", retryAfter: 12 * time.Second, limit: 1000, remaining: 200},
			// The first request used 100 tokens, not 400.
			{est: Usage{Tokens: 400}, settle: &Usage{Tokens: 100}},
			{est: Usage{Tokens: 400}, allowed: true, limit: 1000, remaining: 100},
			// The second used more than estimated: 100 more tokens are taken.
			{est: Usage{Tokens: 400}, settle: &Usage{Tokens: 500}},
			{est: Usage{Tokens: 1}, reason: "tpm", retryAfter: time.Second, remaining: 0, limit: 1000},
			{advance: 60 * time.Millisecond, est: Usage{Tokens: 1}, allowed: true, limit: 1000, remaining: 0},
		},
	},
	{
		name: "tpm: a request larger than the limit passes only a full bucket", start: "2026-11-26T10:00:00Z",
		l: Limits{TPM: 100}, // 600 ms per token
		steps: []step{
			{est: Usage{Tokens: 150}, allowed: true, limit: 100, remaining: 0},
			// 150 tokens = 90 s of allowance, 30 s over the window; one token more is 30.6 s.
			{est: Usage{Tokens: 1}, reason: "tpm", retryAfter: 31 * time.Second},
			{advance: 31 * time.Second, est: Usage{Tokens: 1}, allowed: true},
			// 150 tokens again: only once the bucket is full, 59.6 s from now.
			{est: Usage{Tokens: 150}, reason: "tpm", retryAfter: time.Minute},
			{advance: 59 * time.Second, est: Usage{Tokens: 150}, reason: "tpm", retryAfter: time.Second},
			{advance: 600 * time.Millisecond, est: Usage{Tokens: 150}, allowed: true},
		},
	},
	{
		name: "a request refused by one limit is counted by none", start: "2026-11-26T10:00:00Z",
		l: Limits{RPM: 2, TPM: 100, BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{Tokens: 60, CostUSD: 0.5}, allowed: true},
			{est: Usage{Tokens: 60, CostUSD: 0.1}, reason: "tpm", retryAfter: 12 * time.Second},
			{est: Usage{Tokens: 10, CostUSD: 0.6}, reason: "budget", retryAfter: 14 * time.Hour},
			// Neither refusal took a request or tokens or money.
			// (All three are used up: the first of them, rpm, is reported.)
			{est: Usage{Tokens: 40, CostUSD: 0.5}, allowed: true, limit: 2, remaining: 0},
			{est: Usage{}, reason: "budget", retryAfter: 14 * time.Hour, limit: 1, remaining: 0},
		},
	},
	{
		name: "when several limits refuse, the longest wait speaks", start: "2026-11-26T23:58:30Z",
		l: Limits{RPM: 1, BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{CostUSD: 1}, allowed: true},
			{reason: "budget", retryAfter: 90 * time.Second, limit: 1, remaining: 0}, // rpm: 60 s
			{advance: 60 * time.Second, reason: "budget", retryAfter: 30 * time.Second},
			{key: "late", est: Usage{CostUSD: 1}, allowed: true},
			{key: "late", reason: "rpm", retryAfter: time.Minute, limit: 1, remaining: 0}, // budget: 30 s
			{advance: 30 * time.Second, key: "late", reason: "rpm", retryAfter: 30 * time.Second},
		},
	},
	{
		name: "budget: reservations, settlement, the day boundary", start: "2026-11-26T23:59:00Z",
		l: Limits{BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{CostUSD: 0.4}, allowed: true, limit: 1, remaining: 0.6},
			{est: Usage{CostUSD: 0.4}, allowed: true, limit: 1, remaining: 0.2},
			{est: Usage{CostUSD: 0.4}, reason: "budget", retryAfter: time.Minute, limit: 1, remaining: 0.2},
			{est: Usage{CostUSD: 0.4}, settle: &Usage{CostUSD: 0.1}},
			{est: Usage{CostUSD: 0.4}, allowed: true, limit: 1, remaining: 0.1},
			{est: Usage{CostUSD: 0.2}, reason: "budget", retryAfter: time.Minute},
			// A zero estimate still passes while money is left ...
			{est: Usage{}, allowed: true, limit: 1, remaining: 0.1},
			{est: Usage{CostUSD: 0.4}, settle: &Usage{CostUSD: 0.5}},
			// ... and not once it is all spent.
			{advance: 30 * time.Second, est: Usage{}, reason: "budget", retryAfter: 30 * time.Second, limit: 1, remaining: 0},
			// At midnight UTC the budget is whole again, and the request still in flight
			// from yesterday (estimated 0.4) is charged to today what it really cost.
			{advance: 30 * time.Second, est: Usage{CostUSD: 0.5}, allowed: true, limit: 1, remaining: 0.5},
			{advance: 10 * time.Second, est: Usage{CostUSD: 0.4}, settle: &Usage{CostUSD: 0.3}},
			{est: Usage{CostUSD: 0.3}, reason: "budget", retryAfter: 24*time.Hour - 10*time.Second, limit: 1, remaining: 0.2},
			{est: Usage{CostUSD: 0.2}, allowed: true, limit: 1, remaining: 0},
			// Today's own reservation settles against today.
			{est: Usage{CostUSD: 0.5}, settle: &Usage{CostUSD: 0.25}},
			{est: Usage{CostUSD: 0.25}, allowed: true, limit: 1, remaining: 0},
		},
	},
	{
		name: "an exact estimate settled after midnight is charged to the new day", start: "2026-11-26T23:59:50Z",
		l: Limits{TPM: 1000, BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{Tokens: 100, CostUSD: 0.4}, allowed: true, limit: 1, remaining: 0.6},
			{advance: 20 * time.Second, est: Usage{Tokens: 100, CostUSD: 0.4}, settle: &Usage{Tokens: 100, CostUSD: 0.4}},
			{est: Usage{CostUSD: 0.7}, reason: "budget", limit: 1, remaining: 0.6, retryAfter: 24*time.Hour - 10*time.Second},
			// The same, within one day: nothing changes.
			{est: Usage{Tokens: 100, CostUSD: 0.4}, allowed: true, limit: 1, remaining: 0.2},
			{est: Usage{Tokens: 100, CostUSD: 0.4}, settle: &Usage{Tokens: 100, CostUSD: 0.4}},
			{est: Usage{CostUSD: 0.2}, allowed: true, limit: 1, remaining: 0},
		},
	},
	{
		name: "a failed request settles with zero", start: "2026-11-26T10:00:00Z",
		l: Limits{TPM: 100, BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{Tokens: 100, CostUSD: 1}, allowed: true, remaining: 0, limit: 100},
			{est: Usage{Tokens: 1, CostUSD: 0.01}, reason: "budget", retryAfter: 14 * time.Hour}, // tpm: 0.6 s
			{est: Usage{Tokens: 100, CostUSD: 1}, settle: &Usage{}},
			{est: Usage{Tokens: 100, CostUSD: 1}, allowed: true},
		},
	},
	{
		name: "the tightest limit fills Limit and Remaining", start: "2026-11-26T10:00:00Z",
		l: Limits{RPM: 100, TPM: 1000, BudgetUSDPerDay: 10},
		steps: []step{
			{est: Usage{Tokens: 10, CostUSD: 0.01}, allowed: true, limit: 100, remaining: 99},
			{est: Usage{Tokens: 500, CostUSD: 0.01}, allowed: true, limit: 1000, remaining: 490},
			{est: Usage{Tokens: 1, CostUSD: 9}, allowed: true, limit: 10, remaining: 0.98},
		},
	},
	{
		name: "negative, NaN and infinite numbers are no limit and no usage", start: "2026-11-26T10:00:00Z",
		l: Limits{RPM: -1, TPM: -5, BudgetUSDPerDay: math.NaN()},
		steps: []step{
			{times: 100, est: Usage{Tokens: -5, CostUSD: math.Inf(1)}, allowed: true},
			{est: Usage{Tokens: -5, CostUSD: math.NaN()}, settle: &Usage{Tokens: -1, CostUSD: math.Inf(-1)}},
		},
	},
	{
		name: "an infinite or NaN estimate is no estimate", start: "2026-11-26T10:00:00Z",
		l: Limits{TPM: 10, BudgetUSDPerDay: 1},
		steps: []step{
			{est: Usage{Tokens: -5, CostUSD: math.Inf(1)}, allowed: true, limit: 10, remaining: 10},
			{est: Usage{Tokens: -5, CostUSD: math.NaN()}, allowed: true, limit: 10, remaining: 10},
			{est: Usage{CostUSD: math.NaN()}, settle: &Usage{Tokens: 10, CostUSD: 1}},
			{reason: "budget", retryAfter: 14 * time.Hour, limit: 1, remaining: 0},
		},
	},
	{
		name: "no limits: everything passes", start: "2026-11-26T10:00:00Z",
		steps: []step{
			{times: 1000, est: Usage{Tokens: 1e6, CostUSD: 1e3}, allowed: true},
		},
	},
}

func TestScenarios(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					clk := newClock(sc.start)
					lim := im.make(t, clk.Now)
					defer lim.Close()
					ctx := context.Background()
					for i, s := range sc.steps {
						clk.Advance(s.advance)
						key := s.key
						if key == "" {
							key = "k"
						}
						if s.settle != nil {
							if err := lim.Settle(ctx, key, sc.l, s.est, *s.settle); err != nil {
								t.Fatalf("step %d: Settle: %v", i, err)
							}
							continue
						}
						for n := range max(s.times, 1) {
							d, err := lim.Admit(ctx, key, sc.l, s.est)
							if err != nil {
								t.Fatalf("step %d: Admit: %v", i, err)
							}
							checkDecision(t, i, n, s, d)
						}
					}
				})
			}
		})
	}
}

func checkDecision(t *testing.T, i, n int, s step, d Decision) {
	t.Helper()
	if d.Allowed != s.allowed {
		t.Fatalf("step %d (#%d): Allowed = %v (%+v), want %v", i, n+1, d.Allowed, d, s.allowed)
	}
	if !s.allowed {
		if d.Reason != s.reason {
			t.Errorf("step %d: Reason = %q, want %q", i, d.Reason, s.reason)
		}
		if d.RetryAfter != s.retryAfter {
			t.Errorf("step %d: RetryAfter = %v, want %v", i, d.RetryAfter, s.retryAfter)
		}
	} else if d.Reason != "" || d.RetryAfter != 0 {
		t.Errorf("step %d: admitted with Reason %q RetryAfter %v", i, d.Reason, d.RetryAfter)
	}
	if s.limit != 0 && (d.Limit != s.limit || math.Abs(d.Remaining-s.remaining) > 1e-9) {
		t.Errorf("step %d: Limit, Remaining = %v, %v; want %v, %v", i, d.Limit, d.Remaining, s.limit, s.remaining)
	}
}

// Settle runs even when the request's context has ended: the client going away must not
// leave a reservation behind.
func TestSettleAfterCancel(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newClock("2026-11-26T10:00:00Z")
			lim := im.make(t, clk.Now)
			l := Limits{TPM: 100, BudgetUSDPerDay: 1}
			est := Usage{Tokens: 100, CostUSD: 1}
			ctx, cancel := context.WithCancel(context.Background())
			if d, err := lim.Admit(ctx, "k", l, est); err != nil || !d.Allowed {
				t.Fatalf("%+v, %v", d, err)
			}
			cancel()
			if err := lim.Settle(ctx, "k", l, est, Usage{Tokens: 50, CostUSD: 0.5}); err != nil {
				t.Fatalf("Settle after the request's context ended: %v", err)
			}
			d, err := lim.Admit(context.Background(), "k", l, Usage{Tokens: 50, CostUSD: 0.5})
			if err != nil || !d.Allowed {
				t.Errorf("after settling half: %+v, %v; want admitted", d, err)
			}
		})
	}
}

// 100 goroutines against an rpm of 10 admit exactly 10; against a budget of 1 USD with
// estimates of 0.1 USD, exactly 10.
func TestConcurrentAdmits(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				l    Limits
				est  Usage
			}{
				{"rpm", Limits{RPM: 10}, Usage{}},
				{"tpm", Limits{TPM: 1000}, Usage{Tokens: 100}},
				{"budget", Limits{BudgetUSDPerDay: 1}, Usage{CostUSD: 0.1}},
			} {
				t.Run(c.name, func(t *testing.T) {
					clk := newClock("2026-11-26T10:00:00Z")
					lim := im.make(t, clk.Now)
					if n := concurrentAdmits(t, []Limiter{lim}, c.l, c.est); n != 10 {
						t.Errorf("%d of 100 concurrent requests admitted, want exactly 10", n)
					}
				})
			}
		})
	}
}

func concurrentAdmits(t *testing.T, lims []Limiter, l Limits, est Usage) int {
	t.Helper()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 100 {
		wg.Go(func() {
			<-start
			d, err := lims[i%len(lims)].Admit(context.Background(), "k", l, est)
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				admitted.Add(1)
			} else if d.RetryAfter < time.Second {
				t.Errorf("refused with RetryAfter %v", d.RetryAfter)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(admitted.Load())
}

// Concurrent Admits and Settles: whatever the interleaving, the money admitted never goes
// over the budget by more than the estimates in flight, and everything settles to the
// actual spend.
func TestConcurrentBudget(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newClock("2026-11-26T10:00:00Z")
			lim := im.make(t, clk.Now)
			l := Limits{BudgetUSDPerDay: 1}
			est, actual := Usage{CostUSD: 0.03}, Usage{CostUSD: 0.02}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					for range 10 {
						d, err := lim.Admit(context.Background(), "k", l, est)
						if err != nil {
							t.Error(err)
							return
						}
						if !d.Allowed {
							continue
						}
						admitted.Add(1)
						if err := lim.Settle(context.Background(), "k", l, est, actual); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			// Every admitted request settled at 0.02: 50 fit exactly, each also needing
			// 0.03 of room when admitted, so at least 49 and at most 50 got in.
			if n := admitted.Load(); n < 49 || n > 50 {
				t.Errorf("%d requests admitted, want 49 or 50 (1 USD at 0.02 each, 0.03 reserved)", n)
			}
			d, err := lim.Admit(context.Background(), "k", l, Usage{})
			if err != nil {
				t.Fatal(err)
			}
			spent := float64(admitted.Load()) * 0.02
			if math.Abs(d.Remaining-math.Max(1-spent, 0)) > 1e-9 {
				t.Errorf("Remaining %v after %d requests at 0.02, want %v", d.Remaining, admitted.Load(), 1-spent)
			}
		})
	}
}

// Two gateway instances on one Redis share one key's limits.
func TestRedisSharedByInstances(t *testing.T) {
	rdb1, rdb2 := testRedis(t), testRedis(t)
	prefix := freshPrefix(t)
	clk := newClock("2026-11-26T10:00:00Z")
	a, b := NewRedis(rdb1, prefix, clk.Now), NewRedis(rdb2, prefix, clk.Now)
	ctx := context.Background()
	l := Limits{RPM: 10, BudgetUSDPerDay: 1}
	for i := range 10 {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		if d, err := lim.Admit(ctx, "team-a", l, Usage{CostUSD: 0.05}); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v; want admitted", i+1, d, err)
		}
	}
	for _, lim := range []Limiter{a, b} {
		d, err := lim.Admit(ctx, "team-a", l, Usage{CostUSD: 0.05})
		if err != nil || d.Allowed || d.Reason != "rpm" {
			t.Errorf("11th request: %+v, %v; want refused by rpm on both instances", d, err)
		}
	}
	// A settles a request B admitted (Settle does not care which instance admitted).
	if err := b.Settle(ctx, "team-a", l, Usage{CostUSD: 0.05}, Usage{CostUSD: 0.5}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	d, err := a.Admit(ctx, "team-a", l, Usage{})
	if err != nil || !d.Allowed || math.Abs(d.Remaining-(1-9*0.05-0.5)) > 1e-9 {
		t.Errorf("after a minute: %+v, %v; want admitted with %v USD left", d, err, 1-9*0.05-0.5)
	}
	// And 100 concurrent requests over both instances still admit exactly 10.
	p2 := freshPrefix(t)
	c, e := NewRedis(rdb1, p2, clk.Now), NewRedis(rdb2, p2, clk.Now)
	if n := concurrentAdmits(t, []Limiter{c, e}, Limits{RPM: 10}, Usage{}); n != 10 {
		t.Errorf("two instances admitted %d of 100 concurrent requests, want exactly 10", n)
	}
}

// Keys expire: nothing the limiter writes outlives the time it matters for.
func TestRedisKeysExpire(t *testing.T) {
	rdb := testRedis(t)
	prefix := freshPrefix(t)
	clk := newClock("2026-11-26T22:00:00Z")
	lim := NewRedis(rdb, prefix, clk.Now)
	ctx := context.Background()
	ttl := func(key string) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, prefix+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// rpm 60: one request keeps the key 1 s (its TAT) + 1 s of margin.
	if _, err := lim.Admit(ctx, "rate", Limits{RPM: 60}, Usage{}); err != nil {
		t.Fatal(err)
	}
	if d := ttl("rate"); d <= time.Second || d > 2*time.Second {
		t.Errorf("rpm key TTL %v, want between 1 s and 2 s", d)
	}
	// A spent budget lives until the end of the UTC day (2 h) + 1 s.
	if _, err := lim.Admit(ctx, "money", Limits{RPM: 60, BudgetUSDPerDay: 1}, Usage{CostUSD: 0.1}); err != nil {
		t.Fatal(err)
	}
	if d := ttl("money"); d <= 2*time.Hour || d > 2*time.Hour+time.Second {
		t.Errorf("budget key TTL %v, want 2 h (to midnight UTC) + up to 1 s", d)
	}
	// A refused request writes nothing.
	if _, err := lim.Admit(ctx, "refused", Limits{TPM: 10}, Usage{Tokens: 11}); err != nil {
		t.Fatal(err)
	}
	if _, err := lim.Admit(ctx, "refused", Limits{TPM: 10}, Usage{Tokens: 11}); err != nil {
		t.Fatal(err)
	}
	if d := ttl("refused"); d <= 0 || d > 67*time.Second {
		t.Errorf("tpm key TTL %v, want at most 66 s (one oversized request's debt + 1 s)", d)
	}
	// Real time: a key really disappears.
	if _, err := lim.Admit(ctx, "short", Limits{RPM: 600}, Usage{}); err != nil { // 100 ms
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for ttl("short") != -2*time.Nanosecond && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n, _ := rdb.Exists(ctx, prefix+"short").Result(); n != 0 {
		t.Errorf("the key of an idle rpm limit still exists after 3 s")
	}
}

// Without a clock the Redis limiter uses the server's, the same for every instance.
func TestRedisServerClock(t *testing.T) {
	rdb := testRedis(t)
	lim := NewRedis(rdb, freshPrefix(t), nil)
	ctx := context.Background()
	for i := range 3 {
		if d, err := lim.Admit(ctx, "k", Limits{RPM: 3}, Usage{}); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v", i+1, d, err)
		}
	}
	d, err := lim.Admit(ctx, "k", Limits{RPM: 3}, Usage{})
	if err != nil || d.Allowed || d.RetryAfter < 19*time.Second || d.RetryAfter > 20*time.Second {
		t.Errorf("4th request: %+v, %v; want refused, retry in 19-20 s", d, err)
	}
	// Budget across Admit and Settle on the server's clock.
	l := Limits{BudgetUSDPerDay: 1}
	if d, err := lim.Admit(ctx, "b", l, Usage{CostUSD: 0.6}); err != nil || !d.Allowed {
		t.Fatalf("%+v, %v", d, err)
	}
	if err := lim.Settle(ctx, "b", l, Usage{CostUSD: 0.6}, Usage{CostUSD: 0.2}); err != nil {
		t.Fatal(err)
	}
	if d, err := lim.Admit(ctx, "b", l, Usage{CostUSD: 0.8}); err != nil || !d.Allowed || math.Abs(d.Remaining) > 1e-9 {
		t.Errorf("after settling 0.6 as 0.2, an estimate of 0.8: %+v, %v; want admitted with 0 left", d, err)
	}
}

// A Redis outage is an error: the gateway decides whether to fail open or closed.
func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	lim := NewRedis(rdb, "", nil)
	start := time.Now()
	_, err := lim.Admit(context.Background(), "k", Limits{RPM: 1}, Usage{})
	if err == nil {
		t.Fatal("Admit with Redis down: no error")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("failing took %v", el)
	}
	if !strings.Contains(err.Error(), "rate limits in Redis") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not say what failed", err)
	}
	if err := lim.Settle(context.Background(), "k", Limits{TPM: 1}, Usage{}, Usage{Tokens: 1}); err == nil {
		t.Error("Settle with Redis down: no error")
	}
	// No limits: nothing to ask Redis, nothing to fail.
	if d, err := lim.Admit(context.Background(), "k", Limits{}, Usage{}); err != nil || !d.Allowed {
		t.Errorf("no limits with Redis down: %+v, %v; want admitted", d, err)
	}
}

// The memory limiter forgets keys whose counts have run out.
func TestMemorySweep(t *testing.T) {
	clk := newClock("2026-11-26T10:00:00Z")
	m := NewMemory(clk.Now).(*memory)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := m.Admit(ctx, k, Limits{RPM: 60}, Usage{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Admit(ctx, "paid", Limits{BudgetUSDPerDay: 1}, Usage{CostUSD: 0.5}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := m.Admit(ctx, "d", Limits{RPM: 60}, Usage{}); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	n := len(m.keys)
	_, paid := m.keys["paid"]
	m.mu.Unlock()
	if n != 2 || !paid {
		t.Errorf("after the sweep %d keys (paid kept: %v), want d and paid", n, paid)
	}
}

func BenchmarkAdmitSettleSerial(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			lim := im.make(b, nil)
			l := Limits{RPM: 1e9, TPM: 1e12, BudgetUSDPerDay: 1e6}
			est, actual := Usage{Tokens: 500, CostUSD: 0.001}, Usage{Tokens: 300, CostUSD: 0.0006}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if d, err := lim.Admit(ctx, "bench", l, est); err != nil || !d.Allowed {
					b.Fatalf("%+v, %v", d, err)
				}
				if err := lim.Settle(ctx, "bench", l, est, actual); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAdmitSettle(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			lim := im.make(b, nil)
			l := Limits{RPM: 1e9, TPM: 1e12, BudgetUSDPerDay: 1e6}
			est, actual := Usage{Tokens: 500, CostUSD: 0.001}, Usage{Tokens: 300, CostUSD: 0.0006}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d, err := lim.Admit(ctx, "bench", l, est)
					if err != nil || !d.Allowed {
						b.Fatalf("%+v, %v", d, err)
					}
					if err := lim.Settle(ctx, "bench", l, est, actual); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// The ledger of budget reservations forgets the ones that were never settled.
func TestLedgerForgetsOldReservations(t *testing.T) {
	var g ledger
	g.add("lost", 0.5, 100) // admitted on day 100, never settled
	for i := range 2048 {
		g.add("k", 0.1, 102)
		if g.take("k", 0.1) != 102 {
			t.Fatalf("take %d: wrong day", i)
		}
	}
	if d := g.take("lost", 0.5); d != -1 {
		t.Errorf("a reservation two days old is still there (day %v)", d)
	}
	g.add("k", 0.1, 101)
	g.add("k", 0.1, 102)
	for range 1024 {
		g.add("x", 0.2, 102)
	}
	if d := g.take("k", 0.1); d != 102 {
		t.Errorf("take = %v, want today's reservation first", d)
	}
	if d := g.take("k", 0.1); d != 101 {
		t.Errorf("take = %v, want yesterday's reservation, kept", d)
	}
}

// Every limit a key has is described in the Decision, for the x-ratelimit-* headers.
func TestDecisionQuotas(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			clk := newClock("2026-11-26T10:00:00Z")
			lim := im.make(t, clk.Now)
			l := Limits{RPM: 10, TPM: 1000}
			d, err := lim.Admit(context.Background(), "k", l, Usage{Tokens: 100})
			if err != nil || !d.Allowed {
				t.Fatalf("Admit = %+v, %v", d, err)
			}
			if d.Requests != (Quota{Limit: 10, Remaining: 9}) || d.Tokens != (Quota{Limit: 1000, Remaining: 900}) || d.Budget != (Quota{}) {
				t.Errorf("quotas = %+v %+v %+v; want 10/9, 1000/900 and none", d.Requests, d.Tokens, d.Budget)
			}
			d, _ = lim.Admit(context.Background(), "k", l, Usage{Tokens: 950})
			if d.Allowed || d.Tokens != (Quota{Limit: 1000, Remaining: 900}) || d.Requests.Limit != 10 {
				t.Errorf("refusal quotas = %+v %+v; want tokens 1000/900 left before it", d.Requests, d.Tokens)
			}
		})
	}
}
