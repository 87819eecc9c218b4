package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimiter limits login attempts per account and per client address, each with its own
// token bucket, so that guessing one account's password from many addresses and trying many
// accounts from one address are both slowed. It is safe for concurrent use. Its state is
// per process: behind a load balancer each instance limits on its own, which multiplies the
// allowance by the number of instances but still bounds it.
type LoginLimiter struct {
	every time.Duration // one attempt regained per every
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// maxBuckets bounds the limiter's memory; beyond it, full buckets (which hold no
// information) are dropped.
const maxBuckets = 10000

// NewLoginLimiter allows burst attempts at once and one more per every, per account and per
// address; now is the clock (nil means time.Now).
func NewLoginLimiter(burst int, every time.Duration, now func() time.Time) *LoginLimiter {
	if now == nil {
		now = time.Now
	}
	return &LoginLimiter{every: every, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// Allow takes one attempt from both the account's and the address's bucket. When either
// is empty it takes nothing and returns false with how long until an attempt is allowed.
func (l *LoginLimiter) Allow(account, addr string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	a, b := l.bucket("account:"+account, now), l.bucket("addr:"+addr, now)
	ra, rb := a.ReserveN(now, 1), b.ReserveN(now, 1)
	wait := max(ra.DelayFrom(now), rb.DelayFrom(now))
	if wait > 0 {
		ra.CancelAt(now)
		rb.CancelAt(now)
		// Round up: a client that waits exactly Retry-After seconds must then succeed.
		return false, wait.Truncate(time.Second) + time.Second
	}
	return true, 0
}

// bucket returns the bucket of key, making it (and making room for it) if needed.
func (l *LoginLimiter) bucket(key string, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[key]; ok {
		return b
	}
	if len(l.buckets) >= maxBuckets {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	b := rate.NewLimiter(rate.Every(l.every), l.burst)
	l.buckets[key] = b
	return b
}
