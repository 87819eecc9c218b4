package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for Config's zero values, in one place.
const (
	defaultTimeout     = 60 * time.Second
	defaultMaxRetries  = 3
	defaultRetryBudget = 2 * time.Minute

	backoffBase = 500 * time.Millisecond
	backoffCap  = 30 * time.Second
	// unreachableRetryDelay is the pause before the single retry an unreachable host gets:
	// long enough to ride out a server that is just starting, short enough to fail fast.
	unreachableRetryDelay = 250 * time.Millisecond

	maxBodyBytes  = 64 << 20 // a model answer larger than this is not an answer
	maxErrorBytes = 64 << 10
)

// NewHTTPClient returns a client tuned for many concurrent calls to a few hosts: keep-alive,
// a large idle pool per host, bounded dial and TLS handshake times. Callers that build many
// providers should make one and pass it in Options.HTTPClient so that they share connections.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// retryPolicy is Config's retry settings with defaults applied.
type retryPolicy struct {
	timeout    time.Duration
	maxRetries int
	budget     time.Duration
}

func policyOf(cfg *Config) retryPolicy {
	p := retryPolicy{timeout: cfg.Timeout, maxRetries: cfg.MaxRetries, budget: cfg.RetryBudget}
	if p.timeout <= 0 {
		p.timeout = defaultTimeout
	}
	if p.maxRetries == 0 {
		p.maxRetries = defaultMaxRetries
	}
	if p.maxRetries < 0 { // an explicit "no retries"
		p.maxRetries = 0
	}
	if p.budget <= 0 {
		p.budget = defaultRetryBudget
	}
	return p
}

// httpCall is one logical request, sent once per attempt.
type httpCall struct {
	method  string
	url     string
	header  http.Header
	body    []byte
	hadKey  bool
	secrets []string // values to scrub from any message
}

// transport sends requests for one provider with timeouts and retries.
type transport struct {
	site   callSite
	client *http.Client
	policy retryPolicy
}

// do sends c until it succeeds, fails for good or runs out of attempts or budget. handle reads
// a 2xx answer; it runs under the attempt's deadline so that a stalled stream times out too.
// The returned latency is the wall time of the successful attempt.
func (t *transport) do(ctx context.Context, c *httpCall, handle func(*http.Response) error) (time.Duration, error) {
	start := time.Now()
	retries := 0
	for {
		timeout := t.policy.timeout
		if retries > 0 {
			timeout = min(timeout, t.policy.budget-time.Since(start))
		}
		lat, err := t.attempt(ctx, c, timeout, handle)
		if err == nil {
			return lat, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var e *Error
		if !errors.As(err, &e) {
			return 0, err
		}
		limit := t.policy.maxRetries
		if e.unreachable {
			limit = min(limit, 1)
		}
		if !e.retry || retries >= limit {
			if retries > 0 {
				e.Msg += " (gave up after " + strconv.Itoa(retries+1) + " attempts)"
			}
			return 0, e
		}
		wait := backoff(retries)
		switch {
		case e.unreachable:
			wait = unreachableRetryDelay
		case e.RetryAfter > 0:
			wait = e.RetryAfter
		}
		if time.Since(start)+wait >= t.policy.budget {
			if e.RetryAfter > 0 {
				e.Msg += " (the server asked to wait " + e.RetryAfter.String() + ", beyond the retry budget)"
			} else {
				e.Msg += " (retry budget of " + t.policy.budget.String() + " spent after " + strconv.Itoa(retries+1) + " attempts)"
			}
			return 0, e
		}
		if err := sleep(ctx, wait); err != nil {
			return 0, err
		}
		retries++
	}
}

// attempt sends c once under its own deadline. Every error it returns is an *Error.
func (t *transport) attempt(ctx context.Context, c *httpCall, timeout time.Duration, handle func(*http.Response) error) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		return 0, &Error{Kind: KindClient, Provider: t.site.label, Msg: scrub("cannot build the request: "+innermost(err), c.secrets)}
	}
	req.Header = c.header.Clone()
	began := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, t.site.transportError(err, actx, c.secrets)
	}
	defer func() {
		// Drain a little so that the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return 0, t.site.statusError(resp.StatusCode, body, retryAfter(resp.Header, time.Now()), c.hadKey, c.secrets)
	}
	if err := handle(resp); err != nil {
		return 0, t.site.transportError(err, actx, c.secrets)
	}
	return time.Since(began), nil
}

// backoff is exponential backoff with full jitter: a uniform wait in [0, min(cap, base·2^n)].
func backoff(n int) time.Duration {
	ceiling := backoffCap
	if n < 16 {
		ceiling = min(backoffCap, backoffBase<<n)
	}
	return rand.N(ceiling + 1)
}

// retryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endpoint joins a base URL and a path, keeping the base's query string (Azure's api-version).
// A base URL without a path gets "/v1", the convention of every OpenAI-compatible server and
// of Anthropic's API.
func endpoint(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", &Error{Kind: KindClient, Msg: "base URL " + strconv.Quote(publicURL(base)) + " is not an http(s) URL"}
	}
	p := strings.TrimRight(u.Path, "/")
	if p == "" {
		p = "/v1"
	}
	u.Path = p + path
	u.RawPath = ""
	return u.String(), nil
}

// isLocal reports whether a base URL points at this machine or a private network, where
// servers such as Ollama, vLLM and llama.cpp run without an API key.
func isLocal(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host != "" && !strings.Contains(host, ".") // a bare name such as "ollama" in docker compose
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
}
