package limit

import (
	"context"
	"sync"
	"time"
)

// memory keeps the counts in this process: limits hold per gateway instance.
type memory struct {
	now    func() time.Time
	mu     sync.Mutex
	keys   map[string]*counts
	swept  float64 // when idle keys were last dropped
	ledger ledger
}

// NewMemory returns a Limiter that keeps its counts in memory, for a single gateway
// instance. now is the clock (nil means time.Now); tests pass a fake one.
func NewMemory(now func() time.Time) Limiter {
	if now == nil {
		now = time.Now
	}
	return &memory{now: now, keys: make(map[string]*counts)}
}

func (m *memory) Admit(ctx context.Context, key string, l Limits, est Usage) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	l = clean(l, &est)
	if l.RPM == 0 && l.TPM == 0 && l.BudgetUSDPerDay == 0 {
		return Decision{Allowed: true}, nil
	}
	now := micros(m.now())
	m.mu.Lock()
	m.sweep(now)
	c := m.keys[key]
	if c == nil {
		c = &counts{}
		m.keys[key] = c
	}
	dims, ok := admitCounts(c, now, l, est)
	day := c.day
	m.mu.Unlock()
	if ok && l.BudgetUSDPerDay > 0 {
		m.ledger.add(key, est.CostUSD, day)
	}
	return decide(dims, ok), nil
}

func (m *memory) Settle(ctx context.Context, key string, l Limits, est, actual Usage) error {
	l = clean(l, &est, &actual)
	if l.TPM <= 0 && l.BudgetUSDPerDay <= 0 {
		return nil
	}
	admDay := -1.0
	if l.BudgetUSDPerDay > 0 {
		admDay = m.ledger.take(key, est.CostUSD)
	}
	now := micros(m.now())
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.keys[key]
	if c == nil {
		c = &counts{}
		m.keys[key] = c
	}
	settleCounts(c, now, l, est, actual, admDay)
	return nil
}

// sweep drops, at most once a minute, the keys whose counts have all run out, so that the
// map holds only keys seen within the last minute or with spend today. m.mu is held.
func (m *memory) sweep(now float64) {
	if now-m.swept < windowUS {
		return
	}
	m.swept = now
	for k, c := range m.keys {
		if c.idle(now) {
			delete(m.keys, k)
		}
	}
}

func (m *memory) Close() error { return nil }
