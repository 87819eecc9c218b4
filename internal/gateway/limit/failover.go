package limit

import (
	"context"
	"errors"
	"sync"
)

// failover asks its primary limiter and, when that fails, its fallback.
type failover struct {
	primary, fallback Limiter
	onError           func(error)
	mu                sync.Mutex
	// inFallback counts the requests the fallback admitted and that have not settled yet,
	// so that their Settle goes to the limiter that holds their reservation. Requests with
	// the same key and estimates are interchangeable, as in ledger.
	inFallback map[failoverKey]int
}

type failoverKey struct {
	key    string
	tokens int
	cost   float64
}

// NewFailover returns a Limiter that asks primary (Redis, shared by every instance) and,
// when primary returns an error (Redis unreachable), calls onError (for a log line and a
// metric; it may be nil) and asks fallback (memory, this instance only) instead. It fails
// open to per-instance limits rather than to no limits, or to refusing every request.
// Close closes both.
func NewFailover(primary, fallback Limiter, onError func(error)) Limiter {
	if onError == nil {
		onError = func(error) {}
	}
	return &failover{primary: primary, fallback: fallback, onError: onError, inFallback: make(map[failoverKey]int)}
}

func (f *failover) Admit(ctx context.Context, key string, l Limits, est Usage) (Decision, error) {
	d, err := f.primary.Admit(ctx, key, l, est)
	if err == nil || ctx.Err() != nil {
		return d, err
	}
	f.onError(err)
	d, err = f.fallback.Admit(ctx, key, l, est)
	if err == nil && d.Allowed {
		f.mu.Lock()
		f.inFallback[failoverKey{key, est.Tokens, est.CostUSD}]++
		f.mu.Unlock()
	}
	return d, err
}

func (f *failover) Settle(ctx context.Context, key string, l Limits, est, actual Usage) error {
	k := failoverKey{key, est.Tokens, est.CostUSD}
	f.mu.Lock()
	n := f.inFallback[k]
	if n == 1 {
		delete(f.inFallback, k)
	} else if n > 1 {
		f.inFallback[k] = n - 1
	}
	f.mu.Unlock()
	if n > 0 {
		return f.fallback.Settle(ctx, key, l, est, actual)
	}
	err := f.primary.Settle(ctx, key, l, est, actual)
	if err != nil {
		// The primary keeps the reservation (it errs on the side of the limit); the usage
		// still counts on this instance.
		f.onError(err)
		return f.fallback.Settle(ctx, key, l, Usage{}, actual)
	}
	return err
}

func (f *failover) Close() error {
	return errors.Join(f.primary.Close(), f.fallback.Close())
}
