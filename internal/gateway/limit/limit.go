// Package limit enforces the gateway's per-key limits: requests per minute, tokens per
// minute and a daily budget in USD. Two implementations keep the counts: in memory, for one
// gateway instance, and in Redis, shared by every instance that points at the same Redis,
// so that a limit holds across replicas.
package limit

import (
	"context"
	"time"
)

// Limits are one key's limits; a zero field means no limit of that kind.
type Limits struct {
	RPM             int     // requests per minute
	TPM             int     // tokens (prompt + completion) per minute
	BudgetUSDPerDay float64 // spend per UTC day
}

// Usage is what a request uses, estimated before it is sent or measured after.
type Usage struct {
	Tokens  int
	CostUSD float64
}

// Decision is Admit's answer.
type Decision struct {
	Allowed bool
	// Reason names the limit that refused the request: "rpm", "tpm" or "budget".
	Reason string
	// RetryAfter is when the request would be allowed again (the client's Retry-After).
	RetryAfter time.Duration
	// Limit and Remaining describe the refusing limit (or, when allowed, the tightest),
	// for the x-ratelimit-* response headers.
	Limit, Remaining float64
	// Requests, Tokens and Budget describe each of the three limits (a zero Limit: the key
	// has no such limit), for the x-ratelimit-*-requests and -tokens headers OpenAI sends.
	// Remaining is after this request when it was admitted, before it when refused.
	Requests, Tokens, Budget Quota
}

// Quota is one limit and what is left of it.
type Quota struct{ Limit, Remaining float64 }

// Limiter counts requests, tokens and spend per key. It is safe for concurrent use.
type Limiter interface {
	// Admit checks the key's limits for one more request that is estimated to use est, and
	// when allowed, counts the request and reserves est, so that concurrent requests cannot
	// all pass a limit that only one of them fits under.
	Admit(ctx context.Context, key string, l Limits, est Usage) (Decision, error)
	// Settle replaces a request's reservation with what it really used (tokens from the
	// upstream's usage, cost from the price table); a failed request settles with zero.
	Settle(ctx context.Context, key string, l Limits, est, actual Usage) error
	// Close releases the limiter's resources.
	Close() error
}
