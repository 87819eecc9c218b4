package gateway

import (
	"sync"
	"time"
)

// breaker is one target's circuit breaker. Closed, it lets every call through and counts
// consecutive failures; after `failures` of them it opens and refuses calls for the
// cool-down; then it lets one probe through (half-open): a success closes it, a failure
// opens it for another cool-down.
type breaker struct {
	failures int
	cooldown time.Duration

	mu       sync.Mutex
	state    breakerState
	count    int       // consecutive failures while closed
	openedAt time.Time // when it last opened
}

type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerProbing // half-open with its one probe in flight
)

// allow reports whether a call may go to the target now; when not, wait is how long until
// it may probe.
func (b *breaker) allow(now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return true, 0
	case breakerOpen:
		if until := b.openedAt.Add(b.cooldown); now.Before(until) {
			return false, until.Sub(now)
		}
		b.state = breakerProbing
		return true, 0
	}
	// A probe is in flight: wait for its outcome. A probe that never reports back (the
	// client went away) is given up after one more cool-down.
	if until := b.openedAt.Add(2 * b.cooldown); now.Before(until) {
		return false, until.Sub(now)
	}
	b.openedAt = now.Add(-b.cooldown)
	return true, 0
}

// success records a call that worked: the breaker closes.
func (b *breaker) success() {
	b.mu.Lock()
	b.state, b.count = breakerClosed, 0
	b.mu.Unlock()
}

// failure records a call that failed; it reports whether the breaker opened because of it.
func (b *breaker) failure(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerProbing:
		b.state, b.openedAt = breakerOpen, now
		return true
	case breakerClosed:
		b.count++
		if b.failures > 0 && b.count >= b.failures {
			b.state, b.openedAt, b.count = breakerOpen, now, 0
			return true
		}
	}
	return false
}

// open reports whether the breaker currently refuses calls (for the metrics gauge).
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != breakerClosed
}
