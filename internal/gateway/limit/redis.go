package limit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed script.lua
var scriptSource string

// script is immutable: go-redis runs it by its SHA and loads it on the first NOSCRIPT.
var script = redis.NewScript(scriptSource)

// DefaultRedisPrefix starts every Redis key of the limiter when NewRedis is given "".
const DefaultRedisPrefix = "plumb:limit:"

// redisLimiter keeps the counts in Redis, one hash per key, checked and updated by one Lua
// script per call, so that every gateway instance on the same Redis shares each key's
// limits and no two instances can both take the last unit of one.
type redisLimiter struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time // nil: Redis's own clock
	ledger ledger
}

// NewRedis returns a Limiter that keeps its counts in Redis under prefix (DefaultRedisPrefix
// when empty), shared by every gateway instance that uses the same Redis and prefix. now is
// the clock; nil, the recommended setting for several instances, uses the Redis server's
// clock (TIME) so that instances whose clocks differ still agree. Tests pass a fake clock.
// The caller owns rdb: Close does not close it.
func NewRedis(rdb *redis.Client, prefix string, now func() time.Time) Limiter {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &redisLimiter{rdb: rdb, prefix: prefix, now: now}
}

func (r *redisLimiter) clock() string {
	if r.now == nil {
		return ""
	}
	return strconv.FormatInt(r.now().UnixMicro(), 10)
}

func (r *redisLimiter) Admit(ctx context.Context, key string, l Limits, est Usage) (Decision, error) {
	l = clean(l, &est)
	if l.RPM <= 0 && l.TPM <= 0 && l.BudgetUSDPerDay <= 0 {
		return Decision{Allowed: true}, nil
	}
	res, err := script.Run(ctx, r.rdb, []string{r.prefix + key}, r.clock(), "admit",
		max(l.RPM, 0), max(l.TPM, 0), fnum(toNano(l.BudgetUSDPerDay)),
		max(est.Tokens, 0), fnum(toNano(est.CostUSD))).StringSlice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limits in Redis: %w", err)
	}
	if len(res) != 8 {
		return Decision{}, fmt.Errorf("rate limits in Redis: the script answered %d values, want 8", len(res))
	}
	f := make([]float64, len(res))
	for i, s := range res {
		if f[i], err = strconv.ParseFloat(s, 64); err != nil {
			return Decision{}, fmt.Errorf("rate limits in Redis: the script answered %q", s)
		}
	}
	ok := f[0] == 1
	var dims [3]dim
	on := [3]bool{l.RPM > 0, l.TPM > 0, l.BudgetUSDPerDay > 0}
	lim := [3]float64{float64(l.RPM), float64(l.TPM), l.BudgetUSDPerDay}
	for i := range dims {
		retry := f[3+2*i]
		dims[i] = dim{on: on[i], limit: lim[i], remaining: f[2+2*i], refused: retry >= 0, retryUS: max(retry, 0)}
	}
	if ok && l.BudgetUSDPerDay > 0 {
		r.ledger.add(key, est.CostUSD, f[1])
	}
	return decide(dims, ok), nil
}

// Settle is bookkeeping that must happen even when the request's context has ended (the
// client went away mid-stream): it ignores ctx's cancellation and keeps its values; the
// Redis client's own timeouts bound it.
func (r *redisLimiter) Settle(ctx context.Context, key string, l Limits, est, actual Usage) error {
	ctx = context.WithoutCancel(ctx)
	l = clean(l, &est, &actual)
	if l.TPM <= 0 && l.BudgetUSDPerDay <= 0 {
		return nil
	}
	admDay := -1.0
	if l.BudgetUSDPerDay > 0 {
		admDay = r.ledger.take(key, est.CostUSD)
	}
	if nothingToSettle(l, est, actual, admDay, r.now) {
		return nil // the reservation was exact: save the round trip
	}
	err := script.Run(ctx, r.rdb, []string{r.prefix + key}, r.clock(), "settle",
		max(l.RPM, 0), max(l.TPM, 0), fnum(toNano(l.BudgetUSDPerDay)),
		max(est.Tokens, 0), max(actual.Tokens, 0),
		fnum(toNano(est.CostUSD)), fnum(toNano(actual.CostUSD)), fnum(admDay)).Err()
	if err != nil {
		return fmt.Errorf("settling rate limits in Redis: %w", err)
	}
	return nil
}

func (r *redisLimiter) Close() error { return nil }

func fnum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
