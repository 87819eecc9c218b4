package limit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// flaky is a limiter whose store can be switched off, as Redis can go away.
type flaky struct {
	Limiter
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flaky) Admit(ctx context.Context, key string, l Limits, est Usage) (Decision, error) {
	if f.down.Load() {
		return Decision{}, errDown
	}
	return f.Limiter.Admit(ctx, key, l, est)
}

func (f *flaky) Settle(ctx context.Context, key string, l Limits, est, actual Usage) error {
	if f.down.Load() {
		return errDown
	}
	return f.Limiter.Settle(ctx, key, l, est, actual)
}

func TestFailover(t *testing.T) {
	clk := newClock("2026-11-26T10:00:00Z")
	primary := &flaky{Limiter: NewMemory(clk.Now)}
	fallback := NewMemory(clk.Now)
	var errs atomic.Int64
	lim := NewFailover(primary, fallback, func(err error) {
		if !errors.Is(err, errDown) {
			t.Errorf("onError(%v)", err)
		}
		errs.Add(1)
	})
	ctx := context.Background()
	l := Limits{RPM: 2, TPM: 1000}
	admit := func(want bool, tokens int) {
		t.Helper()
		d, err := lim.Admit(ctx, "k", l, Usage{Tokens: tokens})
		if err != nil || d.Allowed != want {
			t.Fatalf("Admit: %+v, %v; want allowed %v", d, err, want)
		}
	}
	admit(true, 100) // primary: 1 of 2
	primary.down.Store(true)
	admit(true, 400)  // fallback: 1 of 2
	admit(true, 400)  // fallback: 2 of 2
	admit(false, 100) // fallback: refused
	if n := errs.Load(); n != 3 {
		t.Errorf("onError called %d times, want 3", n)
	}
	primary.down.Store(false)
	// The primary's count went on where it was.
	admit(true, 100)
	admit(false, 100)
	// Requests the fallback admitted settle on the fallback, even with the primary back.
	if err := lim.Settle(ctx, "k", l, Usage{Tokens: 400}, Usage{Tokens: 0}); err != nil {
		t.Fatal(err)
	}
	if err := lim.Settle(ctx, "k", l, Usage{Tokens: 400}, Usage{Tokens: 0}); err != nil {
		t.Fatal(err)
	}
	d, _ := fallback.Admit(ctx, "k", Limits{TPM: 1000}, Usage{})
	if d.Remaining != 1000 {
		t.Errorf("fallback tpm remaining %v after settling both of its requests at 0, want 1000", d.Remaining)
	}
	clk.Advance(time.Minute)
	// Requests the primary admitted settle on the primary.
	if err := lim.Settle(ctx, "k", l, Usage{Tokens: 100}, Usage{Tokens: 600}); err != nil {
		t.Fatal(err)
	}
	d, _ = primary.Admit(ctx, "k", Limits{TPM: 1000}, Usage{})
	if d.Remaining != 500 {
		t.Errorf("primary tpm remaining %v, want 500 (a minute later, a request settled 500 tokens over its estimate)", d.Remaining)
	}
}

// With Redis really unreachable, requests are limited per instance and never fail.
func TestFailoverRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	var errs atomic.Int64
	lim := NewFailover(NewRedis(rdb, "", nil), NewMemory(nil), func(error) { errs.Add(1) })
	defer lim.Close()
	for i := range 4 {
		d, err := lim.Admit(context.Background(), "k", Limits{RPM: 3}, Usage{})
		if err != nil || d.Allowed != (i < 3) {
			t.Errorf("request %d: %+v, %v; want allowed %v", i+1, d, err, i < 3)
		}
	}
	if errs.Load() != 4 {
		t.Errorf("onError called %d times, want 4", errs.Load())
	}
}
